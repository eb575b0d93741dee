package reconcile_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
)

// TestApprovalHistoryShowsKeptVolume applies, through the loop, a stack
// whose named volume was created by hand with other labels: the approval
// succeeds, its history (the stored progress events) holds a warning that
// the volume was kept, and compose's line about the volume is in the
// controller's log with the stack and the approval.
func TestApprovalHistoryShowsKeptVolume(t *testing.T) {
	e := newEnv(t)
	var volume string
	t.Cleanup(func() { // after the stack's containers are gone (cleanups run last first)
		if volume != "" {
			_, _ = e.docker.VolumeRemove(context.Background(), volume, client.VolumeRemoveOptions{Force: true})
		}
	})
	db := smallInstance("db", false)
	db.Overrides.Volumes = []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "data", Target: "/data"}}
	s := e.createStack("vol", db)
	volume = spec.ProjectName(s.Name) + "_data"
	if _, err := e.docker.VolumeCreate(t.Context(), client.VolumeCreateOptions{Name: volume, Labels: map[string]string{"something": "else"}}); err != nil {
		t.Fatal(err)
	}

	r := e.startReplica("vol", reconcile.Options{Resync: time.Hour}, nil)
	a := e.file(t.Context(), s, "")
	a = e.waitApproval(a.ID, 2*time.Minute, "final", final)
	if a.Status != approval.Succeeded {
		t.Fatalf("approval %s: %s", a.Status, a.Message)
	}

	events, err := e.store.ApprovalEvents(t.Context(), a.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kept bool
	for _, ev := range events {
		if ev.Container == "volume "+volume && ev.Status == "warning" && strings.Contains(ev.Message, "keeps its data") {
			kept = true
		}
	}
	if !kept {
		t.Errorf("the approval's history has no warning that volume %s was kept: %+v", volume, events)
	}

	var logged bool
	for _, entry := range r.logs.All() {
		m := entry.ContextMap()
		if m["library"] == "compose" && strings.Contains(entry.Message, volume) {
			logged = true
			if m["stack"] != s.Name || m["approval_id"] != a.ID {
				t.Errorf("compose's line %q has stack %v approval_id %v, want %s and %d", entry.Message, m["stack"], m["approval_id"], s.Name, a.ID)
			}
		}
	}
	if !logged {
		t.Error("compose's warning about the volume is not in the controller's log")
	}
	if v, err := e.docker.VolumeInspect(t.Context(), volume, client.VolumeInspectOptions{}); err != nil || v.Volume.Labels["something"] != "else" {
		t.Errorf("volume %s after the apply: labels %v, err %v; want it kept", volume, v.Volume.Labels, err)
	}
}
