package state_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// revisionDiff decodes a revision's diff.
func revisionDiff(t *testing.T, r state.Revision) plan.Plan {
	t.Helper()
	var p plan.Plan
	if err := json.Unmarshal(r.Diff, &p); err != nil {
		t.Fatalf("revision %d diff: %v", r.Number, err)
	}
	return p
}

// fieldPaths lists the paths of a change's fields.
func fieldPaths(c plan.Change) []string {
	var out []string
	for _, f := range c.Fields {
		out = append(out, f.Path)
	}
	return out
}

func TestEveryChangeStoresOneRevision(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	ctx = state.WithAuthor(ctx, "alice")
	if _, err := s.ImportStack(ctx, shopStack("shop")); err != nil {
		t.Fatal(err)
	}
	// Re-importing the same definition changes nothing: no revision.
	res, err := s.ImportStack(ctx, shopStack("shop"))
	if err != nil || res.Revision != 0 {
		t.Fatalf("re-import: revision %d, %v; want none", res.Revision, err)
	}
	edited := shopStack("shop").Instances[0].Overrides
	edited.Image = "postgres:17"
	steps := []struct {
		kind string
		fn   func() error
	}{
		{state.RevisionEdit, func() error { return s.SetInstanceOverrides(ctx, "shop", "db", edited) }},
		{state.RevisionEnable, func() error { return s.SetInstanceEnabled(ctx, "shop", "worker", true) }},
		{state.RevisionDisable, func() error { return s.SetStackEnabled(ctx, "shop", false) }},
		{state.RevisionEnable, func() error { return s.SetStackEnabled(ctx, "shop", true) }},
		{state.RevisionDelete, func() error { return s.DeleteInstance(ctx, "shop", "worker") }},
	}
	for _, step := range steps {
		if err := step.fn(); err != nil {
			t.Fatalf("%s: %v", step.kind, err)
		}
	}
	// Changes to the value already stored write nothing.
	if err := s.SetStackEnabled(ctx, "shop", true); err != nil {
		t.Fatal(err)
	}
	if err := s.SetInstanceOverrides(ctx, "shop", "db", edited); err != nil {
		t.Fatal(err)
	}
	revs, err := s.Revisions(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for i, r := range revs {
		if r.Number != len(revs)-i || r.Author != "alice" {
			t.Errorf("revision %d: number %d by %q, want %d by alice", i, r.Number, r.Author, len(revs)-i)
		}
		kinds = append(kinds, r.Kind)
		assertNoSecret(t, "revision diff", string(r.Diff))
	}
	slices.Reverse(kinds)
	want := []string{"import", "edit", "enable", "disable", "enable", "delete"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("revision kinds %v, want %v", kinds, want)
	}
	if n, err := s.StackRevision(ctx, "shop"); err != nil || n != 6 {
		t.Errorf("StackRevision = %d, %v; want 6", n, err)
	}
	edit := revisionDiff(t, revs[4])
	if len(edit.Changes) != 1 || !slices.Equal(fieldPaths(edit.Changes[0]), []string{"image"}) || *edit.Changes[0].Fields[0].New != "postgres:17" {
		t.Errorf("edit revision diff %+v, want exactly db's image", edit.Changes)
	}
	first := revisionDiff(t, revs[5])
	if first.Summary.Add != 3 {
		t.Errorf("import revision diff %+v, want three added instances", first.Summary)
	}
	for _, c := range first.Changes {
		for _, f := range c.Fields {
			if f.Path == "env.POSTGRES_PASSWORD" && (!f.Sensitive || *f.New != spec.RedactedValue) {
				t.Errorf("the secret is not redacted in the diff: %+v", f)
			}
		}
	}

	// Deleting the stack stores a revision with every instance removed.
	var stackID int64 = revs[0].StackID
	if err := s.DeleteStack(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	var kind, diff string
	if err := s.Pool().QueryRow(ctx, `SELECT kind, diff::text FROM stack_revisions WHERE stack_id = $1 AND number = 7`, stackID).Scan(&kind, &diff); err != nil {
		t.Fatal(err)
	}
	var del plan.Plan
	if err := json.Unmarshal([]byte(diff), &del); err != nil || kind != "delete" || del.Summary.Remove != 2 {
		t.Errorf("delete revision %s %+v (%v), want 2 removals", kind, del.Summary, err)
	}
}

func TestTemplateChangeStoresRevisionOfStacksUsingIt(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	importStack(t, s, shopStack("shop"))
	other := shopStack("other")
	other.Instances = other.Instances[2:] // worker only: no template
	importStack(t, s, other)
	tmpl := fixtureTemplates()[0]
	tmpl.Spec.Image = "postgres:16.4"
	if _, err := s.UpsertTemplate(state.WithAuthor(ctx, "catalog-bot"), tmpl, "digest-postgres-2"); err != nil {
		t.Fatal(err)
	}
	revs, err := s.Revisions(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].Kind != state.RevisionTemplate || revs[0].Author != "catalog-bot" {
		t.Fatalf("revisions %+v, want import then template", revs)
	}
	d := revisionDiff(t, revs[0])
	if len(d.Changes) != 1 || d.Changes[0].Instance != "db" || !slices.Equal(fieldPaths(d.Changes[0]), []string{"image"}) ||
		d.Changes[0].Fields[0].Source != spec.SourceTemplate {
		t.Errorf("template revision diff %+v, want db's image from the template", d.Changes)
	}
	if revs, _ := s.Revisions(ctx, "other"); len(revs) != 1 {
		t.Errorf("a stack that does not use the template has %d revisions, want 1", len(revs))
	}
	// A template change that does not alter the effective spec (the
	// instance overrides the field) stores nothing.
	tmpl.Spec.Ports = []spec.Port{{HostPort: 6543, ContainerPort: 5432, Protocol: "tcp"}}
	if _, err := s.UpsertTemplate(ctx, tmpl, "digest-postgres-3"); err != nil {
		t.Fatal(err)
	}
	if revs, _ := s.Revisions(ctx, "shop"); len(revs) != 2 {
		t.Errorf("an overridden template field stored a revision: %d revisions", len(revs))
	}
}

func TestEditInstanceIfRevisionAndDryRun(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	importStack(t, s, shopStack("shop"))
	pool := s.Pool()
	l := listen(t, s)
	o := shopStack("shop").Instances[0].Overrides
	o.Image = "postgres:17"
	o.Env = append(o.Env, spec.EnvVar{Key: "POSTGRES_PASSWORD", Value: "an0ther-s3cret"})
	rows := func() string {
		var out string
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM stack_revisions)::text || '/' || (SELECT count(*) FROM instances)::text || '/' ||
			(SELECT string_agg(overrides::text, ',' ORDER BY id) FROM instances)`).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := rows()
	var res state.EditResult
	notes := l.step(func() {
		var err error
		res, err = s.EditInstance(ctx, "shop", "db", o, state.EditOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
	})
	if len(notes) != 0 || rows() != before {
		t.Fatalf("a dry run wrote: %d notifications, rows %s -> %s", len(notes), before, rows())
	}
	if res.Revision != 1 || res.Changed || res.Preview.Summary.Modify != 1 {
		t.Fatalf("dry run: %+v", res)
	}
	b, _ := json.Marshal(res.Preview)
	if strings.Contains(string(b), "an0ther-s3cret") {
		t.Errorf("the preview shows the secret: %s", b)
	}
	if got := fieldPaths(res.Preview.Changes[0]); !slices.Equal(got, []string{"image", "env.POSTGRES_PASSWORD"}) {
		t.Errorf("preview fields %v, want image and env.POSTGRES_PASSWORD", got)
	} else if f := res.Preview.Changes[0].Fields[1]; !f.Sensitive || *f.New != spec.RedactedValue {
		t.Errorf("the changed password is not redacted: %+v", f)
	}

	stale := 0
	_, err := s.EditInstance(ctx, "shop", "db", o, state.EditOptions{IfRevision: &stale})
	var mismatch *state.RevisionMismatchError
	if !errors.As(err, &mismatch) || mismatch.Current != 1 || rows() != before {
		t.Fatalf("edit at a stale revision: %v, want a mismatch and nothing written", err)
	}
	one := 1
	res, err = s.EditInstance(ctx, "shop", "db", o, state.EditOptions{IfRevision: &one})
	if err != nil || res.Revision != 2 || !res.Changed {
		t.Fatalf("edit at the current revision: %+v, %v", res, err)
	}
	if _, err := s.EditInstance(ctx, "shop", "db", o, state.EditOptions{IfRevision: &one}); !errors.As(err, &mismatch) {
		t.Errorf("a second edit from revision 1: %v, want a mismatch (lost update)", err)
	}
}

func TestPreviewImportWritesNothing(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	importStack(t, s, shopStack("shop"))
	pool := s.Pool()
	l := listen(t, s)
	counts := func() string {
		var out string
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM stacks)::text || '/' || (SELECT count(*) FROM instances)::text || '/' ||
			(SELECT count(*) FROM stack_revisions)::text || '/' || (SELECT max(updated_at)::text FROM instances)`).Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := counts()
	changed := shopStack("shop")
	changed.Instances[1].Overrides.Env = []spec.EnvVar{{Key: "NODE_ENV", Value: "production"}}
	changed.Instances = append(changed.Instances[:2], spec.Instance{Name: "cache", Enabled: true,
		Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "redis:7"}}})
	var p state.ImportPreview
	notes := l.step(func() {
		var err error
		if p, err = s.PreviewImport(ctx, changed); err != nil {
			t.Fatal(err)
		}
		if _, err = s.PreviewImport(ctx, shopStack("new-stack")); err != nil {
			t.Fatal(err)
		}
	})
	if len(notes) != 0 || counts() != before {
		t.Fatalf("a preview wrote: %d notifications, %s -> %s", len(notes), before, counts())
	}
	if p.Plan.Summary != (plan.Summary{Add: 1, Modify: 1, Remove: 1}) || p.Create || p.Revision != 1 {
		t.Fatalf("preview %+v %+v", p.Plan.Summary, p)
	}
	for _, c := range p.Plan.Changes {
		if c.Instance == "web" && !slices.Equal(fieldPaths(c), []string{"env.NODE_ENV"}) {
			t.Errorf("web: fields %v, want env.NODE_ENV", fieldPaths(c))
		}
	}
	bad := shopStack("shop")
	bad.Instances[0].Template = &spec.Template{Name: "nope"}
	var missing *state.MissingTemplatesError
	if _, err := s.PreviewImport(ctx, bad); !errors.As(err, &missing) {
		t.Errorf("preview with a missing template: %v", err)
	}
}

