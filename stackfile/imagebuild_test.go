package stackfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// TestInstanceBuild: an instance's build section, in compose's syntax, is
// read with its context resolved against the stack file's folder; read
// from bytes, a relative context is refused with a clear message.
func TestInstanceBuild(t *testing.T) {
	doc := `version: 1
stack:
  name: s
instances:
  app:
    template: node
    build:
      context: ./app
      dockerfile: docker/Dockerfile
      args:
        NODE_VERSION: "20"
      target: dev
      platforms: [linux/arm64]
  short:
    template: node
    build: ../short
`
	dir := t.TempDir()
	path := filepath.Join(dir, "devarch.yml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := ParseFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*spec.Build{}
	for _, inst := range f.Stack.Instances {
		got[inst.Name] = inst.Overrides.Build
	}
	app, short := got["app"], got["short"]
	if app == nil || app.Context != filepath.Join(dir, "app") || app.Dockerfile != "docker/Dockerfile" ||
		app.Args["NODE_VERSION"] != "20" || app.Target != "dev" {
		t.Errorf("app build = %+v", app)
	}
	if short == nil || short.Context != filepath.Join(filepath.Dir(dir), "short") || short.DockerfilePath() != "Dockerfile" {
		t.Errorf("short build = %+v", short)
	}
	if len(f.Warnings) != 1 || !strings.Contains(f.Warnings[0], "instances.app.build.platforms") {
		t.Errorf("warnings = %q, want one for build.platforms", f.Warnings)
	}

	_, err = Parse([]byte(doc), nil)
	if err == nil || !strings.Contains(err.Error(), "instances.app.build.context") || !strings.Contains(err.Error(), "absolute path") {
		t.Errorf("relative context without a file: %v", err)
	}
}
