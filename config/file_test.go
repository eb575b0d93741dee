package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoadFileProblems(t *testing.T) {
	tests := []struct {
		file string
		want []string // every problem, in order
	}{
		{"testdata/unknown_key.yml", []string{
			`Unknown key "wokers" in config file "testdata/unknown_key.yml" (line 2); did you mean "workers"?`,
		}},
		{"testdata/bad_values.yml", []string{
			`workers in config file "testdata/bad_values.yml" (line 1) is not a whole number; got "many".`,
			`resync_interval in config file "testdata/bad_values.yml" (line 2) needs a unit, such as "30s" or "15m"; got "30".`,
			`approval_ttl in config file "testdata/bad_values.yml" (line 3) is not a duration such as "30s" or "15m"; got "soon".`,
			`state_dir in config file "testdata/bad_values.yml" (line 4) must be a single value, not a list or mapping.`,
		}},
		{"testdata/duplicate.yml", []string{
			`workers is set twice in config file "testdata/duplicate.yml" (lines 1 and 3); keep one.`,
		}},
		{"testdata/not_mapping.yml", []string{
			`Config file "testdata/not_mapping.yml" must be a mapping of keys to values, such as "workers: 2".`,
		}},
		{"testdata/syntax_error.yml", []string{
			`Config file "testdata/syntax_error.yml" is not valid YAML: line 2: mapping values are not allowed in this context.`,
		}},
		{"testdata/two_documents.yml", []string{
			`Config file "testdata/two_documents.yml" must hold exactly one YAML document; remove everything after the first "---".`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(Options{File: tt.file, LookupEnv: env(baseEnv())})
			wantProblems(t, err, tt.want)
		})
	}
}

func TestLoadFileAndEnvProblemsTogether(t *testing.T) {
	_, err := Load(Options{File: "testdata/unknown_key.yml", LookupEnv: env(baseEnv("DEVARCH_WORKERS", "x"))})
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 2 {
		t.Fatalf("err = %v; want both the file and the env problem", err)
	}
	if !strings.HasPrefix(err.Error(), "the configuration has 2 problems:\n  - Unknown key") {
		t.Errorf("Error() = %q; want a list", err.Error())
	}
}

func TestLoadFileEdgeCases(t *testing.T) {
	tests := []struct {
		file  string
		check func(Config) bool
	}{
		{"testdata/empty.yml", func(c Config) bool { return c.Workers == DefaultWorkers && c.LogLevel == DefaultLogLevel }},
		{"testdata/nulls.yml", func(c Config) bool { return c.Workers == DefaultWorkers && c.LogLevel == DefaultLogLevel }},
		{"testdata/anchors.yml", func(c Config) bool { return c.ApprovalTTL == 2*time.Minute && c.ShutdownTimeout == 2*time.Minute }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := Load(Options{File: tt.file, LookupEnv: env(baseEnv())})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("unexpected config %v", cfg)
			}
		})
	}
}

func TestParseFileKeysAreCaseSensitive(t *testing.T) {
	_, problems := parseFile("c.yml", []byte("Workers: 3\nLOG-LEVEL: debug\n"))
	want := []string{
		`Unknown key "Workers" in config file "c.yml" (line 1); did you mean "workers"?`,
		`Unknown key "LOG-LEVEL" in config file "c.yml" (line 2); did you mean "log_level"?`,
	}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}

func TestSuggest(t *testing.T) {
	tests := map[string]string{
		"database-url": "database_url",
		"databse_url":  "database_url",
		"log_lvl":      "log_level",
		"token":        "",
		"metrics_addr": "",
		"http-address": "http_addr",
	}
	for in, want := range tests {
		if got := suggest(in); got != want {
			t.Errorf("suggest(%q) = %q; want %q", in, got, want)
		}
	}
}
