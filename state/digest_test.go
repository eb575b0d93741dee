package state_test

import (
	"testing"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// storedToken reads a stack and returns its staleness token.
func storedToken(t *testing.T, s *state.Store, paths project.Options, name string) string {
	t.Helper()
	st, err := s.Stack(testContext(t), name)
	if err != nil {
		t.Fatalf("Stack(%s): %v", name, err)
	}
	if len(st.ContentDigest) != 32 {
		t.Fatalf("stack %s read without its content digest (%d bytes)", name, len(st.ContentDigest))
	}
	for _, inst := range st.Instances {
		if len(inst.ContentDigest) != 32 || (inst.Template != nil && len(inst.Template.ContentDigest) != 32) {
			t.Fatalf("instance %s read without its content digests", inst.Name)
		}
	}
	return plan.Token(plan.Desired{Stack: st, Paths: paths})
}

// TestStoredTokenFollowsContent: the token of a stack read from the store
// (made from the digests PostgreSQL keeps) changes with every kind of
// stored change that can change what apply does, comes back when the
// content does, and stays through writes that change nothing.
func TestStoredTokenFollowsContent(t *testing.T) {
	t.Parallel()
	s := newInstalledStore(t, pathsA)
	seedTemplates(t, s)
	storeVariablesTemplate(t, s)
	ctx := testContext(t)
	paths := installation(t, s)
	importStack(t, s, shopStack("shop"))
	importStack(t, s, variablesStack(spec.Variable{Name: "UID", Value: "1000"}, spec.Variable{Name: "RO", Value: "true"},
		spec.Variable{Name: "STAGE", Value: "dev"}, spec.Variable{Name: "DB_PASSWORD", Value: secretValue}))

	base := storedToken(t, s, paths, "shop")
	if again := storedToken(t, s, paths, "shop"); again != base {
		t.Fatalf("two reads of an unchanged stack give tokens %s and %s", base, again)
	}
	importStack(t, s, shopStack("shop"))
	if got := storedToken(t, s, paths, "shop"); got != base {
		t.Errorf("importing the same stack again changed the token")
	}

	seen := map[string]string{base: "base"}
	check := func(what string, want string) {
		t.Helper()
		got := storedToken(t, s, paths, "shop")
		if want != "" {
			if got != want {
				t.Errorf("%s: token %s, want %s (the content is back)", what, got, want)
			}
			return
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%s: the token equals that of %s", what, other)
		}
		seen[got] = what
	}

	db := shopStack("shop").Instances[0].Overrides
	edited := db
	edited.Env = []spec.EnvVar{db.Env[0], {Key: "POSTGRES_PASSWORD", Value: secretValue + "2"}}
	if err := s.SetInstanceOverrides(ctx, "shop", "db", edited); err != nil {
		t.Fatal(err)
	}
	check("secret override changed", "")
	if err := s.SetInstanceOverrides(ctx, "shop", "db", db); err != nil {
		t.Fatal(err)
	}
	check("override restored", base)

	if err := s.SetInstanceEnabled(ctx, "shop", "worker", true); err != nil {
		t.Fatal(err)
	}
	check("instance enabled", "")
	if err := s.SetInstanceEnabled(ctx, "shop", "worker", false); err != nil {
		t.Fatal(err)
	}
	check("instance disabled again", base)

	tmpl := fixtureTemplates()[0]
	if tmpl.Name != "postgres" {
		t.Fatalf("fixture template 0 is %s, want postgres", tmpl.Name)
	}
	orig := tmpl
	tmpl.Spec.Image = "postgres:99"
	if _, err := s.UpsertTemplate(ctx, tmpl, "digest-changed"); err != nil {
		t.Fatal(err)
	}
	check("template image changed", "")
	if _, err := s.UpsertTemplate(ctx, orig, "digest-"+orig.Name); err != nil {
		t.Fatal(err)
	}
	check("template restored", base)

	wired := shopStack("shop")
	wired.Wires = nil
	importStack(t, s, wired)
	check("wires removed", "")
	importStack(t, s, shopStack("shop"))
	check("wires back", base)

	// A template resolved with the stack's variables: changing a variable
	// changes the token though no instance row changes.
	vbase := storedToken(t, s, paths, "vars")
	importStack(t, s, variablesStack(spec.Variable{Name: "UID", Value: "1001"}, spec.Variable{Name: "RO", Value: "true"},
		spec.Variable{Name: "STAGE", Value: "dev"}, spec.Variable{Name: "DB_PASSWORD", Value: secretValue}))
	if storedToken(t, s, paths, "vars") == vbase {
		t.Error("changing a stack variable did not change the token")
	}
	importStack(t, s, variablesStack(spec.Variable{Name: "UID", Value: "1000"}, spec.Variable{Name: "RO", Value: "true"},
		spec.Variable{Name: "STAGE", Value: "dev"}, spec.Variable{Name: "DB_PASSWORD", Value: secretValue + "x"}))
	if got := storedToken(t, s, paths, "vars"); got == vbase {
		t.Error("changing a secret stack variable did not change the token")
	}
}
