package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// ErrDeletionRevision reports a revert to the revision that deleted the
// stack: there is no desired state to restore.
var ErrDeletionRevision = errors.New("is the stack's deletion, which cannot be restored")

// RevisionNotFoundError reports a revision number the live stack does not
// have. It wraps ErrNotFound.
type RevisionNotFoundError struct {
	Stack  string
	Number int
}

func (e *RevisionNotFoundError) Error() string {
	return fmt.Sprintf("revision %d of stack %q %v; list them with \"devarch-controller stack history %s\"", e.Number, e.Stack, ErrNotFound, e.Stack)
}

func (e *RevisionNotFoundError) Unwrap() error { return ErrNotFound }

// importOptions adjust importStack.
type importOptions struct {
	// createOnly refuses a name a live stack has (CreateStack).
	createOnly bool
	// kind is the kind of the revision the import stores.
	kind string
	// revertedTo names the revision a revert restores.
	revertedTo int
	// ifRevision, when set, is the revision the stack must be at (0: no
	// revision, or no stack).
	ifRevision *int
}

// EditOptions adjust an edit of the desired state.
type EditOptions struct {
	// IfRevision, when set, is the revision the stack must be at for the
	// edit to go ahead (optimistic concurrency): otherwise the edit fails
	// with a *RevisionMismatchError and writes nothing.
	IfRevision *int
	// DryRun checks the edit and previews it, and writes nothing.
	DryRun bool
}

// EditResult is what an edit did, or would do (dry run).
type EditResult struct {
	// Preview is the change to the desired state in the plan's format
	// (plan.Preview), secrets redacted.
	Preview *plan.Plan
	// Revision is the stack's revision after the edit: the one it stored,
	// or the current one when it wrote nothing (unchanged, or dry run).
	Revision int
	// Changed reports whether the edit stored a revision.
	Changed bool
}

// EditInstance replaces one instance's overrides as SetInstanceOverrides
// does, with optimistic concurrency and a preview (see EditOptions). The
// error wraps ErrNotFound for an unknown stack or instance, is a
// *spec.ValidationError when the edit adds a problem to the stack and a
// *RevisionMismatchError when the stack is not at opts.IfRevision.
func (s *Store) EditInstance(ctx context.Context, stack, instance string, o spec.Overrides, opts EditOptions) (EditResult, error) {
	body, err := encodeOverrides(o)
	if err != nil {
		return EditResult{}, fmt.Errorf("set overrides of instance %q of stack %q: %w", instance, stack, err)
	}
	var res EditResult
	c := overridesChange(o, body)
	c.ifRevision, c.dryRun, c.revision = opts.IfRevision, opts.DryRun, &res.Revision
	c.preview = func(before, after spec.Stack, paths project.Options) {
		res.Preview = plan.Preview(before, after, paths, time.Now())
	}
	if err := s.changeInstance(ctx, stack, instance, c); err != nil {
		return EditResult{}, err
	}
	res.Changed = !opts.DryRun && !res.Preview.Empty()
	return res, nil
}

// ImportPreview is what an import would do.
type ImportPreview struct {
	// Plan is the change to the desired state in the plan's format, with
	// the import's warnings; secrets redacted.
	Plan *plan.Plan
	// Revision is the stack's current revision (0 for a new stack).
	Revision int
	// Create reports whether the import would create the stack.
	Create bool
}

// PreviewImport checks an import of st as ImportStack does (same errors)
// and returns the change it would make to the desired state, writing
// nothing: it reads in one read-only snapshot.
func (s *Store) PreviewImport(ctx context.Context, st spec.Stack) (ImportPreview, error) {
	var out ImportPreview
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		_, merged, warnings, err := prepareImport(ctx, tx, s.resolved, st)
		if err != nil {
			return err
		}
		list, err := loadStacks(ctx, tx, s.resolved, stackFilter{where: "name = $1", args: []any{st.Name}})
		if err != nil {
			return err
		}
		var before spec.Stack
		if len(list) > 0 {
			before = list[0]
			if out.Revision, err = currentRevision(ctx, tx, before.ID); err != nil {
				return err
			}
		}
		out.Create = before.ID == 0
		merged.ID = before.ID
		ids := map[string]int64{}
		for _, inst := range before.Instances {
			ids[inst.Name] = inst.ID
		}
		for i := range merged.Instances {
			merged.Instances[i].ID = ids[merged.Instances[i].Name]
		}
		paths, err := revisionPaths(ctx, tx)
		if err != nil {
			return err
		}
		out.Plan = plan.Preview(before, merged, paths, time.Now())
		sc := merged.Scrubber()
		for _, w := range append(warnings, weakSecretWarnings(merged, "")...) {
			out.Plan.Warnings = append(out.Plan.Warnings, sc.Scrub(w))
		}
		return nil
	})
	var (
		missing *MissingTemplatesError
		invalid *spec.ValidationError
	)
	switch {
	case err == nil:
		return out, nil
	case errors.As(err, &missing), errors.As(err, &invalid):
		return ImportPreview{}, err
	default:
		return ImportPreview{}, fmt.Errorf("preview import of stack %q: %w", st.Name, err)
	}
}

