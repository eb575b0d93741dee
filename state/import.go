package state

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// ImportResult says what ImportStack did to the stack and each instance.
type ImportResult struct {
	StackID     int64             `json:"stack_id"`
	StackAction string            `json:"stack_action"` // ActionCreated, ActionUpdated or ActionUnchanged
	Instances   []InstanceOutcome `json:"instances"`    // sorted by name
	// Warnings name the stack's weak secrets (spec.Stack.WeakSecrets):
	// the import succeeded, but the user should change them.
	Warnings []string `json:"warnings,omitempty"`
	// Revision is the number of the revision the import stored, 0 when
	// it changed nothing.
	Revision int `json:"revision,omitempty"`
	// Preview is the change the import stored as its revision's diff (nil
	// when it changed nothing), secrets redacted.
	Preview *plan.Plan `json:"-"`
}

// InstanceOutcome is what an import did to one instance.
type InstanceOutcome struct {
	Name   string `json:"name"`
	ID     int64  `json:"id"`
	Action string `json:"action"` // ActionCreated, ActionUpdated, ActionUnchanged or ActionDeleted
}

// Changed reports whether the import wrote anything.
func (r ImportResult) Changed() bool {
	if r.StackAction != ActionUnchanged {
		return true
	}
	return slices.ContainsFunc(r.Instances, func(o InstanceOutcome) bool { return o.Action != ActionUnchanged })
}

// ImportStack makes the live stack named s.Name match s, in one transaction
// that writes everything or nothing:
//
//   - each instance's Template is nil (the instance carries a full spec in
//     its overrides) or names a catalog template (&spec.Template{Name: ...});
//     templates missing from the catalog fail the import with a
//     *MissingTemplatesError listing all of them;
//   - the effective specs are merged and the stack validated with
//     spec.Stack.Validate before any write; problems come back as the
//     *spec.ValidationError;
//   - templates that reference compose variables are resolved with the
//     stack's Variables (catalog.Resolve): a required variable that is
//     missing, or a value compose refuses, is a problem of the instance's
//     template, and references to variables that are neither given nor
//     defaulted are warnings (compose substitutes "");
//   - the stack is created, or its description, network, enabled flag,
//     wires and variables are replaced; instances are matched by name, created or
//     replaced (template, overrides, enabled); live instances of the stack
//     that s does not list are soft-deleted.
//
// A row whose content would not change is not written, so re-importing the
// same definition reports every action as ActionUnchanged and moves no
// updated_at. Ids in s are ignored: names identify stacks and instances.
// The result's Warnings name the merged stack's weak secrets (a value
// inherited from a template counts), also when nothing changed.
func (s *Store) ImportStack(ctx context.Context, st spec.Stack) (ImportResult, error) {
	return s.importStack(ctx, st, importOptions{kind: RevisionImport})
}

// CreateStack is ImportStack for a stack that must not exist yet: when a
// live stack has the name, the error wraps ErrExists and nothing is written.
func (s *Store) CreateStack(ctx context.Context, st spec.Stack) (ImportResult, error) {
	return s.importStack(ctx, st, importOptions{createOnly: true, kind: RevisionImport})
}

func (s *Store) importStack(ctx context.Context, st spec.Stack, o importOptions) (ImportResult, error) {
	createOnly := o.createOnly
	var res ImportResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, merged, warnings, err := prepareImport(ctx, tx, s.resolved, st)
		if err != nil {
			return err
		}
		rev, err := s.beginRevision(ctx, tx, stackFilter{where: "name = $1", args: []any{st.Name}})
		if err != nil {
			return err
		}
		if err := checkRevision(ctx, tx, spec.Stack{ID: rev.before.ID, Name: st.Name}, o.ifRevision); err != nil {
			return err
		}
		res.Warnings = append(warnings, weakSecretWarnings(merged, "")...)
		wires, err := encodeWires(st.Wires)
		if err != nil {
			return err
		}
		vars, err := encodeVariables(st.Variables)
		if err != nil {
			return err
		}
		res.StackID, res.StackAction, err = upsertStackRow(ctx, tx, st, stackColumns{wires: wires, variables: vars}, createOnly)
		if err != nil {
			return err
		}
		res.Instances, err = syncInstances(ctx, tx, res.StackID, rows)
		if err != nil {
			return err
		}
		res.Revision, err = rev.commit(ctx, s, tx, res.StackID, o.kind, o.revertedTo)
		res.Preview = rev.diff
		return err
	})
	var (
		missing  *MissingTemplatesError
		invalid  *spec.ValidationError
		mismatch *RevisionMismatchError
	)
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &missing), errors.As(err, &invalid), errors.As(err, &mismatch):
		return ImportResult{}, err
	default:
		return ImportResult{}, fmt.Errorf("import stack %q: %w", st.Name, err)
	}
}

