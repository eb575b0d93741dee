package reconcile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// manyConfigFiles is how many config files manyConfigInstance carries:
// enough that materializing them (each written and synced) takes far
// longer than the test needs to see the phase start and kill the process.
const manyConfigFiles = 256

// manyConfigInstance is an instance whose config files make the configs
// phase of an apply last tens of milliseconds or more.
func manyConfigInstance(name string) spec.Instance {
	inst := smallInstance(name, false)
	body := strings.Repeat("# a line of a generated virtual host file\n", 400) // 16 KiB
	for i := range manyConfigFiles {
		inst.Overrides.ConfigFiles = append(inst.Overrides.ConfigFiles, spec.ConfigFile{
			Path: fmt.Sprintf("conf.d/site-%03d.conf", i), Target: fmt.Sprintf("/etc/app/conf.d/site-%03d.conf", i), Content: body})
	}
	return inst
}

func isNetworkEvent(ev approval.Event) bool { return strings.HasPrefix(ev.Container, "network ") }
func isConfigsEvent(ev approval.Event) bool { return ev.Container == "config files" }
func isComposeEvent(ev approval.Event) bool {
	// Compose names containers devarch-<stack>-<instance>; volumes and
	// networks carry their kind ("volume x", "network x").
	return strings.HasPrefix(ev.Container, "devarch-")
}

// killPhases are the apply phases a serve process is killed in. The kill
// follows at once when entered matches a recorded progress event and then,
// if set, under_way reports the phase's work visible on the host. left
// matches events recorded only once the phase ended; partial, if set,
// checks after the kill that the phase was cut off halfway.
var killPhases = []struct {
	phase     string
	instances func() []spec.Instance
	entered   func(approval.Event) bool
	underWay  func(e *env, s spec.Stack) bool
	left      func(approval.Event) bool
	partial   func(e *env, s spec.Stack) error
}{
	{
		// The stack's network does not exist yet: creating it takes the
		// engine tens of milliseconds.
		phase:     deploy.PhaseNetwork,
		instances: func() []spec.Instance { return []spec.Instance{smallInstance("web", true)} },
		entered: func(ev approval.Event) bool {
			return isNetworkEvent(ev) && ev.Action == "ensure" && ev.Status == deploy.ProgressWorking
		},
		left: func(ev approval.Event) bool { return isNetworkEvent(ev) && ev.Status != deploy.ProgressWorking },
	},
	{
		// Materializing follows the network step. The host is watched from
		// the start of the network step (creating the network takes tens
		// of milliseconds), and the kill follows the first file written
		// into the temporary config folder.
		phase:     deploy.PhaseConfigs,
		instances: func() []spec.Instance { return []spec.Instance{manyConfigInstance("web")} },
		entered:   isNetworkEvent,
		underWay:  func(e *env, s spec.Stack) bool { return len(e.tmpConfigFiles(s)) > 0 },
		left:      isConfigsEvent,
		partial: func(e *env, s spec.Stack) error {
			n := len(e.tmpConfigFiles(s))
			if n == 0 || n >= manyConfigFiles {
				return fmt.Errorf("the temporary config folder holds %d of %d files", n, manyConfigFiles)
			}
			e.t.Logf("%d of %d config files were written when the process died", n, manyConfigFiles)
			return nil
		},
	},
	{
		// "app" waits for "db" to become healthy: compose up lasts seconds.
		phase:     deploy.PhaseCompose,
		instances: slowInstances,
		entered:   isComposeEvent,
		left:      func(approval.Event) bool { return false }, // the approval still applying proves it
	},
}

// tmpConfigFiles lists the config files written so far into stack s's
// temporary config folders.
func (e *env) tmpConfigFiles(s spec.Stack) []string {
	m, _ := filepath.Glob(filepath.Join(e.paths.StateDir, "stacks", "."+s.Name+".tmp-*", "web", "conf.d", "*"))
	return m
}

