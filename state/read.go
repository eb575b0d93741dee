package state

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/spec"
)

// Stacks returns every live stack with its live instances (enabled or
// not), each instance with its template and effective spec (spec.Merge),
// and every deleting stack (Deleting set, no instances) until its removal
// is applied. Stacks are sorted by name, instances by name (byte order).
//
// It reads in one repeatable-read snapshot with a fixed number of queries
// (stacks, their instances, the templates those use), whatever the number
// of stacks. Templates are shared between the instances that use them:
// treat the result as read-only, or copy before changing it.
func (s *Store) Stacks(ctx context.Context) ([]spec.Stack, error) {
	var out []spec.Stack
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = loadStacks(ctx, tx, s.resolved, stackFilter{withDeleting: true})
		return err
	})
	if err == nil {
		err = s.assignSubnets(ctx, out)
	}
	if err != nil {
		return nil, fmt.Errorf("list stacks: %w", err)
	}
	return out, nil
}

// Stack returns the live stack named name, else a deleting one of that
// name (Deleting set, no instances: its removal is not applied yet); the
// error wraps ErrNotFound when there is neither.
func (s *Store) Stack(ctx context.Context, name string) (spec.Stack, error) {
	return s.oneStack(ctx, stackFilter{where: "name = $1", args: []any{name}, withDeleting: true}, func() error { return stackNotFound(name) })
}

// StackByID returns one live or deleting stack by id; the error wraps
// ErrNotFound when the id is unknown or the stack's removal was applied.
func (s *Store) StackByID(ctx context.Context, id int64) (spec.Stack, error) {
	return s.oneStack(ctx, stackFilter{where: "id = $1", args: []any{id}, withDeleting: true}, func() error {
		return fmt.Errorf("stack with id %d %w", id, ErrNotFound)
	})
}

func (s *Store) oneStack(ctx context.Context, f stackFilter, notFound func() error) (spec.Stack, error) {
	var list []spec.Stack
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		var err error
		list, err = loadStacks(ctx, tx, s.resolved, f)
		return err
	})
	if err == nil {
		err = s.assignSubnets(ctx, list)
	}
	if err != nil {
		return spec.Stack{}, fmt.Errorf("get stack: %w", err)
	}
	if len(list) == 0 {
		return spec.Stack{}, notFound()
	}
	return preferLive(list), nil
}

