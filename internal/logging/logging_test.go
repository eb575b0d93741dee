package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/config"
)

func TestNewJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := New("info", "auto", &buf) // a buffer is not a terminal: JSON
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hidden")
	log.With(zap.String("component", "test")).Info("hello", zap.String("stack", "shop"), Err(errors.New("boom")))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines; want 1 (debug filtered):\n%s", len(lines), buf.String())
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("not JSON: %v: %s", err, lines[0])
	}
	want := map[string]any{"level": "info", "msg": "hello", "component": "test", "stack": "shop", "err": "boom"}
	for k, v := range want {
		if entry[k] != v {
			t.Errorf("%s = %v; want %v", k, entry[k], v)
		}
	}
	iso := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}(Z|[+-]\d{4})$`)
	if ts, _ := entry["time"].(string); !iso.MatchString(ts) {
		t.Errorf("time = %q; want ISO 8601", entry["time"])
	}
}

func TestNewConsole(t *testing.T) {
	var buf bytes.Buffer
	log, err := New("debug", "console", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("hello", zap.Int("workers", 2))
	out := buf.String()
	if !strings.Contains(out, "DEBUG\thello\t{\"workers\": 2}") {
		t.Errorf("console output %q lacks level, message and fields", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("console output to a non-terminal is colored: %q", out)
	}
}

func TestAutoIsJSONForRegularFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log, err := New("warn", "auto", f)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "{") || strings.Contains(string(data), "hidden") {
		t.Errorf("file log = %q; want one JSON warn entry", data)
	}
}

func TestNewRejectsUnknownValues(t *testing.T) {
	if _, err := New("verbose", "json", nil); err == nil || !strings.Contains(err.Error(), `"verbose"`) {
		t.Errorf("New(verbose) err = %v; want it to name the level", err)
	}
	if _, err := New("info", "xml", nil); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("New(xml) err = %v; want it to name the format", err)
	}
}

// TestAcceptsConfigValues keeps the lists in step with what config
// validates.
func TestAcceptsConfigValues(t *testing.T) {
	if !slices.Equal(Levels(), config.LogLevels()) || !slices.Equal(Formats(), config.LogFormats()) {
		t.Fatalf("logging accepts %v/%v; config validates %v/%v", Levels(), Formats(), config.LogLevels(), config.LogFormats())
	}
	for _, l := range config.LogLevels() {
		for _, f := range config.LogFormats() {
			if _, err := New(l, f, &bytes.Buffer{}); err != nil {
				t.Errorf("New(%q, %q): %v", l, f, err)
			}
		}
	}
}
