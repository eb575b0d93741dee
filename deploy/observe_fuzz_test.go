package deploy

import (
	"strings"
	"testing"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/events"

	"github.com/devarch/devarch-controller/spec"
)

// FuzzNormalizeImageRef: image references come from templates, stack
// files and the engine's image list, and are matched by their normalized
// form. Normalizing never panics, is idempotent, and maps a valid
// reference to a valid reference naming the same repository.
func FuzzNormalizeImageRef(f *testing.F) {
	for _, s := range []string{"postgres", "postgres:16", "docker.io/library/redis:7", "ghcr.io/org/app:1", "localhost:5000/a/b",
		"a@sha256:" + strings.Repeat("0", 64), "UPPER:1", "", ":", "a:b:c", "devarch-test/sleeper:latest", "x/../y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		n := NormalizeImageRef(ref)
		if again := NormalizeImageRef(n); again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", ref, n, again)
		}
		in, err := reference.ParseNormalizedNamed(ref)
		if err != nil {
			if n != ref {
				t.Fatalf("invalid reference %q normalized to %q", ref, n)
			}
			return
		}
		out, err := reference.ParseNormalizedNamed(n)
		if err != nil {
			t.Fatalf("valid reference %q normalized to invalid %q: %v", ref, n, err)
		}
		if in.Name() != out.Name() {
			t.Fatalf("%q (repository %s) normalized to %q (repository %s)", ref, in.Name(), n, out.Name())
		}
	})
}

// FuzzToEvent: engine events carry the labels of the container, which
// anyone with engine access sets. Only container events of managed
// containers with a valid stack id become events, exec_* events never do,
// and the ids are those of the labels.
func FuzzToEvent(f *testing.F) {
	f.Add("container", "die", "devarch", "7", "70")
	f.Add("container", "exec_start: sh", "devarch", "7", "70")
	f.Add("network", "connect", "devarch", "7", "")
	f.Add("container", "start", "other", "-1", "x")
	f.Fuzz(func(t *testing.T, typ, action, managedBy, stackID, instanceID string) {
		m := events.Message{Type: events.Type(typ), Action: events.Action(action), Actor: events.Actor{ID: "c1", Attributes: map[string]string{
			spec.LabelManagedBy: managedBy, spec.LabelStackID: stackID, spec.LabelInstanceID: instanceID,
		}}}
		ev, ok := toEvent(m)
		if !ok {
			return
		}
		sid, iid, claimed := spec.IdentityFromLabels(m.Actor.Attributes)
		switch {
		case typ != string(events.ContainerEventType), strings.HasPrefix(action, "exec_"), !claimed:
			t.Fatalf("event %+v accepted", m)
		case ev.StackID != sid || ev.InstanceID != iid || ev.StackID <= 0:
			t.Fatalf("event ids %d/%d, labels say %d/%d", ev.StackID, ev.InstanceID, sid, iid)
		}
	})
}
