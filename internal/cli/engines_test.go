package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
)

// TestStackImportUnknownEngine: a stack file naming an engine the
// configuration does not have is refused before anything is written, and
// the message names the engine and the configured ones.
func TestStackImportUnknownEngine(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "controller.yml")
	if err := os.WriteFile(cfgFile, []byte("engines:\n  local: {host: unix:///var/run/docker.sock, default: true}\n  edge: {host: 'ssh://deploy@edge-1'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stack := filepath.Join(dir, "devarch.yml")
	if err := os.WriteFile(stack, []byte("version: 1\nstack:\n  name: shop\n  engine: mars\ninstances:\n  web:\n    template: nginx\n    image: nginx:1.27\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t), "DEVARCH_STATE_DIR": t.TempDir(), "DEVARCH_CONFIG": cfgFile}
	r := run(t, context.Background(), []string{"stack", "import", stack}, env)
	if r.code == 0 || !strings.Contains(r.stderr, `engine "mars"`) || !strings.Contains(r.stderr, "local, edge") || !strings.Contains(r.stderr, "nothing was written") {
		t.Fatalf("import naming engine mars: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, context.Background(), []string{"stack", "list"}, env)
	if strings.Contains(r.stdout, "shop") {
		t.Errorf("the refused stack was written:\n%s", r.stdout)
	}
}
