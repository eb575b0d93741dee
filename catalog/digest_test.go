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
