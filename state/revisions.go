package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// Kinds of revision: what changed a stack's desired state.
const (
	RevisionImport   = "import"
	RevisionEdit     = "edit"
	RevisionDelete   = "delete"
	RevisionDisable  = "disable"
	RevisionEnable   = "enable"
	RevisionRevert   = "revert"
	RevisionTemplate = "template"
)

// UnknownAuthor is a revision's author when the change's context names
// none (see WithAuthor).
const UnknownAuthor = "unknown"

// Revision is one stored change of a stack's desired state. Its Diff is
// the change in the plan's JSON format (plan.Preview), secrets redacted;
// the document that restores the revision is never returned.
type Revision struct {
	StackID   int64     `json:"stack_id"`
	Number    int       `json:"number"`
	Author    string    `json:"author"`
	Kind      string    `json:"kind"`
	CreatedAt time.Time `json:"created_at"`
	// RevertedTo is the revision a revert restored.
	RevertedTo *int            `json:"reverted_to,omitempty"`
	Diff       json.RawMessage `json:"diff"`
}

// RevisionMismatchError says the stack's current revision is not the one
// the caller expected (optimistic concurrency: someone else changed the
// stack first). Nothing was written.
type RevisionMismatchError struct {
	Stack    string
	Expected int
	Current  int
}

func (e *RevisionMismatchError) Error() string {
	return fmt.Sprintf("stack %q is at revision %d, not %d: it was changed since you read it; read it again and redo your change", e.Stack, e.Current, e.Expected)
}

// authorKey is the context key of WithAuthor.
type authorKey struct{}

// WithAuthor returns ctx naming who makes the changes done with it: the
// revisions they store record author. The API passes its caller, the CLI
// user@host (cli).
func WithAuthor(ctx context.Context, author string) context.Context {
	return context.WithValue(ctx, authorKey{}, author)
}

// authorOf is the author WithAuthor gave ctx, UnknownAuthor when none.
func authorOf(ctx context.Context) string {
	if a, ok := ctx.Value(authorKey{}).(string); ok && strings.TrimSpace(a) != "" {
		return cleanText(a)
	}
	return UnknownAuthor
}

// documentSQL builds the revision document of stack $1 as stored now: the
// stack row's columns and its live instances (template by name).
const documentSQL = `SELECT jsonb_build_object(
		'name', s.name, 'description', s.description, 'network_name', s.network_name, 'engine', s.engine,
		'enabled', s.enabled, 'deleted', s.deleted_at IS NOT NULL, 'wires', s.wires, 'variables', s.variables,
		'instances', coalesce((
			SELECT jsonb_agg(jsonb_build_object('name', i.name, 'template', t.name, 'overrides', i.overrides, 'enabled', i.enabled)
				ORDER BY i.name COLLATE "C")
			FROM instances i LEFT JOIN templates t ON t.id = i.template_id
			WHERE i.stack_id = s.id AND i.deleted_at IS NULL), '[]'::jsonb))
	FROM stacks s WHERE s.id = $1`

// revisionDocument is a stored revision's document.
type revisionDocument struct {
	Name        string             `json:"name"`
	Description string             `json:"description"`
	NetworkName string             `json:"network_name"`
	Engine      string             `json:"engine,omitempty"`
	Enabled     bool               `json:"enabled"`
	Deleted     bool               `json:"deleted"`
	Wires       json.RawMessage    `json:"wires"`
	Variables   json.RawMessage    `json:"variables"`
	Instances   []revisionInstance `json:"instances"`
}

type revisionInstance struct {
	Name      string          `json:"name"`
	Template  *string         `json:"template"`
	Overrides json.RawMessage `json:"overrides"`
	Enabled   bool            `json:"enabled"`
}

// pendingRevision is a change of one stack in progress: the stack as it
// was before, to store a revision of the change once it is written.
type pendingRevision struct {
	before spec.Stack
	doc    string // documentSQL before the change; "" for a new stack
	// diff is the change commit stored, nil before or when none.
	diff *plan.Plan
}

// beginRevision reads the live stack before a change (zero when there is
// none) and locks its row. Call it in the change's transaction, before
// writing.
func (s *Store) beginRevision(ctx context.Context, tx pgx.Tx, f stackFilter) (*pendingRevision, error) {
	f.forUpdate = true
	list, err := loadStacks(ctx, tx, s.resolved, f)
	if err != nil {
		return nil, err
	}
	p := &pendingRevision{}
	if len(list) == 0 {
		return p, nil
	}
	p.before = list[0]
	if err := tx.QueryRow(ctx, documentSQL, p.before.ID).Scan(&p.doc); err != nil {
		return nil, fmt.Errorf("read stack document: %w", err)
	}
	return p, nil
}

