package deploy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// TestVariablesOnRealEngine: a template whose user and read_only come
// from the stack's variables goes the whole way (catalog import, stack
// import with variables:, the stored stack read back, apply), reaches the
// engine resolved, and plans empty; a changed variable plans exactly the
// fields that use it, with the variable as their source.
func TestVariablesOnRealEngine(t *testing.T) {
	testenv.Docker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := testenv.DatabaseURL(t)
	if err := state.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	store, err := state.Open(ctx, url, "deploy-variables-test")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	path := filepath.Join(t.TempDir(), "test", "vsleeper", "compose.yml")
	testenv.MkdirAll(t, filepath.Dir(path))
	compose := "services:\n  vsleeper:\n    image: " + testenv.TestImage + "\n    user: ${UID}\n    read_only: ${RO}\n    environment:\n      STAGE: ${STAGE:-dev}\n"
	if err := os.WriteFile(path, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := catalog.LoadFile(path)
	if err != nil {
		t.Fatalf("catalog import: %v", err)
	}
	if _, err := store.UpsertTemplate(ctx, res.Template, catalog.Digest(res.Template)); err != nil {
		t.Fatal(err)
	}
	name := testenv.UniqueName("v")
	stored := func(uid, ro string) spec.Stack {
		t.Helper()
		st := spec.Stack{Name: name, Enabled: true,
			Variables: []spec.Variable{{Name: "UID", Value: uid}, {Name: "RO", Value: ro}},
			Instances: []spec.Instance{{Name: "app", Enabled: true, Template: &spec.Template{Name: "vsleeper"}}}}
		if _, err := store.ImportStack(ctx, st); err != nil {
			t.Fatalf("import: %v", err)
		}
		got, err := store.Stack(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	f := newApplyFixture(t, stored("1000:1000", "true").Instances...)
	f.apply()
	f.requireEmptyPlan("right after the first apply")
	c := f.inspect("app")
	if c.Config.User != "1000:1000" || !c.HostConfig.ReadonlyRootfs || !slices.Contains(c.Config.Env, "STAGE=dev") {
		t.Fatalf("engine: user %q read_only %v env %q; want the variables' values", c.Config.User, c.HostConfig.ReadonlyRootfs, c.Config.Env)
	}

	// One variable changes: exactly its field, sourced from it.
	f.stack.Instances = stored("1001:1001", "true").Instances
	p := f.plan()
	if len(p.Changes) != 1 || p.Changes[0].Action != plan.ActionModify {
		t.Fatalf("after changing UID: %+v", p.Changes)
	}
	fs := p.Changes[0].Fields
	if len(fs) != 1 || fs[0].Path != "user" || fs[0].Source != spec.SourceTemplate || !slices.Equal(fs[0].Variables, []string{"UID"}) ||
		fs[0].Old == nil || *fs[0].Old != "1000:1000" || fs[0].New == nil || *fs[0].New != "1001:1001" {
		t.Fatalf("after changing UID: fields %+v, want user 1000:1000 -> 1001:1001 from variable UID", fs)
	}
	f.apply()
	f.requireEmptyPlan("after applying the new UID")
	if got := f.inspect("app").Config.User; got != "1001:1001" {
		t.Errorf("engine user %q after the change", got)
	}

	f.stack.Instances = stored("1001:1001", "false").Instances
	p = f.plan()
	if len(p.Changes) != 1 || len(p.Changes[0].Fields) != 1 || p.Changes[0].Fields[0].Path != "read_only" ||
		!slices.Equal(p.Changes[0].Fields[0].Variables, []string{"RO"}) {
		t.Fatalf("after changing RO: %+v", p.Changes)
	}
	f.apply()
	f.requireEmptyPlan("after applying RO=false")
}
