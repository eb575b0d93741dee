package state_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

func outcomes(res state.ImportResult) map[string]string {
	m := map[string]string{}
	for _, o := range res.Instances {
		m[o.Name] = o.Action
	}
	return m
}

func TestImportStackCreatesThenIsIdempotent(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	seedTemplates(t, s)
	pool := s.Pool()

	first := importStack(t, s, shopStack("shop"))
	if first.StackAction != state.ActionCreated || first.StackID == 0 {
		t.Fatalf("first import: stack %q id %d, want created", first.StackAction, first.StackID)
	}
	want := map[string]string{"db": state.ActionCreated, "web": state.ActionCreated, "worker": state.ActionCreated}
	if got := outcomes(first); !reflect.DeepEqual(got, want) {
		t.Errorf("first import: %v, want %v", got, want)
	}
	if !slices.IsSortedFunc(first.Instances, func(a, b state.InstanceOutcome) int { return compare(a.Name, b.Name) }) {
		t.Errorf("instances not sorted by name: %+v", first.Instances)
	}

	stackAt := updatedAt(t, pool, "stacks", first.StackID)
	instAt := map[int64]time.Time{}
	for _, o := range first.Instances {
		instAt[o.ID] = updatedAt(t, pool, "instances", o.ID)
	}
	time.Sleep(5 * time.Millisecond)

	// The same definition with lists in another order is the same stack.
	again := shopStack("shop")
	slices.Reverse(again.Instances)
	slices.Reverse(again.Instances[2].Overrides.Env)
	second := importStack(t, s, again)
	if second.StackAction != state.ActionUnchanged || second.StackID != first.StackID || second.Changed() {
		t.Errorf("re-import: %+v, want everything unchanged on stack %d", second, first.StackID)
	}
	for _, o := range second.Instances {
		if o.Action != state.ActionUnchanged {
			t.Errorf("re-import: instance %s %s, want unchanged", o.Name, o.Action)
		}
		if got := updatedAt(t, pool, "instances", o.ID); !got.Equal(instAt[o.ID]) {
			t.Errorf("re-import moved updated_at of instance %s", o.Name)
		}
	}
	if got := updatedAt(t, pool, "stacks", first.StackID); !got.Equal(stackAt) {
		t.Errorf("re-import moved the stack's updated_at from %v to %v", stackAt, got)
	}
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestImportStackUpdatesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	seedTemplates(t, s)
	first := importStack(t, s, shopStack("shop"))

	edited := shopStack("shop")
	edited.Description = "Edited."
	edited.Instances[1].Overrides.Env = []spec.EnvVar{{Key: "NODE_ENV", Value: "production"}}
	edited.Instances[2].Enabled = true
	res := importStack(t, s, edited)
	if res.StackAction != state.ActionUpdated || res.StackID != first.StackID {
		t.Errorf("stack: %s id %d, want updated %d", res.StackAction, res.StackID, first.StackID)
	}
	want := map[string]string{"db": state.ActionUnchanged, "web": state.ActionUpdated, "worker": state.ActionUpdated}
	if got := outcomes(res); !reflect.DeepEqual(got, want) {
		t.Errorf("instances: %v, want %v", got, want)
	}
	for i, o := range res.Instances {
		if o.ID != first.Instances[i].ID {
			t.Errorf("instance %s changed id from %d to %d", o.Name, first.Instances[i].ID, o.ID)
		}
	}
	got, err := s.Stack(testContext(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "Edited." || !got.Instances[2].Enabled || got.Instances[1].Effective.Env[0].Value != "production" {
		t.Errorf("stored stack does not reflect the edit: %+v", got)
	}
}

func TestImportStackSoftDeletesInstancesMissingFromTheFile(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	seedTemplates(t, s)
	first := importStack(t, s, shopStack("shop"))
	workerID := first.Instances[2].ID

	smaller := shopStack("shop")
	smaller.Instances = smaller.Instances[:2]
	res := importStack(t, s, smaller)
	want := map[string]string{"db": state.ActionUnchanged, "web": state.ActionUnchanged, "worker": state.ActionDeleted}
	if got := outcomes(res); !reflect.DeepEqual(got, want) {
		t.Errorf("instances: %v, want %v", got, want)
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM instances WHERE id = $1 AND deleted_at IS NOT NULL`, workerID); n != 1 {
		t.Errorf("worker row is not soft-deleted")
	}
	st, err := s.Stack(testContext(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Instances) != 2 {
		t.Errorf("stack has %d live instances, want 2", len(st.Instances))
	}

	// Bringing it back creates a new instance: ids are never reused.
	res = importStack(t, s, shopStack("shop"))
	if o := res.Instances[2]; o.Action != state.ActionCreated || o.ID == workerID {
		t.Errorf("re-added worker: %+v, want created with a new id", o)
	}
}

func TestImportStackMissingTemplatesWritesNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	seedTemplates(t, s)
	st := shopStack("shop")
	st.Instances[0].Template.Name = "mariadb"
	st.Instances = append(st.Instances, spec.Instance{Name: "cache", Enabled: true, Template: &spec.Template{Name: "redis"}})

	_, err := s.ImportStack(testContext(t), st)
	var missing *state.MissingTemplatesError
	if !errors.As(err, &missing) {
		t.Fatalf("err %v (%T), want *MissingTemplatesError", err, err)
	}
	want := []state.MissingTemplate{{Instance: "db", Template: "mariadb"}, {Instance: "cache", Template: "redis"}}
	if !reflect.DeepEqual(missing.Missing, want) {
		t.Errorf("missing %+v, want %+v", missing.Missing, want)
	}
	const wantMsg = `instance "db": template "mariadb" is not in the catalog; import it first with "devarch-controller catalog import PATH"` + "\n" +
		`instance "cache": template "redis" is not in the catalog; import it first with "devarch-controller catalog import PATH"`
	if err.Error() != wantMsg {
		t.Errorf("message:\n%s\nwant:\n%s", err, wantMsg)
	}
	assertNothingImported(t, s)
}

func TestImportStackInvalidWritesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		edit      func(*spec.Stack)
		wantField string
	}{
		{"bad stack name", func(st *spec.Stack) { st.Name = "Shop" }, "stack.name"},
		{"bad instance name", func(st *spec.Stack) { st.Instances[2].Name = "my_worker" }, "instances.my_worker"},
		{"duplicate instance", func(st *spec.Stack) { st.Instances[2].Name = "db" }, "instances.db"},
		{"full spec without image", func(st *spec.Stack) { st.Instances[2].Overrides.Image = "" }, "instances.worker.image"},
		{"dependency on unknown instance", func(st *spec.Stack) {
			st.Instances[1].Overrides.DependsOn = []spec.Dependency{{Name: "cache"}}
		}, "instances.web.depends_on"},
		{"host port clash", func(st *spec.Stack) {
			st.Instances[1].Overrides.Ports = []spec.Port{{HostPort: 15432, ContainerPort: 5173}}
		}, "instances.web.ports"},
		{"template reference without name", func(st *spec.Stack) { st.Instances[0].Template = &spec.Template{} }, "instances.db.template"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			seedTemplates(t, s)
			st := shopStack("shop")
			tc.edit(&st)
			_, err := s.ImportStack(testContext(t), st)
			var invalid *spec.ValidationError
			if !errors.As(err, &invalid) {
				t.Fatalf("err %v (%T), want *spec.ValidationError", err, err)
			}
			if !slices.ContainsFunc(invalid.Problems, func(p spec.Problem) bool { return p.Field == tc.wantField }) {
				t.Errorf("problems %v do not name %s", invalid.Problems, tc.wantField)
			}
			assertNoSecret(t, "validation error", err.Error())
			assertNothingImported(t, s)
		})
	}
}

func assertNothingImported(t *testing.T, s *state.Store) {
	t.Helper()
	for _, table := range []string{"stacks", "instances"} {
		if n := count(t, s.Pool(), "SELECT count(*) FROM "+table); n != 0 {
			t.Errorf("%d rows in %s, want 0", n, table)
		}
	}
}

func TestCreateStackRefusesALiveName(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	if _, err := s.CreateStack(ctx, shopStack("shop")); err != nil {
		t.Fatalf("first CreateStack: %v", err)
	}
	changed := shopStack("shop")
	changed.Description = "should not be stored"
	if _, err := s.CreateStack(ctx, changed); !errors.Is(err, state.ErrExists) {
		t.Fatalf("second CreateStack: %v, want ErrExists", err)
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM stacks WHERE description = 'should not be stored'`); n != 0 {
		t.Error("the refused create wrote its description")
	}
}

func TestDeletedStackNameCanBeReused(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	first := importStack(t, s, shopStack("shop"))
	if err := s.DeleteStack(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	second := importStack(t, s, shopStack("shop"))
	if second.StackAction != state.ActionCreated || second.StackID == first.StackID {
		t.Errorf("import after delete: %s id %d, want created with an id other than %d", second.StackAction, second.StackID, first.StackID)
	}
	for _, o := range second.Instances {
		if o.Action != state.ActionCreated {
			t.Errorf("instance %s: %s, want created", o.Name, o.Action)
		}
	}
}

func TestConcurrentImportsOfOneNewStack(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	const n = 4
	results := make([]state.ImportResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = s.ImportStack(ctx, shopStack("shop")) })
	}
	wg.Wait()
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("import %d: %v", i, errs[i])
		}
		if results[i].StackID != results[0].StackID {
			t.Errorf("import %d went to stack %d, import 0 to %d", i, results[i].StackID, results[0].StackID)
		}
		if results[i].StackAction == state.ActionCreated {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d imports created the stack, want 1", created)
	}
	if got := count(t, s.Pool(), `SELECT count(*) FROM instances`); got != 3 {
		t.Errorf("%d instance rows, want 3", got)
	}
}