// readSnapshot runs fn in a read-only repeatable-read transaction, so that
// the several queries of a read see one consistent state.
func (s *Store) readSnapshot(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// stackFilter narrows loadStacks: where is a condition on the stacks table
// using args as $1...; forUpdate locks the selected rows.
type stackFilter struct {
	where     string
	args      []any
	forUpdate bool
	// withDeleting also selects deleted stacks whose removal has not been
	// applied yet (spec.Stack.Deleting), without instances.
	withDeleting bool
}

// loadStacks reads live stacks matching f with their live instances, the
// templates they use, and their effective specs, in three queries.
func loadStacks(ctx context.Context, q querier, rc *resolveCache, f stackFilter) ([]spec.Stack, error) {
	selected := `deleted_at IS NULL`
	if f.withDeleting {
		selected = `removed_at IS NULL`
	}
	sql := `SELECT id, name, description, network_name, enabled, wires, variables, deleted_at IS NOT NULL, remove_volumes, content_digest, engine FROM stacks WHERE ` + selected
	if f.where != "" {
		sql += ` AND ` + f.where
	}
	sql += ` ORDER BY name COLLATE "C"`
	if f.forUpdate {
		sql += ` FOR UPDATE`
	}
	rows, err := q.Query(ctx, sql, f.args...)
	if err != nil {
		return nil, fmt.Errorf("read stacks: %w", err)
	}
	stacks, err := pgx.CollectRows(rows, scanStack)
	if err != nil {
		return nil, fmt.Errorf("read stacks: %w", err)
	}
	if len(stacks) == 0 {
		return stacks, nil
	}
	index := make(map[int64]int, len(stacks))
	ids := make([]int64, len(stacks))
	for i, st := range stacks {
		index[st.ID] = i
		ids[i] = st.ID
	}
	insts, err := loadInstances(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	tmplIDs := make([]int64, 0, len(insts))
	seen := map[int64]bool{}
	counts := make(map[int64]int, len(stacks))
	for _, r := range insts {
		counts[r.stackID]++
		if r.templateID != nil && !seen[*r.templateID] {
			seen[*r.templateID] = true
			tmplIDs = append(tmplIDs, *r.templateID)
		}
	}
	templates, err := templatesByID(ctx, q, tmplIDs)
	if err != nil {
		return nil, err
	}
	for k, r := range insts {
		insts[k] = nil // each row is garbage once copied: a read never holds two copies of every instance
		inst := r.inst
		if r.templateID != nil {
			t, ok := templates[*r.templateID]
			if !ok {
				return nil, fmt.Errorf("read instance %q: template %d is missing", inst.Name, *r.templateID)
			}
			// Instances of one template share it: nothing writes to a
			// read template (resolveInstance makes its own copy to
			// resolve variables into).
			inst.Template = t
		}
		st := &stacks[index[r.stackID]]
		if cap(st.Instances) == 0 {
			st.Instances = make([]spec.Instance, 0, counts[r.stackID])
		}
		resolved, _, err := rc.resolveInstance(inst, st.Variables)
		if err != nil {
			// One stack whose template now needs a variable it does not
			// give must not hide every other stack: the instance keeps
			// the catalog's copy of its template, and its plan says why
			// it cannot be applied.
			resolved = inst
			resolved.Effective = effective(inst)
			resolved.Problem = fmt.Sprintf("its template cannot be resolved with the stack's variables: %v", err)
		}
		inst = resolved
		st.Instances = append(st.Instances, inst)
	}
	return stacks, nil
}

// effective merges an instance's template (if any) and overrides.
func effective(inst spec.Instance) spec.Effective {
	if inst.Template == nil {
		return spec.Merge(nil, inst.Overrides)
	}
	return spec.Merge(&inst.Template.Spec, inst.Overrides)
}

// resolveInstance returns inst with its effective spec. A template that
// references compose variables is first resolved with the stack's
// variables (catalog.Resolve) into a copy of the template (shared by the
// instances of the same template and variables), so that everything downstream (merge, staleness token,
// record) sees the values; the fields whose value came from variables are
// listed in Effective.Variables. The warnings name references to variables
// that are neither given nor defaulted.
func (c *resolveCache) resolveInstance(inst spec.Instance, vars []spec.Variable) (spec.Instance, []catalog.Warning, error) {
	if inst.Template == nil || inst.Template.Compose == "" {
		inst.Effective = effective(inst)
		return inst, nil, nil
	}
	r, err := c.resolve(inst.Template, vars)
	if err != nil {
		return inst, nil, err
	}
	inst.Template = r.template
	inst.Effective = effective(inst)
	inst.Effective.Variables = r.res.Uses
	return inst, r.res.Warnings, nil
}

func scanStack(row pgx.CollectableRow) (spec.Stack, error) {
	var (
		st    spec.Stack
		wires []byte
		vars  []byte
	)
	if err := row.Scan(&st.ID, &st.Name, &st.Description, &st.NetworkName, &st.Enabled, &wires, &vars, &st.Deleting, &st.RemoveVolumes, &st.ContentDigest, &st.Engine); err != nil {
		return st, err
	}
	v, err := decodeVariables(vars)
	if err != nil {
		return st, fmt.Errorf("stack %q: %w", st.Name, err)
	}
	st.Variables = v
	w, err := decodeWires(wires)
	if err != nil {
		return st, fmt.Errorf("stack %q: %w", st.Name, err)
	}
	st.Wires = w
	st.Instances = []spec.Instance{}
	return st, nil
}

// instanceRow is an instance as stored, before its template is joined.
type instanceRow struct {
	stackID    int64
	templateID *int64
	inst       spec.Instance
}

// loadInstances reads the live instances of the given stacks, ordered by
// stack and name.
//
// Rows are collected by pointer: an Instance is kilobytes by value, and a
// slice of them grown row by row copies every one at each doubling.
func loadInstances(ctx context.Context, q querier, stackIDs []int64) ([]*instanceRow, error) {
	rows, err := q.Query(ctx, `
		SELECT stack_id, id, name, template_id, overrides, enabled, content_digest
		FROM instances
		WHERE deleted_at IS NULL AND stack_id = ANY($1)
		ORDER BY stack_id, name COLLATE "C"`, stackIDs)
	if err != nil {
		return nil, fmt.Errorf("read instances: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*instanceRow, error) {
		var (
			r    = new(instanceRow)
			body []byte
		)
		if err := row.Scan(&r.stackID, &r.inst.ID, &r.inst.Name, &r.templateID, &body, &r.inst.Enabled, &r.inst.ContentDigest); err != nil {
			return r, err
		}
		o, err := decodeOverrides(body)
		if err != nil {
			return r, fmt.Errorf("instance %q: %w", r.inst.Name, err)
		}
		r.inst.Overrides = o
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read instances: %w", err)
	}
	return out, nil
}
