package view

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

const secret = "canary-view-5e1f"

func fixture() spec.Stack {
	tmpl := &spec.Template{ID: 1, Name: "postgres", Spec: spec.ServiceSpec{
		Image:       "postgres:16",
		Env:         []spec.EnvVar{{Key: "POSTGRES_USER", Value: "app"}},
		Healthcheck: &spec.Healthcheck{Test: []string{"CMD-SHELL", "pg_isready --password " + secret}},
	}}
	o := spec.Overrides{
		ServiceSpec: spec.ServiceSpec{
			Command: []string{"postgres", "-c", "password=" + secret},
			Env: []spec.EnvVar{
				{Key: "POSTGRES_PASSWORD", Value: secret},
				{Key: "DATABASE_URL", Value: "postgres://app:" + secret + "@db/app"},
				{Key: "PLAIN", Value: "visible"},
			},
			Labels:      []spec.Label{{Key: "dsn", Value: "x" + secret}},
			ConfigFiles: []spec.ConfigFile{{Path: "app.env", Target: "/app/.env", Content: "PASS=" + secret + "\n"}},
		},
		Domains: []spec.Domain{{Domain: "db.local", ProxyPort: 5432}},
	}
	inst := spec.Instance{ID: 7, Name: "db", Enabled: true, Template: tmpl, Overrides: o, Effective: spec.Merge(&tmpl.Spec, o)}
	return spec.Stack{ID: 3, Name: "shop", Description: "uses " + secret, Enabled: true, Instances: []spec.Instance{inst}}
}

func TestRedactHidesEverySecret(t *testing.T) {
	s := fixture()
	v := Redact(s)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) {
		t.Fatalf("view contains the secret: %s", b)
	}
	env := map[string]spec.EnvVar{}
	for _, e := range v.Instances[0].Effective.Env {
		env[e.Key] = e
	}
	tests := []struct {
		key, want string
		secret    bool
	}{
		{"POSTGRES_PASSWORD", spec.RedactedValue, true},
		{"DATABASE_URL", "postgres://app:" + spec.RedactedValue + "@db/app", false},
		{"PLAIN", "visible", false},
		{"POSTGRES_USER", "app", false},
	}
	for _, tt := range tests {
		got := env[tt.key]
		if got.Value != tt.want || got.Secret != tt.secret {
			t.Errorf("env %s = %+v, want value %q secret %t", tt.key, got, tt.want, tt.secret)
		}
	}
	inst := v.Instances[0]
	if inst.Container != "devarch-shop-db" || inst.Template != "postgres" || len(inst.Domains) != 1 {
		t.Errorf("instance view = %+v", inst)
	}
	if v.Network != "devarch-shop-net" {
		t.Errorf("network = %q", v.Network)
	}
}

func TestRedactDoesNotModifyTheStack(t *testing.T) {
	s := fixture()
	before, _ := json.Marshal(s)
	_ = Redact(s)
	after, _ := json.Marshal(s)
	if string(before) != string(after) {
		t.Fatalf("Redact modified its input:\nbefore %s\nafter  %s", before, after)
	}
	if !strings.Contains(string(after), secret) {
		t.Fatal("fixture lost its secret; the test proves nothing")
	}
}

func TestRedactEmptyListsAreArrays(t *testing.T) {
	b, err := json.Marshal(Redact(spec.Stack{ID: 1, Name: "empty"}))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"wires":[]`, `"instances":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}

// TestRedactKeepsGeneratedNames: with the catalog's default password
// "devarch", values that name the controller's containers stay readable
// while the password itself is hidden.
func TestRedactKeepsGeneratedNames(t *testing.T) {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Env: []spec.EnvVar{
			{Key: "POSTGRES_PASSWORD", Value: "devarch"},
			{Key: "DB_HOST", Value: "devarch-shop-db"},
			{Key: "DATABASE_URL", Value: "postgres://app:devarch@devarch-shop-db/app"},
		},
		Command: []string{"wait-for", "devarch-shop-db:5432", "--", "run", "devarch"},
	}}
	inst := spec.Instance{ID: 7, Name: "db", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)}
	v := Redact(spec.Stack{ID: 3, Name: "shop", Description: "network devarch-shop-net, password devarch", Enabled: true, Instances: []spec.Instance{inst}})
	env := map[string]string{}
	for _, e := range v.Instances[0].Effective.Env {
		env[e.Key] = e.Value
	}
	if env["DB_HOST"] != "devarch-shop-db" || env["DATABASE_URL"] != "postgres://app:(sensitive)@devarch-shop-db/app" {
		t.Errorf("env = %v, want container names kept and the password hidden", env)
	}
	if got := strings.Join(v.Instances[0].Effective.Command.Value, " "); got != "wait-for devarch-shop-db:5432 -- run (sensitive)" {
		t.Errorf("command = %q", got)
	}
	if v.Description != "network devarch-shop-net, password (sensitive)" {
		t.Errorf("description = %q", v.Description)
	}
}