// TestImportStackWarnsAboutWeakSecrets: an import that stores a weak
// secret succeeds and says why the secret is weak, without showing it.
func TestImportStackWarnsAboutWeakSecrets(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	seedTemplates(t, s)
	if _, err := s.UpsertTemplate(testContext(t), spec.Template{Name: "pg-default", Spec: spec.ServiceSpec{
		Image: "postgres:16", Env: []spec.EnvVar{{Key: "POSTGRES_PASSWORD", Value: "devarch"}},
	}}, "digest-pg-default"); err != nil {
		t.Fatal(err)
	}
	if res := importStack(t, s, shopStack("shop")); len(res.Warnings) != 0 {
		t.Errorf("import of strong secrets warns: %q", res.Warnings)
	}

	st := spec.Stack{Name: "ceo-demo", Enabled: true, Instances: []spec.Instance{
		{Name: "postgres", Enabled: true, Template: &spec.Template{Name: "pg-default"}},
		{Name: "app", Enabled: true, Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{
			Image: "busybox:1.36", Env: []spec.EnvVar{{Key: "API_TOKEN", Value: "abc12"}, {Key: "MODE", Value: "x"}},
		}}},
	}}
	res := importStack(t, s, st)
	if len(res.Warnings) != 2 {
		t.Fatalf("warnings = %q, want one for app's API_TOKEN and one for postgres's POSTGRES_PASSWORD", res.Warnings)
	}
	for i, want := range []string{
		`instance "app": secret API_TOKEN is weak: it is only 5 characters long`,
		`instance "postgres": secret POSTGRES_PASSWORD is weak: it is the default value of POSTGRES_PASSWORD in template "pg-default"`,
	} {
		if !strings.HasPrefix(res.Warnings[i], want) {
			t.Errorf("warning %d = %q, want it to start with %q", i, res.Warnings[i], want)
		}
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "abc12") || strings.Contains(w, "devarch") {
			t.Errorf("warning shows a secret: %q", w)
		}
	}
	// Re-importing the same weak stack changes nothing and warns again.
	if again := importStack(t, s, st); again.Changed() || len(again.Warnings) != 2 {
		t.Errorf("re-import: changed %v, warnings %q", again.Changed(), again.Warnings)
	}
}
