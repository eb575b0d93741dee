package testenv

import (
	"strings"
	"testing"
)

func TestParseEngines(t *testing.T) {
	for _, tt := range []struct {
		in, want, err string
	}{
		{"", "docker=", ""},
		{"docker", "docker=", ""},
		{"docker,podman=unix:///tmp/p.sock", "docker= podman=unix:///tmp/p.sock", ""},
		{" podman=unix:///tmp/p.sock , docker ", "podman=unix:///tmp/p.sock docker=", ""},
		{"podman", "", "engine podman needs its socket"},
		{"docker,docker", "", `engine "docker" is listed twice`},
		{"containerd", "", `unknown engine "containerd"`},
	} {
		got, err := ParseEngines(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseEngines(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		var parts []string
		for _, e := range got {
			parts = append(parts, e.Name+"="+e.Host)
		}
		if err != nil || strings.Join(parts, " ") != tt.want {
			t.Errorf("ParseEngines(%q) = %v, %v; want %s", tt.in, parts, err, tt.want)
		}
	}
}

func FuzzParseEngines(f *testing.F) {
	f.Add("docker,podman=unix:///tmp/p.sock")
	f.Add("podman")
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseEngines(v)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range got {
			if seen[e.Name] || (e.Name != EngineDocker && e.Name != EnginePodman) || (e.Podman() && e.Host == "") {
				t.Fatalf("ParseEngines(%q) = %+v", v, got)
			}
			seen[e.Name] = true
		}
	})
}
