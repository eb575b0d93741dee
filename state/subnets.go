package state

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/spec"
)

// WithSubnetPool makes the store manage the subnets of stacks' networks
// from pool (network.subnet_pool): every read of live stacks (Stacks,
// Stack, StackByID) gives each its subnet (spec.Stack.Subnet), allocating
// one for a stack that has none in the pool yet. The zero pool turns the
// management off: reads leave Subnet empty and allocations stay stored.
func WithSubnetPool(pool spec.SubnetPool) Option {
	return func(o *options) { o.subnets = pool }
}

// SubnetLockNamespace is the first key of the transaction advisory lock
// allocations of subnets take turns under, in the two-key form
// (SubnetLockNamespace, 0): devarch's second subsystem namespace
// (docs/locking.md). pg_locks shows it as classid 0x64760002, objid 0,
// objsubid 2; it cannot collide with the stack apply locks (namespace
// 0x64760001) or the one-key migration lock.
const SubnetLockNamespace int32 = 0x6476_0002

// allocateSubnetsSQL gives each stack of $1 the first free subnets of the
// pool ($2, cut into /$3 subnets that are $4 addresses apart, $5 of them),
// in order of stack id, skipping stacks deleted meanwhile (FinalizeStack
// takes the same lock, so a finalized stack never gets a subnet after its
// own was freed). A subnet is free when it overlaps no stored one. A
// stack's stored subnet is replaced only when it is not one of the pool's
// (the pool or the prefix changed); a stack another controller gave a
// pool subnet meanwhile keeps it. Stacks for which no free subnet is left
// get none.
const allocateSubnetsSQL = `
WITH want AS (
	SELECT id, row_number() OVER (ORDER BY id) AS n FROM stacks
	WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL
), free AS (
	SELECT slot.subnet, row_number() OVER (ORDER BY slot.g) AS n
	FROM (
		SELECT g, set_masklen($2::inet + g * $4::bigint, $3)::cidr AS subnet
		FROM generate_series(0::bigint, $5::bigint - 1) AS g
	) AS slot
	WHERE NOT EXISTS (SELECT 1 FROM stack_subnets t WHERE t.subnet && slot.subnet)
	ORDER BY slot.g
	LIMIT cardinality($1::bigint[])
)
INSERT INTO stack_subnets (stack_id, subnet)
SELECT want.id, free.subnet FROM want JOIN free USING (n)
ON CONFLICT (stack_id) DO UPDATE SET subnet = EXCLUDED.subnet, allocated_at = now()
	WHERE NOT (stack_subnets.subnet <<= $2::cidr AND masklen(stack_subnets.subnet) = $3)`

// assignSubnets sets Subnet (or SubnetProblem) on every live stack of
// stacks, allocating subnets for those that hold none of the pool. It
// costs one query when every stack has its subnet already.
func (s *Store) assignSubnets(ctx context.Context, stacks []spec.Stack) error {
	pool := s.subnets
	if !pool.Enabled() || len(stacks) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(stacks))
	for _, st := range stacks {
		if !st.Deleting {
			ids = append(ids, st.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	held, err := s.stackSubnets(ctx, ids)
	if err != nil {
		return err
	}
	if want := missingSubnets(ids, held, pool); len(want) > 0 {
		if err := s.allocateSubnets(ctx, want); err != nil {
			return err
		}
		if held, err = s.stackSubnets(ctx, ids); err != nil {
			return err
		}
		// Stacks still without one of the pool's subnets found it full.
	}
	for i := range stacks {
		st := &stacks[i]
		if st.Deleting {
			continue
		}
		if sn := held[st.ID]; pool.Holds(sn) {
			st.Subnet = sn
			continue
		}
		st.SubnetProblem = fmt.Sprintf("the controller's subnet pool %s has no free subnet left for the network of stack %q (all %d are allocated); enlarge network.subnet_pool or use a longer network.subnet_prefix in the controller's configuration, or delete stacks you no longer need, then plan again",
			pool.Prefix, st.Name, pool.Size())
	}
	return nil
}

// allocateSubnets runs allocateSubnetsSQL for ids under the transaction
// advisory lock (SubnetLockNamespace, 0): allocations by several controllers take
// turns, so each sees the subnets the others took (allocating in one
// statement without it, two controllers can deadlock on each other's
// rows). The exclusion constraint still guarantees that no two stacks
// share a subnet, lock or not.
func (s *Store) allocateSubnets(ctx context.Context, ids []int64) error {
	pool := s.subnets
	step := int64(1) << (32 - pool.Bits)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, $2::int4)`, SubnetLockNamespace, int32(0)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, allocateSubnetsSQL, ids, pool.Prefix.String(), pool.Bits, step, pool.Size())
		return err
	})
	if err != nil {
		return fmt.Errorf("allocate subnets from %s: %w", pool.Prefix, err)
	}
	return nil
}

// stackSubnets returns the stored subnets of the stacks with ids.
func (s *Store) stackSubnets(ctx context.Context, ids []int64) (map[int64]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT stack_id, subnet FROM stack_subnets WHERE stack_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read stack subnets: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]string, len(ids))
	for rows.Next() {
		var id int64
		var sn netip.Prefix
		if err := rows.Scan(&id, &sn); err != nil {
			return nil, fmt.Errorf("read stack subnets: %w", err)
		}
		out[id] = sn.String()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stack subnets: %w", err)
	}
	return out, nil
}

// StackSubnets returns every stored subnet allocation by stack id, for
// operators and tests.
func (s *Store) StackSubnets(ctx context.Context) (map[int64]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT stack_id FROM stack_subnets`)
	if err != nil {
		return nil, fmt.Errorf("read stack subnets: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read stack subnets: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stack subnets: %w", err)
	}
	return s.stackSubnets(ctx, ids)
}

// missingSubnets are the ids whose held subnet is not one of the pool's.
func missingSubnets(ids []int64, held map[int64]string, pool spec.SubnetPool) []int64 {
	var out []int64
	for _, id := range ids {
		if !pool.Holds(held[id]) {
			out = append(out, id)
		}
	}
	return out
}
