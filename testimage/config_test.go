package main

import (
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    sleeperConfig
		wantErr string
	}{
		{"defaults", nil, sleeperConfig{exitCode: 1}, ""},
		{"all knobs", map[string]string{
			envExitAfter: "1500ms", envExitCode: "3", envHTTPAddr: " :8080 ", envMessage: " hi ",
		}, sleeperConfig{exitAfter: 1500 * time.Millisecond, exitCode: 3, httpAddr: ":8080", message: " hi "}, ""},
		{"code 255", map[string]string{envExitCode: "255"}, sleeperConfig{exitCode: 255}, ""},
		{"code 0", map[string]string{envExitCode: "0"}, sleeperConfig{exitCode: 0}, ""},
		{"bad duration", map[string]string{envExitAfter: "2"}, sleeperConfig{}, envExitAfter},
		{"zero duration", map[string]string{envExitAfter: "0s"}, sleeperConfig{}, "not positive"},
		{"negative duration", map[string]string{envExitAfter: "-1s"}, sleeperConfig{}, "not positive"},
		{"code not a number", map[string]string{envExitCode: "one"}, sleeperConfig{}, envExitCode},
		{"code too large", map[string]string{envExitCode: "256"}, sleeperConfig{}, envExitCode},
		{"code negative", map[string]string{envExitCode: "-1"}, sleeperConfig{}, envExitCode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := loadConfig(envOf(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tt.want {
				t.Errorf("config = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzLoadConfig(f *testing.F) {
	for _, seed := range [][2]string{
		{"", ""}, {"1s", "0"}, {"1500ms", "255"}, {"-1s", "1"}, {"1h2m", "256"}, {"x", "-3"}, {" 2s ", " 7 "},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, after, code string) {
		cfg, err := loadConfig(envOf(map[string]string{envExitAfter: after, envExitCode: code}))
		if err != nil {
			return
		}
		if cfg.exitAfter < 0 {
			t.Errorf("accepted negative duration %q", after)
		}
		if strings.TrimSpace(after) != "" && cfg.exitAfter == 0 {
			t.Errorf("accepted %q but will never exit", after)
		}
		if cfg.exitCode < 0 || cfg.exitCode > 255 {
			t.Errorf("accepted exit code %d from %q", cfg.exitCode, code)
		}
	})
}
