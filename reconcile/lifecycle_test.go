package reconcile_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// planOf plans the stack with id as the API and the CLI do.
func (e *env) planOf(id int64) *plan.Plan {
	e.t.Helper()
	rt, err := deploy.NewRuntime(e.host, zap.NewNop())
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = rt.Close() }()
	pl := planner.New(e.store, rt.NewObserver(), planner.Options{})
	d, err := pl.DesiredByID(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := pl.Plan(e.t.Context(), d)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// applyApproved files an approval of the stack's current desired state
// and waits for it to succeed.
func (e *env) applyApproved(s spec.Stack) approval.Approval {
	e.t.Helper()
	a := e.file(e.t.Context(), s, "")
	a = e.waitApproval(a.ID, 2*time.Minute, "final", final)
	if a.Status != approval.Succeeded {
		e.t.Fatalf("approval of %s: %s: %s", s.Name, a.Status, a.Message)
	}
	return a
}

// labeled lists the containers and networks labeled with the stack's id.
func (e *env) labeled(id int64) (containers, networks []string) {
	e.t.Helper()
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+strconv.FormatInt(id, 10))
	cs, err := e.docker.ContainerList(e.t.Context(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range cs.Items {
		containers = append(containers, c.Names...)
	}
	ns, err := e.docker.NetworkList(e.t.Context(), client.NetworkListOptions{Filters: f})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, n := range ns.Items {
		networks = append(networks, n.Name)
	}
	return containers, networks
}

// anonymousVolumes returns the names of the anonymous volumes mounted in
// the stack's containers.
func (e *env) anonymousVolumes(id int64, named string) []string {
	e.t.Helper()
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+strconv.FormatInt(id, 10))
	cs, err := e.docker.ContainerList(e.t.Context(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, c := range cs.Items {
		for _, m := range c.Mounts {
			if m.Type == "volume" && m.Name != named {
				out = append(out, m.Name)
			}
		}
	}
	return out
}

func volumeExists(e *env, name string) bool {
	_, err := e.docker.VolumeInspect(e.t.Context(), name, client.VolumeInspectOptions{})
	return err == nil
}

// TestDeleteStackRemovesEverything, on every engine of
// DEVARCH_TEST_ENGINES: delete → plan (- each container, - network, the
// named volume kept or removed) → approve → apply → nothing labeled with
// the stack is left, its anonymous volumes are gone, and the stack is
// finalised (gone from every read).
func TestDeleteStackRemovesEverything(t *testing.T) {
	testenv.EachEngine(t, testDeleteStackRemovesEverything)
}

func testDeleteStackRemovesEverything(t *testing.T, en testenv.Engine) {
	for _, removeVolumes := range []bool{false, true} {
		t.Run("remove_volumes="+strconv.FormatBool(removeVolumes), func(t *testing.T) {
			e := newEnvOn(t, en)
			db := smallInstance("db", true)
			db.Overrides.Volumes = []spec.Volume{
				{Type: spec.VolumeTypeVolume, Source: "data", Target: "/data"},
				{Type: spec.VolumeTypeVolume, Target: "/cache"},
			}
			s := e.createStack("del", db, smallInstance("app", false))
			named := spec.ProjectName(s.Name) + "_data"
			t.Cleanup(func() {
				_, _ = e.docker.VolumeRemove(context.Background(), named, client.VolumeRemoveOptions{Force: true})
			})
			e.startReplica("del", reconcile.Options{Resync: time.Hour}, nil)
			e.applyApproved(s)
			anon := e.anonymousVolumes(s.ID, named)
			if len(anon) == 0 || !volumeExists(e, named) {
				t.Fatalf("after the first apply: anonymous volumes %v, named volume exists %v", anon, volumeExists(e, named))
			}

			if _, err := e.store.DeleteStackChecked(t.Context(), s.Name, state.DeleteStackOptions{RemoveVolumes: removeVolumes}); err != nil {
				t.Fatal(err)
			}
			p := e.planOf(s.ID)
			if p.Summary.Add != 0 || p.Summary.Modify != 0 || len(p.Changes) != 2 {
				t.Fatalf("removal plan: %+v", p.Changes)
			}
			for _, c := range p.Changes {
				if c.Action != plan.ActionRemove || c.Reason != "the stack is deleted" {
					t.Errorf("change %+v, want a removal because the stack is deleted", c)
				}
			}
			wantVolume := plan.ResourceKeep
			if removeVolumes {
				wantVolume = plan.ResourceRemove
			}
			wantResources := []plan.Resource{{Kind: plan.ResourceNetwork, Name: s.Network(), Action: plan.ResourceRemove},
				{Kind: plan.ResourceVolume, Name: named, Action: wantVolume}}
			if len(p.Resources) != 2 || p.Resources[0].Kind != wantResources[0].Kind || p.Resources[0].Name != wantResources[0].Name ||
				p.Resources[0].Action != wantResources[0].Action || p.Resources[1].Name != named || p.Resources[1].Action != wantVolume {
				t.Errorf("resources %+v, want %+v", p.Resources, wantResources)
			}
			var text bytes.Buffer
			if err := p.WriteText(&text, plan.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), "- network "+s.Network()) || !strings.Contains(text.String(), "volume "+named) {
				t.Errorf("plan text does not name the network removal and the volume:\n%s", text.String())
			}

			if a := e.applyApproved(s); !strings.HasPrefix(a.Message, "Applied: 0 created, 0 recreated, 0 started, 0 restarted, 2 removed.") || strings.Contains(a.Message, "differences") {
				t.Errorf("removal approval message %q, want 2 removed and no differences", a.Message)
			}
			containers, networks := e.labeled(s.ID)
			if len(containers) != 0 || len(networks) != 0 {
				t.Errorf("after the removal: containers %v, networks %v still labeled with the stack", containers, networks)
			}
			for _, v := range anon {
				if volumeExists(e, v) {
					t.Errorf("anonymous volume %s of a removed container is left", v)
				}
			}
			if got := volumeExists(e, named); got == removeVolumes {
				t.Errorf("named volume exists %v after a removal with remove_volumes %v", got, removeVolumes)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				_, err := e.store.StackByID(t.Context(), s.ID)
				if errors.Is(err, state.ErrNotFound) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the removed stack is not finalised: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if stacks, _ := e.store.Stacks(t.Context()); slices.ContainsFunc(stacks, func(x spec.Stack) bool { return x.ID == s.ID }) {
				t.Error("the removed stack is still listed")
			}
		})
	}
}

// TestDeletedStackWithNothingDeployedIsFinalised: a stack deleted before
// it was ever applied has an empty removal plan and is finalised by the
// loop at once.
func TestDeletedStackWithNothingDeployedIsFinalised(t *testing.T) {
	e := newEnv(t)
	s := e.createStack("never", smallInstance("app", false))
	e.startReplica("never", reconcile.Options{Resync: time.Hour}, nil)
	if _, err := e.store.DeleteStackChecked(t.Context(), s.Name, state.DeleteStackOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := e.store.StackByID(t.Context(), s.ID); errors.Is(err, state.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a deleted stack with nothing on the engine was not finalised")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDisableEnable: disable → the plan removes every container (desired
// state kept) → apply → none left, the network kept → enable → the plan
// adds them back → apply → running; likewise for one instance; deleting
// an instance then removes its container. On every engine of
// DEVARCH_TEST_ENGINES.
func TestDisableEnable(t *testing.T) { testenv.EachEngine(t, testDisableEnable) }

func testDisableEnable(t *testing.T, en testenv.Engine) {
	e := newEnvOn(t, en)
	app := smallInstance("app", false)
	app.Overrides.Volumes = []spec.Volume{{Type: spec.VolumeTypeVolume, Target: "/cache"}}
	s := e.createStack("dis", smallInstance("db", false), app)
	e.startReplica("dis", reconcile.Options{Resync: time.Hour}, nil)
	e.applyApproved(s)

	if _, err := e.store.SetStackEnabledChecked(t.Context(), s.Name, false); err != nil {
		t.Fatal(err)
	}
	p := e.planOf(s.ID)
	if p.Summary.Remove != 2 || p.Summary.Add != 0 || len(p.Resources) != 0 {
		t.Fatalf("plan of the disabled stack: %+v", p.Summary)
	}
	for _, c := range p.Changes {
		if len(c.Fields) != 1 || c.Fields[0].Path != "stack.enabled" {
			t.Errorf("change %+v, want stack.enabled true → false", c)
		}
	}
	e.applyApproved(s)
	if containers, networks := e.labeled(s.ID); len(containers) != 0 || len(networks) != 1 {
		t.Errorf("disabled stack: containers %v, networks %v; want none and its network kept", containers, networks)
	}
	if st, err := e.store.Stack(t.Context(), s.Name); err != nil || len(st.Instances) != 2 || st.Enabled {
		t.Errorf("desired state after disabling: %+v, %v", st, err)
	}

	if _, err := e.store.SetStackEnabledChecked(t.Context(), s.Name, true); err != nil {
		t.Fatal(err)
	}
	if p := e.planOf(s.ID); p.Summary.Add != 2 || p.Summary.Remove != 0 {
		t.Fatalf("plan of the enabled stack: %+v", p.Summary)
	}
	e.applyApproved(s)
	e.waitRunning(s, "db", 30*time.Second)
	e.waitRunning(s, "app", 30*time.Second)

	if _, err := e.store.SetInstanceEnabledChecked(t.Context(), s.Name, "app", false); err != nil {
		t.Fatal(err)
	}
	p = e.planOf(s.ID)
	if p.Summary.Remove != 1 || len(p.Changes) != 1 || p.Changes[0].Instance != "app" {
		t.Fatalf("plan after disabling app: %+v", p.Changes)
	}
	anon := e.anonymousVolumes(s.ID, "")
	if len(anon) == 0 {
		t.Fatal("app has no anonymous volume")
	}
	e.applyApproved(s)
	if containers, _ := e.labeled(s.ID); len(containers) != 1 {
		t.Errorf("after disabling app: containers %v, want db only", containers)
	}
	left := e.anonymousVolumes(s.ID, "")
	for _, v := range anon {
		if !slices.Contains(left, v) && volumeExists(e, v) {
			t.Errorf("anonymous volume %s of the removed app container is left", v)
		}
	}

	// Deleting an instance is planned and applied likewise: its container
	// is removed, the stack and its network stay.
	if _, err := e.store.DeleteInstanceChecked(t.Context(), s.Name, "db"); err != nil {
		t.Fatal(err)
	}
	p = e.planOf(s.ID)
	if p.Summary.Remove != 1 || len(p.Changes) != 1 || p.Changes[0].Instance != "db" || p.Changes[0].Action != plan.ActionRemove {
		t.Fatalf("plan after deleting db: %+v", p.Changes)
	}
	e.applyApproved(s)
	if containers, networks := e.labeled(s.ID); len(containers) != 0 || len(networks) != 1 {
		t.Errorf("after deleting db: containers %v, networks %v; want none and the stack's network", containers, networks)
	}
	if st, err := e.store.Stack(t.Context(), s.Name); err != nil || len(st.Instances) != 1 || st.Instances[0].Name != "app" {
		t.Errorf("desired state after deleting db: %+v, %v; want app alone", st.Instances, err)
	}
}

// TestOrphanedNetworkAdopted, on every engine of DEVARCH_TEST_ENGINES: a
// network holding the stack's network name, labeled by this controller for
// a stack id this database does not have, with no container attached, is
// adopted by the stack's first apply instead of failing it.
func TestOrphanedNetworkAdopted(t *testing.T) {
	testenv.EachEngine(t, testOrphanedNetworkAdopted)
}

func testOrphanedNetworkAdopted(t *testing.T, en testenv.Engine) {
	e := newEnvOn(t, en)
	s := e.createStack("orph", smallInstance("app", false))
	const orphanID = "4199999999" // above the ids any test database uses
	if _, err := e.docker.NetworkCreate(t.Context(), s.Network(), client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{
		spec.LabelManagedBy: spec.ManagedByValue, spec.LabelStackID: orphanID, spec.LabelStack: s.Name,
	}}); err != nil {
		t.Fatal(err)
	}
	rt, err := deploy.NewRuntime(e.host, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rt.Close() }()
	snap, err := rt.NewObserver().Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	known, err := e.store.KnownStackIDs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if o := deploy.FindOrphans(snap, known); !slices.ContainsFunc(o.Networks, func(n deploy.OrphanNetwork) bool { return n.Name == s.Network() }) {
		t.Errorf("orphans %+v do not list network %s", o.Networks, s.Network())
	}

	reg := prometheus.NewRegistry()
	e.startReplica("orph", reconcile.Options{Resync: time.Hour, Registerer: reg}, nil)
	deadline := time.Now().Add(30 * time.Second)
	for orphanNetworks(t, reg) < 1 {
		if time.Now().After(deadline) {
			t.Fatal(`devarch_orphans{kind="network"} did not count the orphaned network`)
		}
		time.Sleep(100 * time.Millisecond)
	}
	a := e.applyApproved(s)
	if !strings.HasPrefix(a.Message, "Applied") {
		t.Errorf("approval message %q", a.Message)
	}
	snap, err = rt.NewObserver().Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if o := deploy.FindOrphans(snap, known); slices.ContainsFunc(o.Networks, func(n deploy.OrphanNetwork) bool { return n.Name == s.Network() }) {
		t.Errorf("network %s is still an orphan after the apply", s.Network())
	}
	if _, networks := e.labeled(s.ID); !slices.Equal(networks, []string{s.Network()}) {
		t.Errorf("networks labeled with the stack after the apply: %v, want %s adopted", networks, s.Network())
	}
	events, err := e.store.ApprovalEvents(t.Context(), a.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(ev approval.Event) bool { return ev.Action == "adopt" && strings.Contains(ev.Message, orphanID) }) {
		t.Errorf("the approval's history does not say the orphaned network was adopted: %+v", events)
	}
}

// orphanNetworks reads devarch_orphans{kind="network"}.
func orphanNetworks(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "devarch_orphans" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == "network" {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// TestOrphanedNetworkInUseIsNotAdopted: an orphaned network that a
// container is attached to is left alone; the apply fails naming its
// owner, and the container keeps its network.
func TestOrphanedNetworkInUseIsNotAdopted(t *testing.T) {
	e := newEnv(t)
	s := e.createStack("orphuse", smallInstance("app", false))
	const orphanID = "4199999998"
	if _, err := e.docker.NetworkCreate(t.Context(), s.Network(), client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{
		spec.LabelManagedBy: spec.ManagedByValue, spec.LabelStackID: orphanID, spec.LabelStack: s.Name,
	}}); err != nil {
		t.Fatal(err)
	}
	c, err := e.docker.ContainerCreate(t.Context(), client.ContainerCreateOptions{
		Name:       testenv.UniqueName("orphan-user-"),
		Config:     &container.Config{Image: testenv.TestImage},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode(s.Network())},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = e.docker.ContainerRemove(context.Background(), c.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := e.docker.ContainerStart(t.Context(), c.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	e.startReplica("orphuse", reconcile.Options{Resync: time.Hour}, nil)
	a := e.file(t.Context(), s, "")
	a = e.waitApproval(a.ID, time.Minute, "final", final)
	if a.Status != approval.Failed || !strings.Contains(a.Message, "stack id "+orphanID) {
		t.Errorf("approval %s %q, want failed naming the owner stack id %s", a.Status, a.Message, orphanID)
	}
	nets, err := e.docker.NetworkList(t.Context(), client.NetworkListOptions{Filters: make(client.Filters).Add("label", spec.LabelStackID+"="+orphanID)})
	if err != nil || len(nets.Items) != 1 || nets.Items[0].Name != s.Network() {
		t.Errorf("the orphaned network in use: %+v, %v; want it kept", nets.Items, err)
	}
}
