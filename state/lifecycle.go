package state

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/spec"
)

// ErrApplying reports a change refused because an approval of the stack
// is applying: the apply reads the desired state it was approved with, and
// the change waits until it ends. Nothing was written.
var ErrApplying = errors.New("is being applied")

// ApplyingError is the error of a change refused while an approval of the
// stack is applying; it wraps ErrApplying.
type ApplyingError struct {
	Stack      string
	ApprovalID int64
}

func (e *ApplyingError) Error() string {
	return fmt.Sprintf("stack %q %v (approval %d is applying); nothing was changed: wait until the apply ends and try again", e.Stack, ErrApplying, e.ApprovalID)
}

func (e *ApplyingError) Unwrap() error { return ErrApplying }

// stackApplying is the error of a change refused while an approval of the
// stack is applying.
func stackApplying(name string, approvalID int64) error {
	return &ApplyingError{Stack: name, ApprovalID: approvalID}
}

// LifecycleResult says what a delete, disable or enable did.
type LifecycleResult struct {
	// StackID is the stack's id.
	StackID int64
	// Changed is false when the stack or instance already was in the
	// asked state (deleting, disabled, enabled): nothing was written,
	// except a remove-volumes request on a stack already deleting.
	Changed bool
}

// DeleteStackOptions tune DeleteStackChecked.
type DeleteStackOptions struct {
	// RemoveVolumes asks the removal to remove the stack's named volumes
	// too; without it they are kept (and named in the plan as kept).
	RemoveVolumes bool
}

// DeleteStackChecked deletes the stack named name for a user (API, CLI):
// it refuses with ErrApplying while an approval of the stack is applying,
// records o.RemoveVolumes, then soft-deletes the stack (DeleteStack). The
// stack then shows as deleting until its removal plan is applied. Deleting
// a stack that is already deleting changes nothing but may ask for its
// volumes to be removed too. The error wraps ErrNotFound when no stack of
// that name is live or deleting.
func (s *Store) DeleteStackChecked(ctx context.Context, name string, o DeleteStackOptions) (LifecycleResult, error) {
	id, deleting, err := s.lockableStack(ctx, name)
	if err != nil {
		return LifecycleResult{}, err
	}
	// A live stack takes the asked value (a flag left by an earlier delete
	// that failed must not remove volumes now); a deleting stack can only
	// be asked for more.
	if o.RemoveVolumes || !deleting {
		if _, err := s.pool.Exec(ctx, `UPDATE stacks SET remove_volumes = $2 WHERE id = $1 AND remove_volumes <> $2`, id, o.RemoveVolumes); err != nil {
			return LifecycleResult{}, fmt.Errorf("delete stack %q: record volume removal: %w", name, err)
		}
	}
	if deleting {
		return LifecycleResult{StackID: id}, nil
	}
	if err := s.DeleteStack(ctx, name); err != nil {
		return LifecycleResult{}, err
	}
	return LifecycleResult{StackID: id, Changed: true}, nil
}

// SetStackEnabledChecked is SetStackEnabled for a user: it refuses with
// ErrApplying while an approval of the stack is applying, and says
// whether anything changed.
func (s *Store) SetStackEnabledChecked(ctx context.Context, name string, enabled bool) (LifecycleResult, error) {
	st, err := s.liveUnlessApplying(ctx, name)
	if err != nil {
		return LifecycleResult{}, err
	}
	if st.Enabled == enabled {
		return LifecycleResult{StackID: st.ID}, nil
	}
	if err := s.SetStackEnabled(ctx, name, enabled); err != nil {
		return LifecycleResult{}, err
	}
	return LifecycleResult{StackID: st.ID, Changed: true}, nil
}

// DeleteInstanceChecked is DeleteInstance for a user: it refuses with
// ErrApplying while an approval of the stack is applying.
func (s *Store) DeleteInstanceChecked(ctx context.Context, stack, instance string) (LifecycleResult, error) {
	st, err := s.liveUnlessApplying(ctx, stack)
	if err != nil {
		return LifecycleResult{}, err
	}
	if err := s.DeleteInstance(ctx, stack, instance); err != nil {
		return LifecycleResult{}, err
	}
	return LifecycleResult{StackID: st.ID, Changed: true}, nil
}

