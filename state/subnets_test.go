package state_test

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

func mustPool(t *testing.T, pool string, bits int) spec.SubnetPool {
	t.Helper()
	p, problems := spec.ParseSubnetPool(pool, bits)
	if len(problems) > 0 {
		t.Fatalf("ParseSubnetPool(%s, %d): %v", pool, bits, problems)
	}
	return p
}

// insertStacks inserts n bare stacks named prefix-0... and returns their ids.
func insertStacks(t *testing.T, s *state.Store, prefix string, n int) []int64 {
	t.Helper()
	ids := make([]int64, n)
	for i := range n {
		if err := s.Pool().QueryRow(testContext(t), `INSERT INTO stacks (name) VALUES ($1) RETURNING id`, fmt.Sprintf("%s-%d", prefix, i)).Scan(&ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// reopen opens another store on s's database with opts.
func reopen(t *testing.T, s *state.Store, opts ...state.Option) *state.Store {
	t.Helper()
	cfg := s.Pool().Config().ConnConfig
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	o, err := state.Open(testContext(t), url, "state-test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

func TestSubnetsAllocatedOncePerStackInsideThePool(t *testing.T) {
	t.Parallel()
	pool := mustPool(t, "10.199.0.0/16", 24)
	s := newStore(t, state.WithSubnetPool(pool))
	ctx := testContext(t)
	insertStacks(t, s, "web", 5)
	first, err := s.Stacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, st := range first {
		if !pool.Holds(st.Subnet) || st.SubnetProblem != "" {
			t.Errorf("stack %s: subnet %q (problem %q), want a /24 of %s", st.Name, st.Subnet, st.SubnetProblem, pool.Prefix)
		}
		if other, dup := seen[st.Subnet]; dup {
			t.Errorf("stacks %s and %s share subnet %s", other, st.Name, st.Subnet)
		}
		seen[st.Subnet] = st.Name
	}
	again, err := s.Stack(ctx, first[2].Name)
	if err != nil {
		t.Fatal(err)
	}
	if again.Subnet != first[2].Subnet {
		t.Errorf("second read gave %s subnet %s, first %s", again.Name, again.Subnet, first[2].Subnet)
	}
	// A store without the pool leaves Subnet empty (no management).
	plain, err := reopen(t, s).Stack(ctx, first[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Subnet != "" {
		t.Errorf("store without a pool reported subnet %q", plain.Subnet)
	}
}

// TestSubnetsConcurrentAllocationNeverShares: several controllers (stores)
// reading the same new stacks at once give every stack one subnet, the
// same to every reader, and no subnet to two stacks.
func TestSubnetsConcurrentAllocationNeverShares(t *testing.T) {
	t.Parallel()
	pool := mustPool(t, "10.199.0.0/16", 24)
	base := newStore(t)
	ids := insertStacks(t, base, "app", 30)
	const readers = 6
	got := make([]map[int64]string, readers)
	var wg sync.WaitGroup
	errs := make(chan error, readers*len(ids))
	for r := range readers {
		st := reopen(t, base, state.WithSubnetPool(pool))
		got[r] = map[int64]string{}
		wg.Go(func() {
			ctx := testContext(t)
			// Half the readers read stack by stack, in opposite orders;
			// the other half read everything at once.
			if r%2 == 0 {
				list, err := st.Stacks(ctx)
				if err != nil {
					errs <- err
					return
				}
				for _, s := range list {
					got[r][s.ID] = s.Subnet
				}
				return
			}
			for i := range ids {
				id := ids[i]
				if r%4 == 1 {
					id = ids[len(ids)-1-i]
				}
				s, err := st.StackByID(ctx, id)
				if err != nil {
					errs <- err
					return
				}
				got[r][id] = s.Subnet
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("read: %v", err)
	}
	stored, err := base.StackSubnets(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(ids) {
		t.Fatalf("%d subnets stored for %d stacks", len(stored), len(ids))
	}
	owner := map[string]int64{}
	for id, sn := range stored {
		if o, dup := owner[sn]; dup {
			t.Errorf("stacks %d and %d share subnet %s", o, id, sn)
		}
		owner[sn] = id
	}
	for r := range readers {
		for id, sn := range got[r] {
			if sn != stored[id] {
				t.Errorf("reader %d saw subnet %s for stack %d, stored %s", r, sn, id, stored[id])
			}
		}
	}
}

// TestSubnetPoolFullThenFreedByRemoval: a pool of four subnets serves four
// stacks; the fifth gets a problem naming the pool; finalizing a deleted
// stack's removal frees its subnet for the fifth; a hard delete frees too.
func TestSubnetPoolFullThenFreedByRemoval(t *testing.T) {
	t.Parallel()
	pool := mustPool(t, "10.199.7.0/28", 30)
	s := newStore(t, state.WithSubnetPool(pool))
	ctx := testContext(t)
	ids := insertStacks(t, s, "full", 5)
	list, err := s.Stacks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var without []spec.Stack
	for _, st := range list {
		if st.Subnet == "" {
			without = append(without, st)
		}
	}
	if len(without) != 1 {
		t.Fatalf("%d stacks without a subnet, want 1: %+v", len(without), list)
	}
	last := without[0]
	if last.ID != ids[4] {
		t.Errorf("stack %d went without, want the newest %d (allocation in id order)", last.ID, ids[4])
	}
	for _, want := range []string{"10.199.7.0/28", "network.subnet_pool", "network.subnet_prefix", "delete stacks", `"full-4"`} {
		if !strings.Contains(last.SubnetProblem, want) {
			t.Errorf("problem %q does not mention %s", last.SubnetProblem, want)
		}
	}

	// Deleting keeps the subnet (the network still exists) until the
	// removal is finalized.
	victim := list[0]
	if _, err := s.DeleteStackChecked(ctx, victim.Name, state.DeleteStackOptions{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.StackByID(ctx, last.ID); st.Subnet != "" {
		t.Fatalf("the fifth stack got %s while the deleting stack still holds its subnet", st.Subnet)
	}
	if done, err := s.FinalizeStack(ctx, victim.ID); err != nil || !done {
		t.Fatalf("FinalizeStack: %v, %v", done, err)
	}
	st, err := s.StackByID(ctx, last.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Subnet != victim.Subnet || st.SubnetProblem != "" {
		t.Errorf("after the removal the fifth stack has %q (problem %q), want the freed %s", st.Subnet, st.SubnetProblem, victim.Subnet)
	}

	// A hard delete frees by cascade.
	if _, err := s.Pool().Exec(ctx, `DELETE FROM stacks WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	stored, err := s.StackSubnets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stored[ids[1]]; ok || len(stored) != 3 {
		t.Errorf("after the hard delete of %d: stored %v, want 3 without it", ids[1], stored)
	}
}

// TestSubnetPoolChangeReallocates: a stack whose subnet is outside a new
// pool (or of another length) gets one of the new pool at its next read.
func TestSubnetPoolChangeReallocates(t *testing.T) {
	t.Parallel()
	old := mustPool(t, "10.199.0.0/16", 24)
	s := newStore(t, state.WithSubnetPool(old))
	ctx := testContext(t)
	ids := insertStacks(t, s, "moved", 2)
	before, err := s.StackByID(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, next := range []spec.SubnetPool{mustPool(t, "10.198.0.0/16", 24), mustPool(t, "10.198.0.0/16", 26)} {
		st, err := reopen(t, s, state.WithSubnetPool(next)).StackByID(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if !next.Holds(st.Subnet) || st.Subnet == before.Subnet {
			t.Errorf("pool %s: subnet %s (was %s), want one of the new pool", next, st.Subnet, before.Subnet)
		}
		if p := netip.MustParsePrefix(st.Subnet); p.Bits() != next.Bits {
			t.Errorf("pool %s: subnet %s has the wrong length", next, st.Subnet)
		}
		before = st
	}
}

func TestParseSubnetPool(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pool  string
		bits  int
		want  string // a phrase of the problem, "" when valid
		valid bool
	}{
		{pool: "", bits: 0, valid: true},
		{pool: "10.128.0.0/9", bits: 24, valid: true},
		{pool: "10.128.0.0/9", bits: 30, want: "more than"},
		{pool: "10.128.0.1/9", bits: 24, want: "write the network address, 10.128.0.0/9"},
		{pool: "10.128.0.0", bits: 24, want: "write it like 10.128.0.0/9"},
		{pool: "fd00::/48", bits: 64, want: "only IPv4"},
		{pool: "10.128.0.0/24", bits: 24, want: "longer than the pool's /24"},
		{pool: "10.128.0.0/16", bits: 31, want: "at most 30"},
	}
	for _, tc := range tests {
		p, problems := spec.ParseSubnetPool(tc.pool, tc.bits)
		if tc.valid {
			if len(problems) > 0 {
				t.Errorf("%s /%d: %v", tc.pool, tc.bits, problems)
			}
			continue
		}
		if p.Enabled() || len(problems) == 0 || !strings.Contains(strings.Join(problems, " "), tc.want) {
			t.Errorf("%s /%d: problems %v, want one containing %q", tc.pool, tc.bits, problems, tc.want)
		}
	}
}