func TestRevertRestoresRevision(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	importStack(t, s, shopStack("shop"))
	o := shopStack("shop").Instances[0].Overrides
	o.Image = "postgres:17"
	o.Env = append(o.Env, spec.EnvVar{Key: "EXTRA", Value: "1"})
	if err := s.SetInstanceOverrides(ctx, "shop", "db", o); err != nil {
		t.Fatal(err)
	}
	if err := s.SetInstanceEnabled(ctx, "shop", "worker", true); err != nil {
		t.Fatal(err)
	}
	dry, err := s.RevertStack(ctx, "shop", 1, state.EditOptions{DryRun: true})
	if err != nil || dry.Revision != 3 || dry.Changed {
		t.Fatalf("dry revert: %+v, %v", dry, err)
	}
	res, err := s.RevertStack(state.WithAuthor(ctx, "bob"), "shop", 1, state.EditOptions{})
	if err != nil || res.Revision != 4 || !res.Changed {
		t.Fatalf("revert: %+v, %v", res, err)
	}
	for _, p := range []*plan.Plan{dry.Preview, res.Preview} {
		got := map[string][]string{}
		for _, c := range p.Changes {
			got[c.Instance] = fieldPaths(c)
		}
		if len(got) != 2 || !slices.Equal(got["db"], []string{"image", "env.EXTRA"}) || !slices.Equal(got["worker"], []string{"enabled"}) {
			t.Errorf("revert diff %v, want exactly db's image and env.EXTRA and worker's enabled", got)
		}
	}
	revs, _ := s.Revisions(ctx, "shop")
	if revs[0].Kind != state.RevisionRevert || revs[0].RevertedTo == nil || *revs[0].RevertedTo != 1 || revs[0].Author != "bob" {
		t.Errorf("latest revision %+v, want a revert to 1 by bob", revs[0])
	}
	st, err := s.Stack(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if st.Instances[0].Effective.Image.Value != "postgres:16" || st.Instances[2].Enabled {
		t.Errorf("after revert: image %q, worker enabled %t", st.Instances[0].Effective.Image.Value, st.Instances[2].Enabled)
	}
	// The secret survives the round trip through the revision.
	if v := st.Instances[0].Effective.Env; !slices.ContainsFunc(v, func(e spec.EnvVar) bool { return e.Value == secretValue }) {
		t.Errorf("the secret was lost by the revert")
	}
	if _, err := s.RevertStack(ctx, "shop", 99, state.EditOptions{}); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("revert to an unknown revision: %v", err)
	}
	if _, err := s.RevertStack(ctx, "nope", 1, state.EditOptions{}); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("revert of an unknown stack: %v", err)
	}
}