// commit stores the revision of the change written to stack stackID in
// tx, when the stored stack differs from before; it returns its number,
// or 0 when nothing changed. revertedTo > 0 names the revision a revert
// restored.
func (p *pendingRevision) commit(ctx context.Context, s *Store, tx pgx.Tx, stackID int64, kind string, revertedTo int) (int, error) {
	var doc string
	if err := tx.QueryRow(ctx, documentSQL, stackID).Scan(&doc); err != nil {
		return 0, fmt.Errorf("read stack document: %w", err)
	}
	// A template change leaves the stack's own document as it was: it is
	// a change when the stack's effective desired state differs.
	if doc == p.doc && kind != RevisionTemplate {
		return 0, nil
	}
	after, err := s.stackAfter(ctx, tx, stackID, p.before)
	if err != nil {
		return 0, err
	}
	paths, err := revisionPaths(ctx, tx)
	if err != nil {
		return 0, err
	}
	p.diff = plan.Preview(p.before, after, paths, time.Now())
	if doc == p.doc && p.diff.Empty() {
		p.diff = nil
		return 0, nil
	}
	var b strings.Builder
	if err := p.diff.WriteJSON(&b); err != nil {
		return 0, fmt.Errorf("encode revision diff: %w", err)
	}
	var reverted *int
	if revertedTo > 0 {
		reverted = &revertedTo
	}
	var n int
	err = tx.QueryRow(ctx, `
		INSERT INTO stack_revisions (stack_id, number, author, kind, reverted_to, diff, document)
		SELECT $1, coalesce((SELECT max(number) FROM stack_revisions WHERE stack_id = $1), 0) + 1, $2, $3, $4, $5, $6
		RETURNING number`,
		stackID, authorOf(ctx), kind, reverted, b.String(), doc).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store revision: %w", err)
	}
	return n, nil
}

// stackAfter reads stack stackID as written in tx; a deleted stack is
// before without instances.
func (s *Store) stackAfter(ctx context.Context, tx pgx.Tx, stackID int64, before spec.Stack) (spec.Stack, error) {
	list, err := loadStacks(ctx, tx, s.resolved, stackFilter{where: "id = $1", args: []any{stackID}})
	if err != nil {
		return spec.Stack{}, err
	}
	if len(list) == 0 {
		after := before
		after.Instances = nil
		return after, nil
	}
	return list[0], nil
}

// revisionPaths is the installation diffs are computed with (its keys
// make the digests the field diff compares); none on a database without
// one, where the diff shows no digest-based detail.
func revisionPaths(ctx context.Context, q querier) (project.Options, error) {
	paths, err := readInstallation(ctx, q)
	if errors.Is(err, ErrNotInstalled) {
		return project.Options{}, nil
	}
	return paths, err
}

// currentRevision is the number of the stack's latest revision, 0 when it
// has none.
func currentRevision(ctx context.Context, q pgx.Tx, stackID int64) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT coalesce(max(number), 0) FROM stack_revisions WHERE stack_id = $1`, stackID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("read revision: %w", err)
	}
	return n, nil
}

// checkRevision fails with a *RevisionMismatchError when want is set and
// the stack's revision is another.
func checkRevision(ctx context.Context, tx pgx.Tx, st spec.Stack, want *int) error {
	if want == nil {
		return nil
	}
	cur, err := currentRevision(ctx, tx, st.ID)
	if err != nil {
		return err
	}
	if cur != *want {
		return &RevisionMismatchError{Stack: st.Name, Expected: *want, Current: cur}
	}
	return nil
}

// StackRevision returns the live stack's current revision number (0 when
// no change was recorded since revisions exist): its version for
// optimistic concurrency. The error wraps ErrNotFound for an unknown stack.
func (s *Store) StackRevision(ctx context.Context, name string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `
		SELECT coalesce((SELECT max(number) FROM stack_revisions r WHERE r.stack_id = s.id), 0)
		FROM stacks s WHERE s.name = $1 AND s.deleted_at IS NULL`, name).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, stackNotFound(name)
	}
	if err != nil {
		return 0, fmt.Errorf("read revision of stack %q: %w", name, err)
	}
	return n, nil
}

// Revisions lists the revisions of the live stack named name, newest
// first; with no live stack of that name, those of the last one deleted
// (its removal pending or applied), whose newest revision is the delete.
// The error wraps ErrNotFound for a name no stack ever had.
func (s *Store) Revisions(ctx context.Context, name string) ([]Revision, error) {
	var out []Revision
	err := s.readSnapshot(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM stacks WHERE name = $1
			ORDER BY deleted_at IS NULL DESC, deleted_at DESC, id DESC LIMIT 1`, name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return stackNotFound(name)
		}
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `
			SELECT stack_id, number, author, kind, created_at, reverted_to, diff
			FROM stack_revisions WHERE stack_id = $1 ORDER BY number DESC`, id)
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Revision, error) {
			var (
				r    Revision
				diff []byte
			)
			err := row.Scan(&r.StackID, &r.Number, &r.Author, &r.Kind, &r.CreatedAt, &r.RevertedTo, &diff)
			r.Diff = diff
			return r, err
		})
		return err
	})
	if err == nil || errors.Is(err, ErrNotFound) {
		return out, err
	}
	return nil, fmt.Errorf("list revisions of stack %q: %w", name, err)
}
