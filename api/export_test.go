package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/stackfile"
)

// exportableStack is a stack a stack file can express, with a secret.
func exportableStack() spec.Stack {
	tmpl := &spec.Template{ID: 20, Name: "node", Spec: spec.ServiceSpec{Image: "node:20"}}
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Env: []spec.EnvVar{{Key: "APP_KEY", Value: canary, Secret: true}, {Key: "NODE_ENV", Value: "production"}},
	}}
	return spec.Stack{ID: 3, Name: "site", Enabled: true, Instances: []spec.Instance{
		{ID: 31, Name: "web", Enabled: true, Template: tmpl, Overrides: o, Effective: spec.Merge(&tmpl.Spec, o)},
	}}
}

func getExport(t *testing.T, hs *harness, path string) (int, exportResponse, errorBody) {
	t.Helper()
	w := hs.do(t, request{path: path})
	var ok exportResponse
	var bad errorBody
	if w.Code == 200 {
		if err := json.Unmarshal(w.Body.Bytes(), &ok); err != nil {
			t.Fatal(err)
		}
	} else if err := json.Unmarshal(w.Body.Bytes(), &bad); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(w.Body.String(), canary) {
		t.Errorf("%s shows the secret:\n%s", path, w.Body)
	}
	return w.Code, ok, bad
}

func TestExportEndpoint(t *testing.T) {
	hs := newHarness(t, Options{})
	hs.store.mu.Lock()
	hs.store.stacks = append(hs.store.stacks, exportableStack())
	hs.store.mu.Unlock()

	code, got, _ := getExport(t, hs, "/api/v1/stacks/site/export")
	if code != 200 || got.Format != "devarch" || got.Filename != "site.devarch.yml" || strings.Join(got.Secrets, ",") != "APP_KEY" {
		t.Fatalf("devarch export: %d %+v", code, got)
	}
	f, err := stackfile.Parse([]byte(got.Content), func(name string) (string, bool) { return canary, name == "APP_KEY" })
	if err != nil {
		t.Fatalf("the export does not parse: %v\n%s", err, got.Content)
	}
	if env := f.Stack.Instances[0].Overrides.Env; len(env) != 2 || env[0].Value != canary {
		t.Errorf("the export reads back as %+v", env)
	}

	code, got, _ = getExport(t, hs, "/api/v1/stacks/site/export?format=compose")
	if code != 200 || got.Format != "compose" || !strings.Contains(got.Content, "APP_KEY: ${WEB_APP_KEY}") || strings.Join(got.Secrets, ",") != "WEB_APP_KEY" {
		t.Fatalf("compose export: %d %+v", code, got)
	}

	for _, tc := range []struct {
		path   string
		status int
		code   string
		want   []string
	}{
		{"/api/v1/stacks/site/export?format=helm", 400, codeInvalidParameter, []string{`Unknown export format "helm"`, "devarch", "compose"}},
		{"/api/v1/stacks/nope/export", 404, codeStackNotFound, []string{`Stack "nope" does not exist`}},
		{"/api/v1/stacks/shop/export", 422, codeExportFailed, []string{"instances.web.template", "instances.web.command[2]", "instances.web.dependencies"}},
	} {
		code, _, bad := getExport(t, hs, tc.path)
		if code != tc.status || bad.Error.Code != tc.code {
			t.Errorf("%s: %d %+v, want %d %s", tc.path, code, bad, tc.status, tc.code)
		}
		for _, want := range tc.want {
			if !strings.Contains(bad.Error.Message, want) {
				t.Errorf("%s: the message lacks %q: %s", tc.path, want, bad.Error.Message)
			}
		}
	}
}