// ImportStackAt is ImportStack that goes ahead only when the stack is at
// revision ifRevision (0: it has none, or does not exist); otherwise the
// error is a *RevisionMismatchError and nothing is written.
func (s *Store) ImportStackAt(ctx context.Context, st spec.Stack, ifRevision int) (ImportResult, error) {
	return s.importStack(ctx, st, importOptions{kind: RevisionImport, ifRevision: &ifRevision})
}

// RevisionStack returns the desired state revision number of the live
// stack named name stored, as it can be imported again: the stack's
// definition and its instances with their templates by name, overrides
// (secret values as stored) and enabled flags. Templates are the
// catalog's current ones: a revision does not keep a template's content.
// The error wraps ErrNotFound for an unknown stack or revision.
func (s *Store) RevisionStack(ctx context.Context, name string, number int) (spec.Stack, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, `
		SELECT r.document FROM stack_revisions r JOIN stacks s ON s.id = r.stack_id
		WHERE s.name = $1 AND s.deleted_at IS NULL AND r.number = $2`, name, number).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, err := s.StackRevision(ctx, name); err != nil {
			return spec.Stack{}, err
		}
		return spec.Stack{}, &RevisionNotFoundError{Stack: name, Number: number}
	}
	if err != nil {
		return spec.Stack{}, fmt.Errorf("read revision %d of stack %q: %w", number, name, err)
	}
	d, err := decodeJSON[revisionDocument]("revision document", doc)
	if err != nil {
		return spec.Stack{}, err
	}
	if d.Deleted {
		return spec.Stack{}, fmt.Errorf("revision %d of stack %q %w; choose an earlier revision", number, name, ErrDeletionRevision)
	}
	return d.stack(name)
}

// stack is the importable stack of a revision document.
func (d revisionDocument) stack(name string) (spec.Stack, error) {
	st := spec.Stack{Name: name, Description: d.Description, NetworkName: d.NetworkName, Engine: d.Engine, Enabled: d.Enabled}
	var err error
	if st.Wires, err = decodeWires(orEmpty(d.Wires, "[]")); err != nil {
		return spec.Stack{}, err
	}
	if st.Variables, err = decodeVariables(orEmpty(d.Variables, "[]")); err != nil {
		return spec.Stack{}, err
	}
	for _, ri := range d.Instances {
		inst := spec.Instance{Name: ri.Name, Enabled: ri.Enabled}
		if ri.Template != nil {
			inst.Template = &spec.Template{Name: *ri.Template}
		}
		if inst.Overrides, err = decodeOverrides(orEmpty(ri.Overrides, "{}")); err != nil {
			return spec.Stack{}, err
		}
		st.Instances = append(st.Instances, inst)
	}
	return st, nil
}

func orEmpty(b json.RawMessage, empty string) []byte {
	if len(b) == 0 || string(b) == "null" {
		return []byte(empty)
	}
	return b
}

// RevertStack restores revision number of the live stack named name as
// its desired state, stored as a new revision of kind revert (nothing
// when the stack already is in that state). It is an import of
// RevisionStack's stack: same errors, and the catalog's current templates.
// opts.IfRevision and DryRun work as for EditInstance; a dry run returns
// the preview in the result's Preview and writes nothing.
func (s *Store) RevertStack(ctx context.Context, name string, number int, opts EditOptions) (EditResult, error) {
	st, err := s.RevisionStack(ctx, name, number)
	if err != nil {
		return EditResult{}, err
	}
	if opts.DryRun {
		p, err := s.PreviewImport(ctx, st)
		if err != nil {
			return EditResult{}, err
		}
		if opts.IfRevision != nil && *opts.IfRevision != p.Revision {
			return EditResult{}, &RevisionMismatchError{Stack: name, Expected: *opts.IfRevision, Current: p.Revision}
		}
		return EditResult{Preview: p.Plan, Revision: p.Revision}, nil
	}
	res, err := s.importStack(ctx, st, importOptions{kind: RevisionRevert, revertedTo: number, ifRevision: opts.IfRevision})
	if err != nil {
		return EditResult{}, err
	}
	out := EditResult{Revision: res.Revision, Changed: res.Revision > 0, Preview: res.Preview}
	if out.Revision == 0 {
		if out.Revision, err = s.StackRevision(ctx, name); err != nil {
			return EditResult{}, err
		}
	}
	return out, nil
}
