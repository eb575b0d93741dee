package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
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

// TestStackOrphansOnEveryEngine: stack orphans reads the configured
// engines (docker_host is not used once an engines section exists) and
// names the engine of each orphan.
func TestStackOrphansOnEveryEngine(t *testing.T) {
	docker := testenv.Docker(t)
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = config.DefaultDockerHost
	}
	net := testenv.UniqueName("devarch-orphans-cli-")
	if _, err := docker.NetworkCreate(t.Context(), net, client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{
		spec.LabelManagedBy: spec.ManagedByValue, spec.LabelStackID: "4199999997", spec.LabelStack: "gone"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = docker.NetworkRemove(context.Background(), net, client.NetworkRemoveOptions{}) })
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "controller.yml")
	cfg := "docker_host: unix://" + filepath.Join(dir, "nobody.sock") + "\nengines:\n  edge: {host: '" + host + "'}\n"
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t), "DEVARCH_STATE_DIR": t.TempDir(), "DEVARCH_CONFIG": cfgFile}
	r := run(t, context.Background(), []string{"stack", "orphans", "-o", "json"}, env)
	var o deploy.Orphans
	if err := json.Unmarshal([]byte(r.stdout), &o); r.code != 0 || err != nil {
		t.Fatalf("stack orphans: code %d, %v\n%s\n%s", r.code, err, r.stdout, r.stderr)
	}
	i := slices.IndexFunc(o.Networks, func(n deploy.OrphanNetwork) bool { return n.Name == net })
	if i < 0 || o.Networks[i].Engine != "edge" || o.Networks[i].StackID != 4199999997 {
		t.Errorf("orphaned network %s not listed on engine edge: %+v", net, o.Networks)
	}
	r = run(t, context.Background(), []string{"stack", "orphans"}, env)
	if r.code != 0 || !strings.Contains(r.stdout, "ENGINE") || !regexp.MustCompile(`network\s+edge\s+`+regexp.QuoteMeta(net)).MatchString(r.stdout) {
		t.Errorf("stack orphans table does not show %s on engine edge: code %d\n%s", net, r.code, r.stderr)
	}
}

// TestPlanNamesTheEngineThatIsDown: planning a stack whose engine does not
// answer names that engine and its host, and says where to correct it.
func TestPlanNamesTheEngineThatIsDown(t *testing.T) {
	dir := t.TempDir()
	gone := "unix://" + filepath.Join(dir, "nobody.sock")
	cfgFile := filepath.Join(dir, "controller.yml")
	if err := os.WriteFile(cfgFile, []byte("engines:\n  local: {host: unix:///var/run/docker.sock, default: true}\n  edge: {host: '"+gone+"'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stack := filepath.Join(dir, "devarch.yml")
	if err := os.WriteFile(stack, []byte("version: 1\nstack:\n  name: edge-shop\n  engine: edge\ninstances:\n  cache:\n    template: demo-cache\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t), "DEVARCH_STATE_DIR": t.TempDir(), "DEVARCH_CONFIG": cfgFile}
	for _, args := range [][]string{{"catalog", "import", repoPath(t, "examples/templates")}, {"stack", "import", stack}} {
		if r := run(t, context.Background(), args, env); r.code != 0 {
			t.Fatalf("%v: %s", args, r.stderr)
		}
	}
	r := run(t, context.Background(), []string{"plan", "edge-shop"}, env)
	if r.code == 0 || !strings.Contains(r.stderr, `engine "edge" at `+gone+" does not answer") ||
		!strings.Contains(r.stderr, "engines section of the config file") || strings.Contains(r.stderr, "/var/run/docker.sock") {
		t.Errorf("plan of a stack on an engine that is down: code %d\n%s", r.code, r.stderr)
	}
}

// TestStackListEngine: stack list shows each stack's engine (the default
// engine for a stack naming none), --engine lists one engine's stacks, and
// an engine that is not configured is an error naming the configured ones.
func TestStackListEngine(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "controller.yml")
	if err := os.WriteFile(cfgFile, []byte("engines:\n  local: {host: unix:///var/run/docker.sock, default: true}\n  edge: {host: 'ssh://deploy@edge-1'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DEVARCH_DATABASE_URL": testenv.DatabaseURL(t), "DEVARCH_STATE_DIR": t.TempDir(), "DEVARCH_CONFIG": cfgFile, "DEMO_API_TOKEN": "demo-canary-58d1e"}
	if r := run(t, context.Background(), []string{"catalog", "import", repoPath(t, "examples/templates")}, env); r.code != 0 {
		t.Fatalf("catalog import: %s", r.stderr)
	}
	body, err := os.ReadFile(repoPath(t, "examples/stacks/demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, engine := range map[string]string{"on-local": "", "on-edge": "edge"} {
		b := strings.Replace(string(body), "name: demo\n", "name: "+name+"\n", 1)
		if engine != "" {
			b = strings.Replace(b, "name: "+name+"\n", "name: "+name+"\n  engine: "+engine+"\n", 1)
		}
		file := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(file, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := run(t, context.Background(), []string{"stack", "import", file}, env); r.code != 0 {
			t.Fatalf("import %s: %s", name, r.stderr)
		}
	}
	row := func(out, name, engine string) bool {
		return regexp.MustCompile(`(?m)^` + name + `\s.*\s` + engine + `\s+active\s*$`).MatchString(out)
	}
	r := run(t, context.Background(), []string{"stack", "list"}, env)
	if r.code != 0 || !strings.Contains(r.stdout, "ENGINE") || !row(r.stdout, "on-local", "local") || !row(r.stdout, "on-edge", "edge") {
		t.Fatalf("stack list: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, context.Background(), []string{"stack", "list", "--engine", "edge"}, env)
	if r.code != 0 || !row(r.stdout, "on-edge", "edge") || strings.Contains(r.stdout, "on-local") {
		t.Errorf("stack list --engine edge: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, context.Background(), []string{"stack", "list", "--engine", "mars"}, env)
	if r.code == 0 || !strings.Contains(r.stderr, `engine "mars" is not configured`) || !strings.Contains(r.stderr, "local, edge") {
		t.Errorf("stack list --engine mars: code %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
