package catalog

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"

	"github.com/devarch/devarch-controller/spec"
)

// TestFilesTemplate imports a template using env_file, secrets, configs
// and top-level volume settings: nothing is ignored, and the environment
// equals what compose itself computes for the same file.
func TestFilesTemplate(t *testing.T) {
	path := filepath.Join("testdata", "files", "app", "compose.yml")
	res, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		if w.Ignored {
			t.Errorf("ignored: %s", w)
		}
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Message, "missing.env does not exist and is optional") {
		t.Errorf("warnings = %v, want one note about missing.env", res.Warnings)
	}
	s := res.Template.Spec

	// compose's own environment for the file
	opts, err := cli.NewProjectOptions([]string{path}, cli.WithName("app"), cli.WithWorkingDirectory(filepath.Dir(path)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, v := range p.Services["app"].Environment {
		want[k] = *v
	}
	got := map[string]string{}
	for _, v := range s.Env {
		got[v.Key] = v.Value
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("environment = %v, compose = %v", got, want)
	}
	wantEnv := []spec.EnvVar{
		{Key: "DB_PASSWORD", Value: "p@ss w0rd", Secret: true, File: ".env"},
		{Key: "GREETING", Value: "bonjour", File: "./override.env"},
		{Key: "LEVEL", Value: "bonjour-2", File: "./override.env"},
		{Key: "MODE", Value: "from-environment"},
		{Key: "URL", Value: "http://hello.example", File: ".env"},
	}
	if !reflect.DeepEqual(s.Env, wantEnv) {
		t.Errorf("env = %+v\nwant %+v", s.Env, wantEnv)
	}
	wantSecrets := []spec.FileMount{
		{Name: "api_token", Target: "/run/secrets/token", Content: "tok-123456", Mode: 0o400, UID: "1000", GID: "1000", From: "file ./secrets/api_token.txt"},
		{Name: "db_password", Target: "/run/secrets/db_password", Content: "s3cret-db\n", From: "file ./secrets/db_password.txt"},
	}
	if !reflect.DeepEqual(s.Secrets, wantSecrets) {
		t.Errorf("secrets = %+v\nwant %+v", s.Secrets, wantSecrets)
	}
	wantConfigs := []spec.FileMount{
		{Name: "app_conf", Target: "/app_conf", Content: "key = value\n", From: "file ./app.conf"},
		{Name: "inline_conf", Target: "/etc/inline.conf", Content: "inline=true\n", Mode: 0o440, From: "content"},
	}
	if !reflect.DeepEqual(s.Configs, wantConfigs) {
		t.Errorf("configs = %+v\nwant %+v", s.Configs, wantConfigs)
	}
	wantVols := []spec.VolumeDef{
		{Key: "cache", Driver: "local", DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=16m"}, Labels: map[string]string{"com.example.tier": "cache"}},
		{Key: "shared", Name: "devarch-shared-data", External: true},
	}
	if !reflect.DeepEqual(s.VolumeDefs, wantVols) {
		t.Errorf("volume definitions = %+v\nwant %+v", s.VolumeDefs, wantVols)
	}
}

func TestFilesTemplateErrors(t *testing.T) {
	for _, tt := range []struct {
		name, compose string
		files         map[string]string
		want          []string
	}{
		{"missing required env file", "env_file: [.env.missing]", nil, []string{"services.app.env_file", ".env.missing does not exist"}},
		{"bad env file", "env_file: [.env]", map[string]string{".env": "GOOD=1\nBAD KEY=hunter2-secret\n"}, []string{"line 2", "services.app.env_file"}},
		{"unterminated quote", "env_file: [.env]", map[string]string{".env": "PASSWORD=\"hunter2-secret\n"}, []string{"services.app.env_file"}},
		{"secret from environment", "secrets: [pw]\nsecrets:\n  pw:\n    environment: PW", nil, []string{"environment variable PW", "stack file"}},
		{"missing secret file", "secrets: [pw]\nsecrets:\n  pw:\n    file: ./pw.txt", nil, []string{"pw.txt does not exist"}},
		{"external secret", "secrets: [pw]\nsecrets:\n  pw:\n    external: true", nil, []string{"external"}},
		{"bad uid", "secrets: [{source: pw, uid: root}]\nsecrets:\n  pw:\n    file: ./pw.txt", map[string]string{"pw.txt": "x"}, []string{`uid "root" must be a number`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "app")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			svc, top, _ := strings.Cut(tt.compose, "\n")
			body := "services:\n  app:\n    image: x\n    " + svc + "\n" + top + "\n"
			files := map[string]string{"compose.yml": body}
			for k, v := range tt.files {
				files[k] = v
			}
			for name, content := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadFile(filepath.Join(dir, "compose.yml"))
			if err == nil {
				t.Fatal("LoadFile succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error quotes the file's content: %q", err)
			}
		})
	}
}

// TestFilesResolve: a template that references compose variables is
// resolved per stack from its stored spec: the env file variables,
// secrets and configs read at import stay, volume declarations follow the
// variables.
func TestFilesResolve(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{
		"compose.yml": "services:\n  app:\n    image: x\n    user: ${APP_USER:-1000}\n    env_file: [.env]\n    secrets: [pw]\n    volumes: [data:/data]\n" +
			"secrets:\n  pw:\n    file: ./pw.txt\nvolumes:\n  data:\n    labels: {tier: \"${TIER:-dev}\"}\n",
		".env":   "GREETING=hello\n",
		"pw.txt": "secret-text",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := LoadFile(filepath.Join(dir, "compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Template.Compose == "" {
		t.Fatal("the template keeps no compose file to resolve")
	}
	// The folder is gone when stacks resolve the template.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(res.Template, []spec.Variable{{Name: "APP_USER", Value: "2000"}, {Name: "TIER", Value: "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Spec
	if s.User != "2000" || len(s.Env) != 1 || s.Env[0] != (spec.EnvVar{Key: "GREETING", Value: "hello", File: ".env"}) {
		t.Errorf("user %q env %+v", s.User, s.Env)
	}
	if len(s.Secrets) != 1 || s.Secrets[0].Content != "secret-text" {
		t.Errorf("secrets = %+v", s.Secrets)
	}
	if len(s.VolumeDefs) != 1 || s.VolumeDefs[0].Labels["tier"] != "prod" {
		t.Errorf("volume definitions = %+v", s.VolumeDefs)
	}
}