// instanceInput is one instance of an import, ready to write.
type instanceInput struct {
	name       string
	templateID *int64
	overrides  []byte
	enabled    bool
}

// prepareImport resolves the templates the instances name, validates the
// merged stack and encodes each instance's row. It returns the rows, the
// merged stack and the warnings of the templates' variable references
// (catalog.Resolve): a template that does not resolve with the stack's
// variables is a problem.
func prepareImport(ctx context.Context, tx pgx.Tx, rc *resolveCache, st spec.Stack) ([]instanceInput, spec.Stack, []string, error) {
	templates, problems, err := resolveTemplates(ctx, tx, st)
	if err != nil {
		return nil, spec.Stack{}, nil, err
	}
	var warnings, unresolved []string
	merged := st
	merged.Instances = make([]spec.Instance, len(st.Instances))
	out := make([]instanceInput, len(st.Instances))
	for i, inst := range st.Instances {
		in := instanceInput{name: inst.Name, enabled: inst.Enabled}
		name := inst.TemplateName()
		inst.Template = nil
		if t := templates[name]; name != "" && t != nil {
			inst.Template = t
			in.templateID = &t.ID
		}
		inst, ws, err := rc.resolveInstance(inst, st.Variables)
		if err != nil {
			problems = append(problems, spec.Problem{Field: "instances." + inst.Name + ".template", Message: err.Error()})
			inst.Effective = effective(inst) // unresolved: its own problems are not reported
			unresolved = append(unresolved, "instances."+inst.Name+".")
		}
		for _, w := range ws {
			warnings = append(warnings, "instances."+inst.Name+": template file "+w.String())
		}
		merged.Instances[i] = inst
		if in.overrides, err = encodeOverrides(inst.Overrides); err != nil {
			return nil, spec.Stack{}, nil, fmt.Errorf("instance %q: %w", inst.Name, err)
		}
		out[i] = in
	}
	if err := merged.Validate(); err != nil {
		var ve *spec.ValidationError
		if !errors.As(err, &ve) {
			return nil, spec.Stack{}, nil, err
		}
		for _, p := range ve.Problems {
			if !slices.ContainsFunc(unresolved, func(prefix string) bool { return strings.HasPrefix(p.Field, prefix) }) {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		return nil, spec.Stack{}, nil, &spec.ValidationError{Problems: problems}
	}
	return out, merged, warnings, nil
}

// weakSecretWarnings returns the warnings of the stack's weak secrets, of
// one instance only when instance is not "".
func weakSecretWarnings(st spec.Stack, instance string) []string {
	var out []string
	for _, w := range st.WeakSecrets() {
		if instance == "" || w.Instance == instance {
			out = append(out, w.String())
		}
	}
	return out
}

// resolveTemplates loads the catalog templates the instances name. Every
// missing template fails with one *MissingTemplatesError; a template
// reference without a name is returned as a problem.
func resolveTemplates(ctx context.Context, tx pgx.Tx, st spec.Stack) (map[string]*spec.Template, []spec.Problem, error) {
	var (
		problems []spec.Problem
		names    []string
	)
	for _, inst := range st.Instances {
		switch {
		case inst.Template == nil:
		case inst.Template.Name == "":
			problems = append(problems, spec.Problem{
				Field:   "instances." + inst.Name + ".template",
				Message: "the template reference has no name; name a catalog template, or leave the template out and give the instance a full spec",
			})
		default:
			names = append(names, inst.Template.Name)
		}
	}
	templates, err := templatesByName(ctx, tx, names)
	if err != nil {
		return nil, nil, err
	}
	missing := &MissingTemplatesError{Stack: st.Name}
	for _, inst := range st.Instances {
		if name := inst.TemplateName(); name != "" && templates[name] == nil {
			missing.Missing = append(missing.Missing, MissingTemplate{Instance: inst.Name, Template: name})
		}
	}
	if len(missing.Missing) > 0 {
		return nil, nil, missing
	}
	return templates, problems, nil
}

// stackColumns are a stack row's encoded JSON columns.
type stackColumns struct{ wires, variables []byte }

// upsertStackRow creates the live stack named st.Name or updates it when
// its content differs, and locks the row for the rest of the transaction.
func upsertStackRow(ctx context.Context, tx pgx.Tx, st spec.Stack, cols stackColumns, createOnly bool) (int64, string, error) {
	// Two rounds at most: when a concurrent import creates the same name,
	// our insert waits for it, does nothing, and the second round finds it.
	for range 2 {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM stacks WHERE name = $1 AND deleted_at IS NULL FOR UPDATE`, st.Name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			err = tx.QueryRow(ctx, `
				INSERT INTO stacks (name, description, network_name, enabled, wires, variables, engine)
				VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (name) WHERE deleted_at IS NULL DO NOTHING
				RETURNING id`,
				st.Name, st.Description, st.NetworkName, st.Enabled, cols.wires, cols.variables, st.Engine).Scan(&id)
			if errors.Is(err, pgx.ErrNoRows) {
				continue
			}
			if err != nil {
				return 0, "", fmt.Errorf("insert stack: %w", err)
			}
			return id, ActionCreated, nil
		}
		if err != nil {
			return 0, "", fmt.Errorf("read stack: %w", err)
		}
		if createOnly {
			return 0, "", fmt.Errorf("stack %q %w; import it to replace its definition, or choose another name", st.Name, ErrExists)
		}
		tag, err := tx.Exec(ctx, `
			UPDATE stacks SET description = $2, network_name = $3, enabled = $4, wires = $5, variables = $6, engine = $7
			WHERE id = $1
			  AND (description, network_name, enabled, wires, variables, engine) IS DISTINCT FROM ($2::text, $3::text, $4::boolean, $5::jsonb, $6::jsonb, $7::text)`,
			id, st.Description, st.NetworkName, st.Enabled, cols.wires, cols.variables, st.Engine)
		if err != nil {
			return 0, "", fmt.Errorf("update stack: %w", err)
		}
		return id, changedAction(tag), nil
	}
	return 0, "", errors.New("write stack: the name was taken and released concurrently; try again")
}

// syncInstances makes the stack's live instances match in: matched by
// name, created, updated when different, and soft-deleted when absent. All
// writes go to the server in one batch.
func syncInstances(ctx context.Context, tx pgx.Tx, stackID int64, in []instanceInput) ([]InstanceOutcome, error) {
	rows, err := tx.Query(ctx, `SELECT name, id FROM instances WHERE stack_id = $1 AND deleted_at IS NULL FOR UPDATE`, stackID)
	if err != nil {
		return nil, fmt.Errorf("read instances: %w", err)
	}
	existing := map[string]int64{}
	var (
		name string
		id   int64
	)
	if _, err := pgx.ForEachRow(rows, []any{&name, &id}, func() error { existing[name] = id; return nil }); err != nil {
		return nil, fmt.Errorf("read instances: %w", err)
	}

	out := make([]InstanceOutcome, 0, len(in)+len(existing))
	batch := &pgx.Batch{}
	for _, inst := range in {
		i := len(out)
		id, ok := existing[inst.name]
		out = append(out, InstanceOutcome{Name: inst.name, ID: id})
		if !ok {
			batch.Queue(`
				INSERT INTO instances (stack_id, name, template_id, overrides, enabled)
				VALUES ($1, $2, $3, $4, $5) RETURNING id`,
				stackID, inst.name, inst.templateID, inst.overrides, inst.enabled,
			).QueryRow(func(row pgx.Row) error {
				out[i].Action = ActionCreated
				return row.Scan(&out[i].ID)
			})
			continue
		}
		delete(existing, inst.name)
		batch.Queue(`
			UPDATE instances SET template_id = $2, overrides = $3, enabled = $4
			WHERE id = $1
			  AND (template_id, overrides, enabled) IS DISTINCT FROM ($2::bigint, $3::jsonb, $4::boolean)`,
			id, inst.templateID, inst.overrides, inst.enabled,
		).Exec(func(tag pgconn.CommandTag) error {
			out[i].Action = changedAction(tag)
			return nil
		})
	}
	for name, id := range existing {
		out = append(out, InstanceOutcome{Name: name, ID: id, Action: ActionDeleted})
		batch.Queue(`UPDATE instances SET deleted_at = now() WHERE id = $1`, id)
	}
	if batch.Len() > 0 {
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return nil, fmt.Errorf("write instances: %w", err)
		}
	}
	slices.SortFunc(out, func(a, b InstanceOutcome) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func changedAction(tag pgconn.CommandTag) string {
	if tag.RowsAffected() == 0 {
		return ActionUnchanged
	}
	return ActionUpdated
}
