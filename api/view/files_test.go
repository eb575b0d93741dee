package view

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// TestRedactFiles: a secret's content never shows; a config's content is
// shown with the stack's secrets scrubbed; env file variables keep their
// file.
func TestRedactFiles(t *testing.T) {
	const secretFile, secretEnv = "secret-file-canary", "secret-env-canary"
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Image:   "app:1",
		Env:     []spec.EnvVar{{Key: "LOGIN", Value: secretEnv, Secret: true, File: "creds.env"}, {Key: "MODE", Value: "dev", File: ".env"}},
		Secrets: []spec.FileMount{{Name: "pw", Target: "/run/secrets/pw", Content: secretFile + "\n"}},
		Configs: []spec.FileMount{{Name: "conf", Target: "/conf", Content: "password = " + secretFile + "\nlogin = " + secretEnv + "\n"}},
	}}
	s := spec.Stack{ID: 1, Name: "s", Enabled: true, Instances: []spec.Instance{{ID: 1, Name: "app", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)}}}
	v := Redact(s)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{secretFile, secretEnv} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the view shows %q: %s", secret, b)
		}
	}
	e := v.Instances[0].Effective
	if e.Secrets[0].Content != spec.RedactedValue || e.Secrets[0].Target != "/run/secrets/pw" {
		t.Errorf("secret = %+v", e.Secrets[0])
	}
	if !strings.Contains(e.Configs[0].Content, "password = "+spec.RedactedValue) {
		t.Errorf("config = %q", e.Configs[0].Content)
	}
	if e.Env[1].File != ".env" || e.Env[1].Value != "dev" {
		t.Errorf("env = %+v", e.Env)
	}
	if s.Instances[0].Effective.Secrets[0].Content != secretFile+"\n" {
		t.Errorf("Redact modified the stack")
	}
}
