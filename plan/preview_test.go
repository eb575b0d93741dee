package plan

import (
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

func TestPreviewSameStackIsEmpty(t *testing.T) {
	p := Preview(shopStack(), shopStack(), testPaths, testNow)
	if !p.Empty() || p.Summary.Total() != 0 {
		t.Fatalf("preview of an unchanged stack has changes: %+v", p.Changes)
	}
	if p.Token != tok(shopStack()) {
		t.Errorf("token %q, want the stack's token", p.Token)
	}
}

func TestPreviewAddModifyRemove(t *testing.T) {
	before := shopStack()
	after := shopStack()
	after.Instances = []spec.Instance{
		instance(31, "db", pgTemplate(), spec.Overrides{ServiceSpec: spec.ServiceSpec{
			Image: "postgres:18.3",
			Env: []spec.EnvVar{
				{Key: "POSTGRES_DB", Value: "shop"},
				{Key: "POSTGRES_PASSWORD", Value: "n3w-s3cret-value", Secret: true},
			},
			Ports: []spec.Port{{HostIP: "127.0.0.1", HostPort: 15432, ContainerPort: 5432, Protocol: "tcp"}},
		}}),
		instance(0, "cache", nil, spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "redis:7"}}),
	}
	p := Preview(before, after, testPaths, testNow)
	if got := p.Summary; got != (Summary{Add: 1, Modify: 1, Remove: 1}) {
		t.Fatalf("summary %+v, want 1/1/1: %+v", got, p.Changes)
	}
	byInst := map[string]Change{}
	for _, c := range p.Changes {
		byInst[c.Instance] = c
	}
	if c := byInst["edge"]; c.Action != ActionRemove || c.Container != "devarch-shop-edge" {
		t.Errorf("edge: %+v, want a removal of devarch-shop-edge", c)
	}
	if c := byInst["cache"]; c.Action != ActionAdd || !hasPath(c.Fields, "image") {
		t.Errorf("cache: %+v, want an add with its image", c)
	}
	db := byInst["db"]
	if db.Action != ActionModify || !db.Recreate {
		t.Fatalf("db: %+v, want a modify that recreates", db)
	}
	paths := map[string]FieldChange{}
	for _, f := range db.Fields {
		paths[f.Path] = f
	}
	if len(paths) != 2 {
		t.Errorf("db fields %v, want exactly image and env.POSTGRES_PASSWORD", db.Fields)
	}
	if f := paths["image"]; f.Source != spec.SourceUser || *f.Old != "postgres:18.2" || *f.New != "postgres:18.3" {
		t.Errorf("image change %+v", f)
	}
	if f := paths["env.POSTGRES_PASSWORD"]; !f.Sensitive || *f.New != spec.RedactedValue {
		t.Errorf("secret change %+v, want it redacted", f)
	}
	var b strings.Builder
	if err := p.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"n3w-s3cret-value", "devarch\""} {
		if strings.Contains(b.String(), secret) {
			t.Errorf("the preview shows secret %q:\n%s", secret, b.String())
		}
	}
}

func TestPreviewDisableAndDelete(t *testing.T) {
	before := shopStack()
	after := shopStack()
	after.Instances[1].Enabled = false
	p := Preview(before, after, testPaths, testNow)
	if len(p.Changes) != 1 || p.Changes[0].Instance != "edge" || len(p.Changes[0].Fields) != 1 || p.Changes[0].Fields[0].Path != "enabled" || p.Changes[0].Recreate {
		t.Fatalf("disable: %+v, want one enabled change of edge", p.Changes)
	}
	deleted := shopStack()
	deleted.Instances = nil
	p = Preview(before, deleted, testPaths, testNow)
	if p.Summary != (Summary{Remove: 2}) {
		t.Fatalf("delete: %+v, want two removals", p.Summary)
	}
	p = Preview(spec.Stack{}, before, testPaths, testNow)
	if p.Summary != (Summary{Add: 2}) || p.Stack != "shop" {
		t.Fatalf("create: %+v, want two adds", p.Summary)
	}
}

// A revert's preview names exactly the fields the plan then shows against
// the containers of the state it reverts from: the two use one field diff.
func TestPreviewMatchesThePlanAfterRevert(t *testing.T) {
	v1 := shopStack()
	v2 := shopStack()
	v2.Instances[0].Overrides.Image = "postgres:18.3"
	v2.Instances[0].Overrides.Env = append(v2.Instances[0].Overrides.Env, spec.EnvVar{Key: "EXTRA", Value: "1"})
	v2 = remerge(v2)
	preview := Preview(v2, v1, testPaths, testNow)
	p, err := Compute(Desired{Stack: v1, Paths: testPaths}, Observed{Containers: converged(v2)}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	fields := func(p *Plan) map[string][]string {
		out := map[string][]string{}
		for _, c := range p.Changes {
			for _, f := range c.Fields {
				out[c.Instance] = append(out[c.Instance], f.Path+" "+orNil(f.Old)+" -> "+orNil(f.New))
			}
		}
		return out
	}
	got, want := fields(p), fields(preview)
	if len(want["db"]) != 2 || len(got) != 1 || strings.Join(got["db"], "\n") != strings.Join(want["db"], "\n") {
		t.Fatalf("plan after the revert:\n%v\npreview:\n%v", got, want)
	}
}

func orNil(s *string) string {
	if s == nil {
		return "(none)"
	}
	return *s
}

// A preview's token is the one the stack's plan has once the change is
// saved, so that it can be approved; a preview that creates the stack or
// an instance has none, since the token covers ids given only on save.
func TestPreviewTokenOnlyWhenItCanApprove(t *testing.T) {
	edited := shopStack()
	edited.Instances[0].Overrides.Image = "postgres:18.3"
	edited = remerge(edited)
	withNew := shopStack()
	withNew.Instances = append(withNew.Instances, instance(0, "cache", nil, spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "redis:7"}}))
	created := shopStack()
	created.ID = 0
	for i := range created.Instances {
		created.Instances[i].ID = 0
	}
	for _, c := range []struct {
		name          string
		before, after spec.Stack
		want          string
		wantText      string
	}{
		{"edit", shopStack(), edited, tok(edited), "Stack shop (id 3)\nToken " + tok(edited)},
		{"new instance", shopStack(), withNew, "", "Stack shop (id 3)\nToken none yet"},
		{"new stack", spec.Stack{}, created, "", "Stack shop (new)\nToken none yet"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := Preview(c.before, c.after, testPaths, testNow)
			if p.Token != c.want {
				t.Fatalf("token %q, want %q", p.Token, c.want)
			}
			var b strings.Builder
			if err := p.WriteText(&b, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(b.String(), c.wantText) {
				t.Fatalf("text starts %q, want %q", b.String()[:min(len(b.String()), 120)], c.wantText)
			}
		})
	}
}
