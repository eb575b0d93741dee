package reconcile_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
)

// TestApprovalMessageNamesTheNetwork reproduces the catalog's postgres
// default password "devarch", the prefix of every name the controller
// generates: the stack's network exists, owned by another stack, and the
// failed approval, its progress events and the log must name the network
// as it is, while the password stays hidden where it appears as a value.
func TestApprovalMessageNamesTheNetwork(t *testing.T) {
	e := newEnv(t)
	db := smallInstance("db", false)
	db.Overrides.Env = []spec.EnvVar{{Key: "MODE", Value: "test"}, {Key: "POSTGRES_PASSWORD", Value: "devarch"}}
	s := e.createStack("scrubnet", db)
	// The network's owner is a stack of this database: a network of a stack
	// the database does not have would be adopted (an orphan).
	other := e.createStack("scrubother", smallInstance("x", false))
	network := s.Network()
	// createStack's cleanup removes the network by name.
	if _, err := e.docker.NetworkCreate(t.Context(), network, client.NetworkCreateOptions{Driver: "bridge", Labels: map[string]string{
		spec.LabelManagedBy: spec.ManagedByValue, spec.LabelStackID: strconv.FormatInt(other.ID, 10), spec.LabelStack: other.Name,
	}}); err != nil {
		t.Fatalf("create the other stack's network: %v", err)
	}

	r := e.startReplica("scrubnet", reconcile.Options{Resync: time.Hour}, nil)
	a := e.file(t.Context(), s, "")
	got := e.waitApproval(a.ID, 60*time.Second, "final", final)
	if got.Status != approval.Failed {
		t.Fatalf("approval = %s %q, want failed", got.Status, got.Message)
	}
	want := `Apply failed in the network phase: network "` + network + `" belongs to another stack of this controller (stack id ` +
		strconv.FormatInt(other.ID, 10) + `)`
	if !strings.HasPrefix(got.Message, want) || strings.Contains(got.Message, spec.RedactedValue) {
		t.Errorf("approval message = %q, want it to start with %q and hide nothing", got.Message, want)
	}

	events, err := e.store.ApprovalEvents(t.Context(), a.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	named := false
	for _, ev := range events {
		if strings.Contains(ev.Container+ev.Message, spec.RedactedValue) {
			t.Errorf("progress event mangled: %+v", ev)
		}
		named = named || (ev.Container == "network "+network && strings.Contains(ev.Message, `network "`+network+`"`))
	}
	if !named {
		t.Errorf("no progress event names the network %s: %+v", network, events)
	}
	for _, entry := range r.logs.FilterMessage("apply failed").All() {
		if msg := entry.ContextMap()["message"]; msg != got.Message {
			t.Errorf("logged message = %v, want the approval's %q", msg, got.Message)
		}
	}

	// The password is still hidden where an engine error quotes it as a
	// value, even inside a message that names the stack's containers.
	cur, err := e.store.StackByID(context.Background(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	quoted := "Container " + spec.ContainerName(s.Name, "db") + ": env POSTGRES_PASSWORD=devarch rejected"
	if got, want := cur.Scrubber().Scrub(quoted), "Container "+spec.ContainerName(s.Name, "db")+": env POSTGRES_PASSWORD=(sensitive) rejected"; got != want {
		t.Errorf("Scrub(%q) = %q, want %q", quoted, got, want)
	}
}
