package plan

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

func filesTemplate(secret, config, greeting string) *spec.Template {
	return &spec.Template{ID: 13, Name: "app", Category: "backend", Spec: spec.ServiceSpec{
		Image:   "app:1",
		Env:     []spec.EnvVar{{Key: "GREETING", Value: greeting, File: ".env"}, {Key: "DB_PASSWORD", Value: "env-file-password", File: ".env", Secret: true}},
		Secrets: []spec.FileMount{{Name: "db_password", Target: "/run/secrets/db_password", Content: secret, Mode: 0o400, UID: "1000", From: "file ./db.txt"}},
		Configs: []spec.FileMount{{Name: "app_conf", Target: "/app_conf", Content: config, From: "content"}},
	}}
}

// TestPlanFiles: each change of a secret, a config or an env file's
// variable is one field named after it; a secret's is sensitive and no
// plan output holds its text; the env file shows as where the value
// comes from.
func TestPlanFiles(t *testing.T) {
	base := spec.Stack{ID: 4, Name: "files", Enabled: true, Instances: []spec.Instance{
		instance(41, "app", filesTemplate("old-secret-text", "a=1\n", "hello"), spec.Overrides{}),
	}}
	observed := observedFor(base)
	if p := mustCompute(base, observed); !p.Empty() {
		t.Fatalf("converged stack: %+v", p.Changes)
	}
	for _, tt := range []struct {
		name      string
		tmpl      *spec.Template
		path      string
		sensitive bool
		from      string
	}{
		{"secret", filesTemplate("new-secret-text", "a=1\n", "hello"), "secrets.db_password", true, "file ./db.txt"},
		{"config", filesTemplate("old-secret-text", "a=2\n", "hello"), "configs.app_conf", false, "content"},
		{"env file", filesTemplate("old-secret-text", "a=1\n", "bonjour"), "env.GREETING", false, "env_file .env"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := spec.Stack{ID: 4, Name: "files", Enabled: true, Instances: []spec.Instance{instance(41, "app", tt.tmpl, spec.Overrides{})}}
			p := mustCompute(s, observed)
			if len(p.Changes) != 1 || len(p.Changes[0].Fields) != 1 {
				t.Fatalf("changes = %+v", p.Changes)
			}
			f := p.Changes[0].Fields[0]
			if f.Path != tt.path || f.Sensitive != tt.sensitive || f.From != tt.from || f.Source != spec.SourceTemplate {
				t.Errorf("field = %+v", f)
			}
			var text bytes.Buffer
			if err := p.WriteText(&text, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(p)
			for _, out := range []string{text.String(), string(js)} {
				for _, secret := range []string{"old-secret-text", "new-secret-text", "env-file-password"} {
					if strings.Contains(out, secret) {
						t.Errorf("the plan shows %q:\n%s", secret, out)
					}
				}
			}
			if !strings.Contains(text.String(), tt.from) {
				t.Errorf("the text does not say %q:\n%s", tt.from, text.String())
			}
		})
	}
}
