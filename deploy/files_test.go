package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// Secret texts of TestFilesOnRealEngine: none may appear in a plan.
const (
	filesDBPassword    = "env-file-pa55word"
	filesSecretBefore  = "first-secret-value"
	filesSecretAfter   = "second-secret-value"
	filesConfigContent = "listen = 8080\n"
)

// writeFilesTemplate writes a template folder using env_file, a file
// secret with mode 0400 and uid 1000, configs from content and from a
// file, an external volume and a driver_opts tmpfs volume.
func writeFilesTemplate(t *testing.T, dir, external, secret string) {
	t.Helper()
	files := map[string]string{
		"compose.yml": `services:
  files:
    image: ` + testenv.TestImage + `
    init: true
    env_file: [.env]
    environment:
      MODE: from-environment
    secrets:
      - source: db_password
        uid: "1000"
        gid: "1000"
        mode: 0400
    configs:
      - source: app_conf
        target: /etc/app.conf
      - inline
    volumes:
      - shared:/shared
      - scratch:/scratch
secrets:
  db_password:
    file: ./db_password.txt
configs:
  app_conf:
    file: ./app.conf
  inline:
    content: "inline = yes"
volumes:
  shared:
    external: true
    name: ` + external + `
  scratch:
    driver_opts:
      type: tmpfs
      device: tmpfs
      o: size=8m
`,
		".env":            "GREETING=hello\nMODE=from-env-file\nDB_PASSWORD=" + filesDBPassword + "\n",
		"db_password.txt": secret,
		"app.conf":        filesConfigContent,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func loadFilesTemplate(t *testing.T, dir string) *spec.Template {
	t.Helper()
	res, err := catalog.LoadFile(filepath.Join(dir, "compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range res.Warnings {
		t.Errorf("unexpected warning: %s", w)
	}
	tmpl := res.Template
	tmpl.ID = 1
	return &tmpl
}

// readContainerFile reads one file from a container through the engine's
// archive API: its tar header (mode, owner) and content.
func (f *applyFixture) readContainerFile(instance, path string) (*tar.Header, string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := f.rt.Client().CopyFromContainer(ctx, f.container(instance), client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		f.t.Fatalf("copy %s from %s: %v", path, instance, err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	h, err := tr.Next()
	if err != nil {
		f.t.Fatalf("read archive of %s: %v", path, err)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		f.t.Fatal(err)
	}
	return h, string(b)
}

// TestFilesOnRealEngine applies a template with env_file, a secret, two
// configs, an external volume and a tmpfs volume, reads them back from the
// engine, proves the plan empty, changes the secret's file and proves the
// plan names exactly that one sensitive field without its text, applies
// and proves the plan empty again.
func TestFilesOnRealEngine(t *testing.T) {
	testenv.Docker(t)
	dir := t.TempDir()
	external := testenv.UniqueName("ext")
	writeFilesTemplate(t, dir, external, filesSecretBefore)
	tmpl := loadFilesTemplate(t, dir)
	f := newApplyFixture(t, spec.Instance{ID: 1, Name: "files", Enabled: true, Template: tmpl, Effective: spec.Merge(&tmpl.Spec, spec.Overrides{})})
	ctx := context.Background()
	if _, err := f.rt.Client().VolumeCreate(ctx, client.VolumeCreateOptions{Name: external}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = f.rt.Client().VolumeRemove(context.Background(), external, client.VolumeRemoveOptions{Force: true})
	})

	f.apply()
	c := f.inspect("files")
	for _, want := range []string{"GREETING=hello", "MODE=from-environment", "DB_PASSWORD=" + filesDBPassword} {
		if !slices.Contains(c.Config.Env, want) {
			t.Errorf("container env %v lacks %s", c.Config.Env, want)
		}
	}
	mounts := map[string]string{}
	for _, m := range c.Mounts {
		mounts[m.Destination] = string(m.Type) + " " + m.Name + " rw=" + map[bool]string{true: "true", false: "false"}[m.RW]
	}
	for target, want := range map[string]string{
		"/run/secrets/db_password": "bind  rw=false",
		"/etc/app.conf":            "bind  rw=false",
		"/inline":                  "bind  rw=false",
		"/shared":                  "volume " + external + " rw=true",
		"/scratch":                 "volume " + spec.ProjectName(f.stack.Name) + "_scratch rw=true",
	} {
		if mounts[target] != want {
			t.Errorf("mount %s = %q, want %q", target, mounts[target], want)
		}
	}
	h, content := f.readContainerFile("files", "/run/secrets/db_password")
	if h.Mode&0o777 != 0o400 || h.Uid != 1000 || h.Gid != 1000 || content != filesSecretBefore {
		t.Errorf("secret: mode %o uid %d gid %d content %q; want 0400 1000 1000 %q", h.Mode&0o777, h.Uid, h.Gid, content, filesSecretBefore)
	}
	if h, content := f.readContainerFile("files", "/etc/app.conf"); h.Mode&0o777 != 0o444 || content != filesConfigContent {
		t.Errorf("config from a file: mode %o content %q", h.Mode&0o777, content)
	}
	if _, content := f.readContainerFile("files", "/inline"); content != "inline = yes" {
		t.Errorf("config from content: %q", content)
	}
	vol, err := f.rt.Client().VolumeInspect(ctx, spec.ProjectName(f.stack.Name)+"_scratch", client.VolumeInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if o := vol.Volume.Options; o["type"] != "tmpfs" || o["o"] != "size=8m" {
		t.Errorf("tmpfs volume options = %v", o)
	}
	secretsDir := filepath.Join(f.opts.Paths.StateDir, "stacks", f.stack.Name, "files.secrets")
	if fi, err := os.Stat(secretsDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("secrets folder on the host: %v %v, want mode 0700", fi.Mode(), err)
	}
	f.requireEmptyPlan("right after the first apply")

	// A new secret: one sensitive field, no secret text anywhere.
	writeFilesTemplate(t, dir, external, filesSecretAfter)
	f.edit("files", func(_ *spec.Overrides, t0 *spec.Template) { *t0 = *loadFilesTemplate(t, dir) })
	p := f.plan()
	if len(p.Changes) != 1 || len(p.Changes[0].Fields) != 1 {
		t.Fatalf("after changing the secret: want one change of one field, got %s", planText(t, p))
	}
	if fc := p.Changes[0].Fields[0]; fc.Path != "secrets.db_password" || !fc.Sensitive || fc.Reason != "content changed" {
		t.Errorf("field = %+v, want a sensitive secrets.db_password change", fc)
	}
	js, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{string(js), planText(t, p)} {
		for _, secret := range []string{filesSecretBefore, filesSecretAfter, filesDBPassword} {
			if strings.Contains(out, secret) {
				t.Errorf("the plan shows secret %q:\n%s", secret, out)
			}
		}
	}
	if res := f.apply(); !slices.Equal(res.Recreated, []string{f.container("files")}) {
		t.Errorf("apply recreated %v", res.Recreated)
	}
	if _, content := f.readContainerFile("files", "/run/secrets/db_password"); content != filesSecretAfter {
		t.Errorf("secret after apply: %q", content)
	}
	f.requireEmptyPlan("after applying the new secret")

	// An env_file variable changes: the plan names its file.
	f.edit("files", func(_ *spec.Overrides, t0 *spec.Template) {
		for i, v := range t0.Spec.Env {
			if v.Key == "GREETING" {
				t0.Spec.Env[i].Value = "bonjour"
			}
		}
	})
	p = f.plan()
	if len(p.Changes) != 1 || len(p.Changes[0].Fields) != 1 || p.Changes[0].Fields[0].Path != "env.GREETING" || p.Changes[0].Fields[0].From != "env_file .env" {
		t.Errorf("after changing GREETING: %s", planText(t, p))
	}
	if text := planText(t, p); !strings.Contains(text, "env_file .env") {
		t.Errorf("the plan text does not name the env file:\n%s", text)
	}
}

// TestFilesMissingExternalVolume: an external volume that does not exist
// fails the apply before compose up with what to do.
func TestFilesMissingExternalVolume(t *testing.T) {
	testenv.Docker(t)
	dir := t.TempDir()
	external := testenv.UniqueName("nope")
	writeFilesTemplate(t, dir, external, filesSecretBefore)
	tmpl := loadFilesTemplate(t, dir)
	f := newApplyFixture(t, spec.Instance{ID: 1, Name: "files", Enabled: true, Template: tmpl, Effective: spec.Merge(&tmpl.Spec, spec.Overrides{})})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := f.rt.Apply(ctx, f.stack, f.opts, nil)
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Phase != PhaseCompose || !strings.Contains(err.Error(), external) || !strings.Contains(err.Error(), "docker volume create") {
		t.Fatalf("apply: %v, want a compose-phase error naming %s and how to create it", err, external)
	}
	if _, err := f.rt.Client().VolumeInspect(ctx, external, client.VolumeInspectOptions{}); err == nil {
		t.Errorf("the controller created external volume %s", external)
	}
}

func planText(t *testing.T, p *plan.Plan) string {
	t.Helper()
	var b bytes.Buffer
	if err := p.WriteText(&b, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
