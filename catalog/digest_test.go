package catalog

import (
	"regexp"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

func digestBase() spec.Template {
	return spec.Template{
		ID:         7,
		Name:       "web",
		Category:   "proxy",
		SourcePath: "/a/proxy/web/compose.yml",
		Spec: spec.ServiceSpec{
			Image:   "nginx:1.27",
			Command: []string{"nginx", "-g", "daemon off;"},
			Env:     []spec.EnvVar{{Key: "A", Value: "1"}, {Key: "B", Value: "2"}},
			Ports:   []spec.Port{{ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 443, Protocol: "tcp"}},
			ConfigFiles: []spec.ConfigFile{
				{Path: "a.conf", Target: "/etc/a.conf", Content: "a", Mode: 0o644},
				{Path: "b.conf", Target: "/etc/b.conf", Content: "b", Mode: 0o644},
			},
		},
	}
}

func TestDigest(t *testing.T) {
	base := Digest(digestBase())
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(base) {
		t.Fatalf("Digest = %q, want 64 hex digits", base)
	}
	tests := []struct {
		name   string
		change func(*spec.Template)
		same   bool
	}{
		{"id ignored", func(t *spec.Template) { t.ID = 99 }, true},
		{"source path ignored", func(t *spec.Template) { t.SourcePath = "/elsewhere/compose.yml" }, true},
		{"env order ignored", func(t *spec.Template) { t.Spec.Env[0], t.Spec.Env[1] = t.Spec.Env[1], t.Spec.Env[0] }, true},
		{"port order ignored", func(t *spec.Template) { t.Spec.Ports[0], t.Spec.Ports[1] = t.Spec.Ports[1], t.Spec.Ports[0] }, true},
		{"config file order ignored", func(t *spec.Template) {
			t.Spec.ConfigFiles[0], t.Spec.ConfigFiles[1] = t.Spec.ConfigFiles[1], t.Spec.ConfigFiles[0]
		}, true},
		{"name", func(t *spec.Template) { t.Name = "web2" }, false},
		{"category", func(t *spec.Template) { t.Category = "gateway" }, false},
		{"image", func(t *spec.Template) { t.Spec.Image = "nginx:1.28" }, false},
		{"command order matters", func(t *spec.Template) { t.Spec.Command[1], t.Spec.Command[2] = t.Spec.Command[2], t.Spec.Command[1] }, false},
		{"env value", func(t *spec.Template) { t.Spec.Env[0].Value = "x" }, false},
		{"config content", func(t *spec.Template) { t.Spec.ConfigFiles[1].Content = "changed" }, false},
		{"config mode", func(t *spec.Template) { t.Spec.ConfigFiles[1].Mode = 0o600 }, false},
		{"healthcheck", func(t *spec.Template) { t.Spec.Healthcheck = &spec.Healthcheck{Disable: true} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := digestBase()
			tt.change(&tmpl)
			before := mustJSON(tmpl)
			got := Digest(tmpl)
			if (got == base) != tt.same {
				t.Errorf("Digest changed = %v, want changed = %v", got != base, !tt.same)
			}
			if mustJSON(tmpl) != before {
				t.Error("Digest modified its argument")
			}
		})
	}
}

// TestDigestIsStable pins the digest of a template whose sets are out of
// order: stored templates carry their digest, so a change of the encoding
// or of the canonical order would make every template look changed on the
// next import.
func TestDigestIsStable(t *testing.T) {
	tmpl := digestBase()
	tmpl.Spec.Env = []spec.EnvVar{{Key: "B", Value: "2"}, {Key: "A", Value: "1"}}
	tmpl.Spec.Labels = []spec.Label{{Key: "z", Value: "1"}, {Key: "a", Value: "2"}}
	tmpl.Spec.Ports = []spec.Port{{ContainerPort: 443, Protocol: "tcp"}, {ContainerPort: 80, Protocol: "tcp"}}
	tmpl.Spec.Volumes = []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "b", Target: "/b"}, {Type: spec.VolumeTypeTmpfs, Target: "/a"}}
	tmpl.Spec.DependsOn = []spec.Dependency{{Name: "db", Condition: spec.ConditionHealthy}, {Name: "cache", Condition: spec.ConditionStarted}}
	tmpl.Spec.ConfigFiles[0], tmpl.Spec.ConfigFiles[1] = tmpl.Spec.ConfigFiles[1], tmpl.Spec.ConfigFiles[0]
	const want = "3a1c4de07aefb13fbc019e79112b1c9772a10a0371ec986a1b5f4a25453ef737"
	if got := Digest(tmpl); got != want {
		t.Errorf("Digest = %s, want %s", got, want)
	}
	if got := Digest(digestBase()); got != "c1e720aa700e6875e9d1e324e3d962a183940afee9feffb62c4c8aa65fbfc3df" {
		t.Errorf("Digest of the base template = %s, want the pinned value", got)
	}
}
