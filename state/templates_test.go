package state_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

func TestUpsertTemplate(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testContext(t)
	base := fixtureTemplates()[0]
	changed := base
	changed.Spec.Image = "postgres:17"
	changed.SourcePath = "elsewhere/compose.yml"

	steps := []struct {
		name       string
		tmpl       spec.Template
		digest     string
		wantAction string
		wantMoved  bool // updated_at moves
		wantImage  string
	}{
		{"create", base, "d1", state.ActionCreated, false, "postgres:16"},
		{"same digest", base, "d1", state.ActionUnchanged, false, "postgres:16"},
		{"same digest other content is ignored", changed, "d1", state.ActionUnchanged, false, "postgres:16"},
		{"new digest", changed, "d2", state.ActionUpdated, true, "postgres:17"},
		{"new digest again", changed, "d2", state.ActionUnchanged, false, "postgres:17"},
	}
	var id int64
	var last time.Time
	for _, step := range steps {
		time.Sleep(5 * time.Millisecond) // each step is its own transaction: now() moves
		out, err := s.UpsertTemplate(ctx, step.tmpl, step.digest)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if out.Action != step.wantAction {
			t.Errorf("%s: action %q, want %q", step.name, out.Action, step.wantAction)
		}
		if id == 0 {
			id = out.ID
		} else if out.ID != id {
			t.Errorf("%s: id %d, want %d", step.name, out.ID, id)
		}
		at := updatedAt(t, s.Pool(), "templates", id)
		if moved := !at.Equal(last); !last.IsZero() && moved != step.wantMoved {
			t.Errorf("%s: updated_at moved=%v, want %v", step.name, moved, step.wantMoved)
		}
		last = at
		got, err := s.Template(ctx, base.Name)
		if err != nil {
			t.Fatalf("%s: Template: %v", step.name, err)
		}
		if got.Spec.Image != step.wantImage || got.ID != id {
			t.Errorf("%s: stored image %q id %d, want %q id %d", step.name, got.Spec.Image, got.ID, step.wantImage, id)
		}
	}
}

func TestUpsertTemplateRejectsEmptyNameOrDigest(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, tc := range []struct {
		name   string
		digest string
	}{{"", "d"}, {"x", ""}} {
		if _, err := s.UpsertTemplate(testContext(t), spec.Template{Name: tc.name, Spec: spec.ServiceSpec{Image: "x"}}, tc.digest); err == nil {
			t.Errorf("UpsertTemplate(name %q, digest %q) succeeded", tc.name, tc.digest)
		}
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM templates`); n != 0 {
		t.Errorf("%d templates stored, want 0", n)
	}
}

func TestTemplatesReadBack(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	list, err := s.Templates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := fixtureTemplates()
	if len(list) != len(want) {
		t.Fatalf("%d templates, want %d", len(list), len(want))
	}
	for i := range want {
		got := list[i]
		if got.ID == 0 {
			t.Errorf("%s: no id", got.Name)
		}
		if len(got.ContentDigest) != 32 {
			t.Errorf("%s: content digest of %d bytes, want a SHA-256", got.Name, len(got.ContentDigest))
		}
		got.ID, got.ContentDigest = 0, nil
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("template %d:\n got %+v\nwant %+v", i, got, want[i])
		}
	}
	_, err = s.Template(ctx, "nope")
	if !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Template(nope): %v, want ErrNotFound", err)
	}
}