// TestRevisionsOfADeletedStack: the history of a deleted stack, its
// removal pending or applied, is still listed by its name (ending with
// the delete and who made it) until a new stack takes the name.
func TestRevisionsOfADeletedStack(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	res := importStack(t, s, shopStack("shop"))
	if _, err := s.DeleteStackChecked(state.WithAuthor(ctx, "carol"), "shop", state.DeleteStackOptions{}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, wantKinds ...string) {
		t.Helper()
		revs, err := s.Revisions(ctx, "shop")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		var kinds []string
		for _, r := range revs {
			kinds = append(kinds, r.Kind)
		}
		if !slices.Equal(kinds, wantKinds) {
			t.Fatalf("%s: revisions %v, want %v", when, kinds, wantKinds)
		}
		if wantKinds[0] == state.RevisionDelete && (revs[0].Author != "carol" || revs[0].StackID != res.StackID) {
			t.Errorf("%s: delete revision %+v, want carol's of stack %d", when, revs[0], res.StackID)
		}
	}
	check("removal pending", state.RevisionDelete, state.RevisionImport)
	if done, err := s.FinalizeStack(ctx, res.StackID); err != nil || !done {
		t.Fatalf("FinalizeStack = %v, %v", done, err)
	}
	check("removal applied", state.RevisionDelete, state.RevisionImport)
	again := importStack(t, s, shopStack("shop"))
	check("name taken again", state.RevisionImport)
	if revs, _ := s.Revisions(ctx, "shop"); revs[0].StackID != again.StackID {
		t.Errorf("the name lists stack %d's revisions, want the live stack %d's", revs[0].StackID, again.StackID)
	}
	if _, err := s.Revisions(ctx, "never"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("revisions of a name never used: %v, want ErrNotFound", err)
	}
}
