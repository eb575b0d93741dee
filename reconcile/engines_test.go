package reconcile_test

import (
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// driftWithin is a loose ceiling on how soon after `docker stop` or
// `docker kill` (or podman's) returns the controller must see the stack
// Drifted. With the resync an hour away, anything below it was seen from
// the engine's events; the real figures (tens of milliseconds on an idle
// machine, a second's target) are measured by the drift benchmarks and
// logged here. On a loaded machine Podman's event log alone has lagged
// seconds behind.
const driftWithin = 10 * time.Second

// TestStopAndKillAreDriftFromEvents runs on every engine of
// DEVARCH_TEST_ENGINES: the engine's own CLI stops, and later kills, a
// managed container (on Podman the CLI works on the storage directly, not
// through the API the controller watches: the event comes from Podman's
// event log), and the controller, whose resync is an hour away, shows the
// stack Drifted from the engine's events each time.
func TestStopAndKillAreDriftFromEvents(t *testing.T) {
	testenv.EachEngine(t, func(t *testing.T, en testenv.Engine) {
		e := newEnvOn(t, en)
		s := e.createStack("drift", smallInstance("web", false))
		r := e.startReplica("drift", reconcile.Options{Resync: time.Hour}, nil)
		name := spec.ContainerName(s.Name, "web")
		for _, cmd := range [][]string{{"stop", "-t", "5", name}, {"kill", name}} {
			a := e.file(t.Context(), s, "")
			if got := e.waitApproval(a.ID, 60*time.Second, "final", final); got.Status != approval.Succeeded {
				t.Fatalf("apply before %s: %s %q", cmd[0], got.Status, got.Message)
			}
			e.waitStatus(s.ID, 20*time.Second, "InSync", func(st state.StackStatus) bool { return st.Condition == reconcile.InSync })
			if out, err := en.CLI(t, cmd...).CombinedOutput(); err != nil {
				t.Fatalf("%s %s: %v: %s", en.Name, strings.Join(cmd, " "), err, out)
			}
			done := time.Now()
			for r.ctrl.Statuses()[s.ID].Condition != reconcile.Drifted {
				if time.Since(done) > 15*time.Second {
					t.Fatalf("15 s after %s %s the controller sees %+v, want Drifted", en.Name, cmd[0], r.ctrl.Statuses()[s.ID])
				}
				time.Sleep(5 * time.Millisecond)
			}
			took := time.Since(done)
			t.Logf("%s %s: Drifted %v after the command returned", en.Name, cmd[0], took.Round(time.Millisecond))
			if took > driftWithin {
				t.Errorf("%s %s: Drifted after %v, want at most %v", en.Name, cmd[0], took.Round(time.Millisecond), driftWithin)
			}
		}
	})
}
