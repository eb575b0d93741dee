package stackfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestParseFiles reads env files, secrets, configs and top-level volumes
// of a stack file relative to it.
func TestParseFiles(t *testing.T) {
	dir := t.TempDir()
	body := `env_files:
  - app.env
  - {path: creds.env, secret: true}
  - optional.env
env_file: [{path: extra.env, required: false}]
environment:
  LEVEL: from-environment
secrets:
  - db_password
  - {source: api_key, target: key, uid: "1000", mode: 0400}
configs:
  - {source: app_conf, target: /etc/app.conf}
  - var_conf
volumes:
  - {source: data, target: /data}
`
	stack := stackWithApp(body) + `secrets:
  db_password:
    file: ./secrets/db.txt
  api_key:
    environment: TOKEN
configs:
  app_conf:
    content: "listen = 80"
  var_conf:
    environment: CONF_TEXT
variables:
  CONF_TEXT: from-variable
volumes:
  data:
    driver_opts: {type: tmpfs, device: tmpfs}
  shared:
    external: true
`
	writeFiles(t, dir, map[string]string{
		"stack.yml":      stack,
		"app.env":        "LEVEL=from-file\nHOST=db\nURL=http://${HOST}/\n",
		"creds.env":      "LOGIN=admin-login\n",
		"secrets/db.txt": "db-secret\n",
	})
	f, err := ParseFile(filepath.Join(dir, "stack.yml"), testSecrets)
	if err != nil {
		t.Fatal(err)
	}
	o := f.Stack.Instances[0].Overrides
	if f.Stack.Instances[0].Name != "app" {
		t.Fatalf("instances = %+v", f.Stack.Instances)
	}
	wantEnv := []spec.EnvVar{
		{Key: "HOST", Value: "db", File: "app.env"},
		{Key: "LEVEL", Value: "from-environment"},
		{Key: "LOGIN", Value: "admin-login", Secret: true, File: "creds.env"},
		{Key: "URL", Value: "http://db/", File: "app.env"},
	}
	if !reflect.DeepEqual(o.Env, wantEnv) {
		t.Errorf("env = %+v\nwant %+v", o.Env, wantEnv)
	}
	wantSecrets := []spec.FileMount{
		{Name: "api_key", Target: "/run/secrets/key", Content: "token-value", Mode: 0o400, UID: "1000", From: "environment TOKEN"},
		{Name: "db_password", Target: "/run/secrets/db_password", Content: "db-secret\n", From: "file ./secrets/db.txt"},
	}
	if !reflect.DeepEqual(o.Secrets, wantSecrets) {
		t.Errorf("secrets = %+v\nwant %+v", o.Secrets, wantSecrets)
	}
	if want := []spec.FileMount{{Name: "app_conf", Target: "/etc/app.conf", Content: "listen = 80", From: "content"},
		{Name: "var_conf", Target: "/var_conf", Content: "from-variable", From: "environment CONF_TEXT"}}; !reflect.DeepEqual(o.Configs, want) {
		t.Errorf("configs = %+v", o.Configs)
	}
	wantVols := []spec.VolumeDef{
		{Key: "data", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs"}},
		{Key: "shared", External: true},
	}
	if !reflect.DeepEqual(o.VolumeDefs, wantVols) {
		t.Errorf("volume definitions = %+v", o.VolumeDefs)
	}
	if !reflect.DeepEqual(o.EnvFiles, []string{"optional.env", "extra.env"}) {
		t.Errorf("kept env files = %v", o.EnvFiles)
	}
	if len(f.Warnings) != 2 || !strings.HasPrefix(f.Warnings[0], "instances.app.env_files[2]: env file optional.env does not exist") ||
		!strings.HasPrefix(f.Warnings[1], "instances.app.env_file[0]: env file extra.env does not exist") {
		t.Errorf("warnings = %q", f.Warnings)
	}
	for _, w := range f.Warnings {
		for _, secret := range []string{"db-secret", "token-value", "admin-login"} {
			if strings.Contains(w, secret) {
				t.Errorf("warning leaks %q: %s", secret, w)
			}
		}
	}
}

func TestParseFilesErrors(t *testing.T) {
	for _, tt := range []struct {
		name, body, top string
		want            []string
	}{
		{"missing required env_file", "env_file: missing.env", "", []string{"instances.app.env_file", "missing.env does not exist"}},
		{"required env_files entry", "env_files: [{path: missing.env}]", "", []string{"missing.env does not exist"}},
		{"unknown secret", "secrets: [nope]", "", []string{"nope"}},
		{"secret not set", "secrets: [pw]", "secrets:\n  pw:\n    environment: NOT_SET\n", []string{"NOT_SET", "secrets file"}},
		{"bad env file field", "env_files: [{path: a.env, mandatory: true}]", "", []string{`unknown field "mandatory"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"stack.yml": stackWithApp(tt.body) + tt.top})
			_, err := ParseFile(filepath.Join(dir, "stack.yml"), testSecrets)
			if err == nil {
				t.Fatal("ParseFile succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
