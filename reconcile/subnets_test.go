package reconcile_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// TestManagedSubnetFromPlanToRemoval: with network.subnet_pool set, a
// stack's first plan shows the subnet the store allocated for it, the
// loop applies the approval with that subnet, and finalizing the stack's
// removal frees the subnet.
func TestManagedSubnetFromPlanToRemoval(t *testing.T) {
	e := newEnv(t)
	pool, problems := spec.ParseSubnetPool("10.196.0.0/16", 24)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	st, err := state.Open(t.Context(), e.url, "reconcile-test-subnets", state.WithSubnetPool(pool))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e.store = st // the test's plans, reads and approvals see the managed subnet
	s := e.createStack("subnet", smallInstance("app", false))
	if !pool.Holds(s.Subnet) {
		t.Fatalf("stack read with the pool has subnet %q, want one of %s", s.Subnet, pool.Prefix)
	}
	t.Cleanup(func() { _, _ = e.docker.NetworkRemove(t.Context(), s.Network(), client.NetworkRemoveOptions{}) })

	p := e.planOf(s.ID)
	var text bytes.Buffer
	if err := p.WriteText(&text, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "+ network " + s.Network() + " subnet " + s.Subnet; !strings.Contains(text.String(), want) {
		t.Fatalf("first plan lacks %q:\n%s", want, text.String())
	}

	e.startReplica("subnet", reconcile.Options{Resync: time.Hour}, func(d *reconcile.Deps) {
		d.Planner = planner.New(st, d.Observer.(planner.Observer), planner.Options{})
	})
	e.applyApproved(s)
	nets, err := e.docker.NetworkList(t.Context(), client.NetworkListOptions{Filters: make(client.Filters).Add("name", s.Network())})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nets.Items {
		if n.Name == s.Network() {
			for _, c := range n.IPAM.Config {
				got = append(got, c.Subnet.String())
			}
		}
	}
	if !slices.Equal(got, []string{s.Subnet}) {
		t.Fatalf("network %s has subnets %v after the apply, the plan showed %s", s.Network(), got, s.Subnet)
	}

	if _, err := st.DeleteStackChecked(t.Context(), s.Name, state.DeleteStackOptions{}); err != nil {
		t.Fatal(err)
	}
	e.applyApproved(s)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := st.StackByID(t.Context(), s.ID)
		if errors.Is(err, state.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the removed stack is not finalised: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	held, err := st.StackSubnets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if sn, ok := held[s.ID]; ok {
		t.Errorf("the finalised stack still holds subnet %s", sn)
	}
}
