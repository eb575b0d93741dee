package state

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// DeleteStack soft-deletes the live stack named name and all its live
// instances, in one transaction. The rows stay (with deleted_at set) so the
// controller can still remove containers labeled with their ids; the name
// is free for a new stack at once. The error wraps ErrNotFound when there
// is no live stack with that name.
func (s *Store) DeleteStack(ctx context.Context, name string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rev, err := s.beginRevision(ctx, tx, stackFilter{where: "name = $1", args: []any{name}})
		if err != nil {
			return err
		}
		var id int64
		err = tx.QueryRow(ctx, `
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
		if err != nil {
			return err
		}
		_, err = rev.commit(ctx, s, tx, id, RevisionDelete, 0)
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
	kind := RevisionDisable
	if enabled {
		kind = RevisionEnable
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rev, err := s.beginRevision(ctx, tx, stackFilter{where: "name = $1", args: []any{name}})
		if err != nil {
			return err
		}
		var id int64
		err = tx.QueryRow(ctx, `
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
			return err
		}
		_, err = rev.commit(ctx, s, tx, id, kind, 0)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return err
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
		kind: RevisionDelete,
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
	kind := RevisionDisable
	if enabled {
		kind = RevisionEnable
	}
	return s.changeInstance(ctx, stack, instance, instanceChange{
		verb:  "set enabled of",
		kind:  kind,
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
	return s.changeInstance(ctx, stack, instance, overridesChange(o, body))
}

// overridesChange replaces an instance's overrides with o (encoded: body).
func overridesChange(o spec.Overrides, body []byte) instanceChange {
	return instanceChange{
		verb:  "set overrides of",
		kind:  RevisionEdit,
		apply: func(st *spec.Stack, i int) { st.Instances[i].Overrides = o },
		write: func(ctx context.Context, tx pgx.Tx, id int64) error {
			_, err := tx.Exec(ctx, `UPDATE instances SET overrides = $2 WHERE id = $1 AND overrides IS DISTINCT FROM $2::jsonb`, id, body)
			return err
		},
	}
}

// instanceChange is one edit of a single instance: apply changes the loaded
// stack in memory (for validation), write stores the change.
type instanceChange struct {
	verb  string
	apply func(st *spec.Stack, i int)
	write func(ctx context.Context, tx pgx.Tx, id int64) error
	// kind is the kind of the revision the change stores.
	kind string
	// ifRevision, when set, refuses the change with a
	// *RevisionMismatchError unless it is the stack's current revision (0
	// for "none").
	ifRevision *int
	// preview, when set, receives the stack before and after the change
	// (validated, not yet written) and the installation.
	preview func(before, after spec.Stack, paths project.Options)
	// dryRun checks and previews the change without writing it.
	dryRun bool
	// revision, when set, receives the stack's revision after the change:
	// the one it stored, or the current one when it wrote nothing.
	revision *int
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
		if err := checkRevision(ctx, tx, st, c.ifRevision); err != nil {
			return err
		}
		rev := &pendingRevision{before: st}
		if err := tx.QueryRow(ctx, documentSQL, st.ID).Scan(&rev.doc); err != nil {
			return fmt.Errorf("read stack document: %w", err)
		}
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
		if c.preview != nil {
			paths, err := revisionPaths(ctx, tx)
			if err != nil {
				return err
			}
			c.preview(rev.before, st, paths)
		}
		n := 0
		if !c.dryRun {
			if err := c.write(ctx, tx, id); err != nil {
				return err
			}
			if n, err = rev.commit(ctx, s, tx, st.ID, c.kind, 0); err != nil {
				return err
			}
		}
		if c.revision != nil && n == 0 {
			n, err = currentRevision(ctx, tx, st.ID)
		}
		if c.revision != nil {
			*c.revision = n
		}
		return err
	})
	var (
		invalid  *spec.ValidationError
		mismatch *RevisionMismatchError
	)
	if err == nil || errors.Is(err, ErrNotFound) || errors.As(err, &invalid) || errors.As(err, &mismatch) {
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