// SetInstanceEnabledChecked is SetInstanceEnabled for a user: it refuses
// with ErrApplying while an approval of the stack is applying, and says
// whether anything changed.
func (s *Store) SetInstanceEnabledChecked(ctx context.Context, stack, instance string, enabled bool) (LifecycleResult, error) {
	st, err := s.liveUnlessApplying(ctx, stack)
	if err != nil {
		return LifecycleResult{}, err
	}
	for _, inst := range st.Instances {
		if inst.Name == instance && inst.Enabled == enabled {
			return LifecycleResult{StackID: st.ID}, nil
		}
	}
	if err := s.SetInstanceEnabled(ctx, stack, instance, enabled); err != nil {
		return LifecycleResult{}, err
	}
	return LifecycleResult{StackID: st.ID, Changed: true}, nil
}

// liveUnlessApplying reads the live stack named name, refusing a stack
// that is deleting (ErrNotFound: it can no longer be changed) or has an
// approval applying (ErrApplying).
func (s *Store) liveUnlessApplying(ctx context.Context, name string) (spec.Stack, error) {
	st, err := s.Stack(ctx, name)
	if err != nil {
		return spec.Stack{}, err
	}
	if st.Deleting {
		return spec.Stack{}, fmt.Errorf("stack %q is deleted and its removal not applied yet, so it cannot be changed; apply its removal plan, or import it again to keep it: %w", name, ErrNotFound)
	}
	if err := s.refuseApplying(ctx, st.ID, name); err != nil {
		return spec.Stack{}, err
	}
	return st, nil
}

// lockableStack finds the stack a delete acts on: the live stack named
// name, else a deleting one, refusing one with an approval applying.
func (s *Store) lockableStack(ctx context.Context, name string) (id int64, deleting bool, err error) {
	err = s.pool.QueryRow(ctx, `
		SELECT id, deleted_at IS NOT NULL FROM stacks
		WHERE name = $1 AND removed_at IS NULL
		ORDER BY deleted_at IS NOT NULL, deleted_at DESC
		LIMIT 1`, name).Scan(&id, &deleting)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, stackNotFound(name)
	}
	if err != nil {
		return 0, false, fmt.Errorf("delete stack %q: %w", name, err)
	}
	return id, deleting, s.refuseApplying(ctx, id, name)
}

// refuseApplying returns an ErrApplying error when an approval of the
// stack is applying.
func (s *Store) refuseApplying(ctx context.Context, id int64, name string) error {
	var approvalID int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM approvals WHERE stack_id = $1 AND status = 'applying' LIMIT 1`, id).Scan(&approvalID)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("check approvals of stack %q: %w", name, err)
	}
	return stackApplying(name, approvalID)
}

// FinalizeStack marks a deleting stack removed, once its removal was
// applied (or it had nothing on the engine): it disappears from every
// list and read, and containers or networks still labeled with its id are
// orphans. It reports whether the stack was deleting; a live stack is
// left alone. The stack's subnet (stack_subnets) is freed with it.
func (s *Store) FinalizeStack(ctx context.Context, id int64) (bool, error) {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Under the subnet allocation lock (see allocateSubnets): an
		// allocation that read the stack live commits before this frees.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int4, $2::int4)`, SubnetLockNamespace, int32(0)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			WITH done AS (
				UPDATE stacks SET removed_at = now() WHERE id = $1 AND deleted_at IS NOT NULL AND removed_at IS NULL RETURNING id
			), freed AS (
				DELETE FROM stack_subnets WHERE stack_id IN (SELECT id FROM done)
			)
			SELECT count(*) FROM done`, id).Scan(&n)
	})
	if err != nil {
		return false, fmt.Errorf("finalize stack %d: %w", id, err)
	}
	return n == 1, nil
}

// KnownStackIDs returns the ids of every stack that is live or deleting:
// a labeled container or network whose stack id is not among them is an
// orphan (another database's, or a removed stack's).
func (s *Store) KnownStackIDs(ctx context.Context) (map[int64]bool, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id FROM stacks WHERE removed_at IS NULL`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list stack ids: %w", err)
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// preferLive picks the stack a name refers to among rows of that name:
// the live one, else a deleting one.
func preferLive(list []spec.Stack) spec.Stack {
	for _, st := range list {
		if !st.Deleting {
			return st
		}
	}
	return list[0]
}
