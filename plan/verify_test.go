package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// applied returns the stack's converged containers after an apply that
// recreated the instances in recreated (new container ids) and left the
// others as they were in before.
func applied(s spec.Stack, before []spec.Container, recreated ...string) []spec.Container {
	out := converged(s)
	for i, c := range out {
		if slices.Contains(recreated, c.InstanceName) {
			out[i].ID = hexSHA256("new-" + c.ID)
			continue
		}
		for _, b := range before {
			if b.InstanceID == c.InstanceID {
				out[i].ID = b.ID
			}
		}
	}
	return out
}

func TestVerify(t *testing.T) {
	old := shopStack()
	edited := shopStack()
	edited.Instances[0].Overrides.Env = append(edited.Instances[0].Overrides.Env, spec.EnvVar{Key: "POSTGRES_USER", Value: "shop"})
	edited = remerge(edited)
	before := Observed{Containers: converged(old), ImageIDs: imageIDs(edited), NetworkID: testNetworkID}
	predicted := mustCompute(edited, before)
	if predicted.Summary.Modify != 1 || predicted.Changes[0].Instance != "db" {
		t.Fatalf("predicted plan %+v, want db modified", predicted.Summary)
	}
	afterOf := func(cs []spec.Container) Observed {
		return Observed{Containers: cs, ImageIDs: imageIDs(edited), NetworkID: testNetworkID}
	}
	stopped := func(cs []spec.Container, instance string) []spec.Container {
		cs = slices.Clone(cs)
		for i := range cs {
			if cs[i].InstanceName == instance {
				cs[i].State, cs[i].ExitCode = spec.StateExited, 137
			}
		}
		return cs
	}
	without := func(cs []spec.Container, instance string) []spec.Container {
		return slices.DeleteFunc(slices.Clone(cs), func(c spec.Container) bool { return c.InstanceName == instance })
	}
	unpublish := func(cs []spec.Container, instance string) []spec.Container {
		cs = slices.Clone(cs)
		for i := range cs {
			if cs[i].InstanceName == instance {
				cs[i].Published = nil
			}
		}
		return cs
	}
	good := applied(edited, before.Containers, "db")
	replacedEdge := applied(edited, before.Containers, "db", "edge")

	tests := []struct {
		name  string
		after []spec.Container
		want  []string // kind/instance/field
	}{
		{"as planned", good, nil},
		{"planned container stopped by hand", stopped(good, "db"), []string{"not_applied/db/state"}},
		{"planned container missing", without(good, "db"), []string{"not_applied/db/container"}},
		{"port not published", unpublish(good, "db"), []string{"not_applied/db/ports"}},
		{"untouched container replaced", replacedEdge, []string{"unplanned/edge/container"}},
		{"untouched container gone", without(good, "edge"), []string{"unplanned/edge/container"}},
		{"untouched container stopped", stopped(good, "edge"), []string{"not_converged/edge/state"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := afterOf(tt.after)
			fresh := mustCompute(edited, after)
			got := Verify(Desired{Stack: edited, Paths: testPaths}, predicted, before, after, fresh)
			var keys []string
			for _, m := range got {
				keys = append(keys, string(m.Kind)+"/"+m.Instance+"/"+m.Field)
				if m.Detail == "" {
					t.Errorf("mismatch %+v has no detail", m)
				}
			}
			if !slices.Equal(keys, tt.want) {
				t.Errorf("Verify = %v (%+v), want %v", keys, got, tt.want)
			}
		})
	}
}

// TestVerifyRemoval: a container the plan removes must be gone.
func TestVerifyRemoval(t *testing.T) {
	s := shopStack()
	before := observedFor(s)
	edited := shopStack()
	edited.Instances = edited.Instances[:1] // edge deleted
	predicted := mustCompute(edited, before)
	if predicted.Summary.Remove != 1 {
		t.Fatalf("predicted %+v, want one removal", predicted.Summary)
	}
	left := Observed{Containers: before.Containers, ImageIDs: before.ImageIDs, NetworkID: testNetworkID}
	got := Verify(Desired{Stack: edited, Paths: testPaths}, predicted, before, left, mustCompute(edited, left))
	if len(got) != 1 || got[0].Kind != MismatchNotApplied || got[0].Field != "container" || !strings.Contains(got[0].Detail, "still there") {
		t.Fatalf("Verify with the removed container left = %+v, want one not_applied mismatch on its container", got)
	}
	gone := Observed{Containers: converged(edited), ImageIDs: before.ImageIDs, NetworkID: testNetworkID}
	if got := Verify(Desired{Stack: edited, Paths: testPaths}, predicted, before, gone, mustCompute(edited, gone)); len(got) != 0 {
		t.Errorf("Verify after the removal = %+v, want none", got)
	}
}

// TestVerifyShowsNoSecret: details come from redacted plans.
func TestVerifyShowsNoSecret(t *testing.T) {
	const secret = "hunter2-verify-secret"
	s := shopStack()
	s.Instances[0].Overrides.Env = append(s.Instances[0].Overrides.Env, spec.EnvVar{Key: "POSTGRES_PASSWORD", Value: secret},
		spec.EnvVar{Key: "DATABASE_URL", Value: "postgres://u:" + secret + "@db/x"})
	s = remerge(s)
	before := Observed{Containers: nil, ImageIDs: imageIDs(s), NetworkID: testNetworkID}
	predicted := mustCompute(s, before)
	after := Observed{Containers: nil, ImageIDs: imageIDs(s), NetworkID: testNetworkID}
	got := Verify(Desired{Stack: s, Paths: testPaths}, predicted, before, after, mustCompute(s, after))
	if len(got) == 0 {
		t.Fatal("Verify found nothing although no container was created")
	}
	for _, m := range got {
		if strings.Contains(m.Detail, secret) {
			t.Errorf("mismatch shows the secret: %+v", m)
		}
	}
	if sum := SummarizeMismatches(got); !strings.HasPrefix(sum, "Applied with differences: ") || strings.Contains(sum, secret) {
		t.Errorf("summary %q", sum)
	}
}

func TestSummarizeMismatches(t *testing.T) {
	ms := []Mismatch{{Instance: "a", Detail: "one"}, {Instance: "b", Detail: "two"}, {Instance: "c", Detail: "three"}, {Instance: "d", Detail: "four"}, {Instance: "e", Detail: "five"}}
	want := "Applied with differences: a: one; b: two; c: three; and 2 more."
	if got := SummarizeMismatches(ms); got != want {
		t.Errorf("SummarizeMismatches = %q, want %q", got, want)
	}
}
