package state

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/spec"
)

// DeleteStack soft-deletes the live stack named name and all its live
// instances, in one transaction. The rows stay (with deleted_at set) so the
// controller can still remove containers labeled with their ids; the name
// is free for a new stack at once. The error wraps ErrNotFound when there
// is no live stack with that name.
func (s *Store) DeleteStack(ctx context.Context, name string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `
			UPDATE stacks SET deleted_at = now()
			WHERE name = $1 AND deleted_at IS NULL
			RETURNING id`, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return stackNotFound(name)
		}
		if err != nil {
			return err
		}
		// A statement of its own, so that its snapshot (taken after the
		// stack row was locked) sees instances a concurrent import added.
		_, err = tx.Exec(ctx, `UPDATE instances SET deleted_at = now() WHERE stack_id = $1 AND deleted_at IS NULL`, id)
		return err
	})
	if err == nil || errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("delete stack %q: %w", name, err)
}

// SetStackEnabled enables or disables a live stack. Setting the value it
// already has writes nothing.
func (s *Store) SetStackEnabled(ctx context.Context, name string, enabled bool) error {
	var id int64
	err := s.pool.QueryRow(ctx, `
		WITH target AS (
			SELECT id FROM stacks WHERE name = $1 AND deleted_at IS NULL
		), changed AS (
			UPDATE stacks SET enabled = $2
			WHERE id IN (SELECT id FROM target) AND enabled <> $2
		)
		SELECT id FROM target`, name, enabled).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return stackNotFound(name)
	}
	if err != nil {
		return fmt.Errorf("set stack %q enabled: %w", name, err)
	}
	return nil
}

// DeleteInstance soft-deletes one live instance of a live stack. It is
// refused with a *spec.ValidationError when the stack would become invalid
// (another instance depends on this one). The error wraps ErrNotFound when
// the stack or the instance does not exist.
func (s *Store) DeleteInstance(ctx context.Context, stack, instance string) error {
	return s.changeInstance(ctx, stack, instance, instanceChange{
		verb: "delete",
		apply: func(st *spec.Stack, i int) {
			st.Instances = slices.Delete(st.Instances, i, i+1)
		},
		write: func(ctx context.Context, tx pgx.Tx, id int64) error {
			_, err := tx.Exec(ctx, `UPDATE instances SET deleted_at = now() WHERE id = $1`, id)
			return err
		},
	})
}

// SetInstanceEnabled enables or disables one instance. Enabling is refused
// with a *spec.ValidationError when it adds a problem to the stack (a host
// port another enabled instance publishes). Setting the value the instance
// already has writes nothing.
func (s *Store) SetInstanceEnabled(ctx context.Context, stack, instance string, enabled bool) error {
	return s.changeInstance(ctx, stack, instance, instanceChange{
		verb:  "set enabled of",
		apply: func(st *spec.Stack, i int) { st.Instances[i].Enabled = enabled },
		write: func(ctx context.Context, tx pgx.Tx, id int64) error {
			_, err := tx.Exec(ctx, `UPDATE instances SET enabled = $2 WHERE id = $1 AND enabled <> $2`, id, enabled)
			return err
		},
	})
}

// SetInstanceOverrides replaces one instance's overrides. It is refused
// with a *spec.ValidationError when the new effective spec adds a problem
// to the stack. Overrides equal to the stored ones write nothing.
func (s *Store) SetInstanceOverrides(ctx context.Context, stack, instance string, o spec.Overrides) error {
	body, err := encodeOverrides(o)
	if err != nil {
		return fmt.Errorf("set overrides of instance %q of stack %q: %w", instance, stack, err)
	}
	return s.changeInstance(ctx, stack, instance, instanceChange{
		verb:  "set overrides of",
		apply: func(st *spec.Stack, i int) { st.Instances[i].Overrides = o },
		write: func(ctx context.Context, tx pgx.Tx, id int64) error {
			_, err := tx.Exec(ctx, `UPDATE instances SET overrides = $2 WHERE id = $1 AND overrides IS DISTINCT FROM $2::jsonb`, id, body)
			return err
		},
	})
}

// instanceChange is one edit of a single instance: apply changes the loaded
// stack in memory (for validation), write stores the change.
type instanceChange struct {
	verb  string
	apply func(st *spec.Stack, i int)
	write func(ctx context.Context, tx pgx.Tx, id int64) error
}

// changeInstance locks the live stack's row, loads it, applies the change
// in memory, refuses it when it adds validation problems, and writes it, in
// one transaction. Problems the stack already had (a template changed
// under it, say) do not block an unrelated edit.
func (s *Store) changeInstance(ctx context.Context, stack, instance string, c instanceChange) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		list, err := loadStacks(ctx, tx, s.resolved, stackFilter{where: "name = $1", args: []any{stack}, forUpdate: true})
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return stackNotFound(stack)
		}
		st := list[0]
		i := slices.IndexFunc(st.Instances, func(inst spec.Instance) bool { return inst.Name == instance })
		if i < 0 {
			return instanceNotFound(stack, instance)
		}
		before := problemSet(st.Validate())
		st.Instances = slices.Clone(st.Instances)
		id := st.Instances[i].ID
		c.apply(&st, i)
		if j := slices.IndexFunc(st.Instances, func(inst spec.Instance) bool { return inst.ID == id }); j >= 0 {
			if st.Instances[j], _, err = s.resolved.resolveInstance(st.Instances[j], st.Variables); err != nil {
				return &spec.ValidationError{Problems: []spec.Problem{{Field: "instances." + instance + ".template", Message: err.Error()}}}
			}
		}
		if err := newProblems(before, st.Validate()); err != nil {
			return err
		}
		return c.write(ctx, tx, id)
	})
	var invalid *spec.ValidationError
	if err == nil || errors.Is(err, ErrNotFound) || errors.As(err, &invalid) {
		return err
	}
	return fmt.Errorf("%s instance %q of stack %q: %w", c.verb, instance, stack, err)
}

// problemSet indexes the problems of a Validate result.
func problemSet(err error) map[spec.Problem]bool {
	set := map[spec.Problem]bool{}
	var ve *spec.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			set[p] = true
		}
	}
	return set
}

// newProblems returns a *spec.ValidationError with the problems of err that
// are not in before, or nil when there are none. An error that is not a
// validation error is returned as is.
func newProblems(before map[spec.Problem]bool, err error) error {
	if err == nil {
		return nil
	}
	var ve *spec.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	var added []spec.Problem
	for _, p := range ve.Problems {
		if !before[p] {
			added = append(added, p)
		}
	}
	if len(added) == 0 {
		return nil
	}
	return &spec.ValidationError{Problems: added}
}