// TestFaultKillAtEachApplyPhase kills a serve process with SIGKILL in each
// phase of an apply (network, configs, compose), as soon as the phase is
// seen under way: its first progress event recorded or, for configs, its
// first file written. Whatever the process was doing, a fresh
// controller calls the approval interrupted, the stack's lock is free, and
// a new approval applies the stack to InSync without leftover work folders.
func TestFaultKillAtEachApplyPhase(t *testing.T) {
	for _, tt := range killPhases {
		t.Run(tt.phase, func(t *testing.T) {
			e := newEnv(t)
			s := e.createStack("kill"+tt.phase, tt.instances()...)
			events, err := e.store.Listen(t.Context(), state.ChannelApprovalEvents)
			if err != nil {
				t.Fatal(err)
			}
			serve := e.startChild(time.Hour)
			a := e.file(t.Context(), s, "")
			seen := e.killWhen(serve, a.ID, events, tt.entered, func() bool { return tt.underWay == nil || tt.underWay(e, s) })

			got, err := e.store.Approval(t.Context(), a.ID)
			if err != nil || got.Status != approval.Applying {
				t.Fatalf("after the kill the approval is %+v (err %v), want still applying", got, err)
			}
			if i := slices.IndexFunc(seen, tt.left); i >= 0 {
				t.Fatalf("the kill came after the %s phase ended (event %+v): make the phase slower", tt.phase, seen[i])
			}
			if tt.partial != nil {
				if err := tt.partial(e, s); err != nil {
					t.Fatalf("the kill did not cut the %s phase off halfway: %v", tt.phase, err)
				}
			}
			t.Logf("killed in the %s phase after %d progress events; work folders left: %v", tt.phase, len(seen), e.workFolders())

			e.recoverAfterKill("after-kill", s, a)
			if left := e.workFolders(); len(left) > 0 {
				t.Errorf("work folders left after a successful apply: %v", left)
			}
			e.checkConfigFolder(s)
		})
	}
}

// killWhen sends SIGKILL to serve as soon as approval id records a
// progress event for which at returns true and then underWay returns true
// (polled without pause, for at most 10 s), waits for the process to die
// and returns every event recorded by then.
func (e *env) killWhen(serve *child, id int64, events <-chan state.Notification, at func(approval.Event) bool, underWay func() bool) []approval.Event {
	e.t.Helper()
	var seen []approval.Event
	timeout := time.After(60 * time.Second)
	for killed := false; !killed; {
		select {
		case n, ok := <-events:
			if !ok {
				e.t.Fatal("the event listener stopped")
			}
			if c, err := state.ParseApprovalEventChange(n.Payload); err == nil && c.ApprovalID != id {
				continue
			}
		case <-timeout:
			e.t.Fatalf("approval %d recorded no matching progress event within 60 s (events: %+v)", id, seen)
		}
		more, err := e.store.ApprovalEvents(e.t.Context(), id, len(seen))
		if err != nil {
			e.t.Fatal(err)
		}
		seen = append(seen, more...)
		if slices.ContainsFunc(more, at) {
			for deadline := time.Now().Add(10 * time.Second); !underWay(); {
				if time.Now().After(deadline) {
					e.t.Fatal("the phase's work did not show within 10 s of its start")
				}
			}
			serve.signal(syscall.SIGKILL)
			killed = true
		}
	}
	if st := serve.wait(10 * time.Second); st.Success() {
		e.t.Fatalf("serve child exited %v after SIGKILL", st)
	}
	// Events committed between the marker and the kill.
	more, err := e.store.ApprovalEvents(e.t.Context(), id, len(seen))
	if err != nil {
		e.t.Fatal(err)
	}
	return append(seen, more...)
}

// workFolders lists the hidden work folders (.<stack>.tmp-*, .old-*)
// under the state directory's stacks folder.
func (e *env) workFolders() []string {
	e.t.Helper()
	matches, err := filepath.Glob(filepath.Join(e.paths.StateDir, "stacks", ".*"))
	if err != nil {
		e.t.Fatal(err)
	}
	return matches
}

// checkConfigFolder fails the test unless stack s's config folder holds
// exactly the config files of its enabled instances, with their content.
func (e *env) checkConfigFolder(s spec.Stack) {
	e.t.Helper()
	cur, err := e.store.StackByID(e.t.Context(), s.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	want := map[string]string{}
	for _, inst := range cur.Instances {
		for _, cf := range inst.Effective.ConfigFiles {
			want[deploy.ConfigPath(e.paths.StateDir, cur.Name, inst.Name, cf.Path)] = cf.Content
		}
	}
	dir := deploy.ConfigDir(e.paths.StateDir, cur.Name)
	got := 0
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if content, ok := want[p]; !ok || content != string(b) {
			e.t.Errorf("config folder of %s holds %s (%d bytes), which the stack does not define so", cur.Name, p, len(b))
		}
		return nil
	})
	if err != nil && !(os.IsNotExist(err) && len(want) == 0) {
		e.t.Fatalf("read config folder of %s: %v", cur.Name, err)
	}
	if got != len(want) {
		e.t.Errorf("config folder of %s holds %d files, want %d", cur.Name, got, len(want))
	}
}
