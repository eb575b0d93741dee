package state

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/spec"
)

// Outcomes of an upsert or import, per row.
const (
	ActionCreated   = "created"
	ActionUpdated   = "updated"
	ActionUnchanged = "unchanged"
	ActionDeleted   = "deleted"
)

// TemplateOutcome says what UpsertTemplate did.
type TemplateOutcome struct {
	ID     int64  `json:"id"`
	Action string `json:"action"` // ActionCreated, ActionUpdated or ActionUnchanged
}

// UpsertTemplate stores a catalog template under its name. digest is the
// template's content hash (catalog.Digest): when the stored digest equals
// it, nothing is written at all (updated_at and NOTIFY stay quiet) and the
// outcome is ActionUnchanged. Otherwise the row is inserted or its category,
// source path, spec, compose file and digest are replaced. Instances that use the template
// see the new spec on their next read.
func (s *Store) UpsertTemplate(ctx context.Context, t spec.Template, digest string) (TemplateOutcome, error) {
	switch {
	case t.Name == "":
		return TemplateOutcome{}, errors.New("upsert template: the template has no name")
	case digest == "":
		return TemplateOutcome{}, fmt.Errorf("upsert template %q: the digest is empty", t.Name)
	}
	body, err := encodeSpec(t.Spec)
	if err != nil {
		return TemplateOutcome{}, fmt.Errorf("upsert template %q: %w", t.Name, err)
	}
	// Two rounds at most: a concurrent insert of the same name makes our
	// insert do nothing, and the second round sees that row.
	for range 2 {
		out, done, err := s.upsertTemplateOnce(ctx, t, body, digest)
		if err != nil {
			return TemplateOutcome{}, fmt.Errorf("upsert template %q: %w", t.Name, err)
		}
		if done {
			return out, nil
		}
	}
	return TemplateOutcome{}, fmt.Errorf("upsert template %q: the row changed concurrently twice; try again", t.Name)
}

func (s *Store) upsertTemplateOnce(ctx context.Context, t spec.Template, body []byte, digest string) (TemplateOutcome, bool, error) {
	var (
		id     int64
		stored string
	)
	err := s.pool.QueryRow(ctx, `SELECT id, digest FROM templates WHERE name = $1`, t.Name).Scan(&id, &stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		err = s.pool.QueryRow(ctx, `
			INSERT INTO templates (name, category, source_path, spec, digest, compose)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (name) DO NOTHING
			RETURNING id`,
			t.Name, t.Category, t.SourcePath, body, digest, t.Compose).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return TemplateOutcome{}, false, nil
		}
		if err != nil {
			return TemplateOutcome{}, false, fmt.Errorf("insert row: %w", err)
		}
		return TemplateOutcome{ID: id, Action: ActionCreated}, true, nil
	case err != nil:
		return TemplateOutcome{}, false, fmt.Errorf("read row: %w", err)
	case stored == digest:
		return TemplateOutcome{ID: id, Action: ActionUnchanged}, true, nil
	}
	tag, err := s.updateTemplate(ctx, id, t, body, digest)
	if err != nil {
		return TemplateOutcome{}, false, fmt.Errorf("update row: %w", err)
	}
	if tag.RowsAffected() == 0 {
		// Another process stored the same digest in between.
		return TemplateOutcome{ID: id, Action: ActionUnchanged}, true, nil
	}
	return TemplateOutcome{ID: id, Action: ActionUpdated}, true, nil
}

const templateColumns = `id, name, category, source_path, spec, compose, content_digest`

// Templates returns the whole catalog, sorted by name.
func (s *Store) Templates(ctx context.Context) ([]spec.Template, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+templateColumns+` FROM templates ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanTemplate)
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	return out, nil
}

// Template returns one template by name; the error wraps ErrNotFound when
// the catalog has no such template.
func (s *Store) Template(ctx context.Context, name string) (spec.Template, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+templateColumns+` FROM templates WHERE name = $1`, name)
	if err != nil {
		return spec.Template{}, fmt.Errorf("get template %q: %w", name, err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanTemplate)
	if errors.Is(err, pgx.ErrNoRows) {
		return spec.Template{}, fmt.Errorf("template %q %w", name, ErrNotFound)
	}
	if err != nil {
		return spec.Template{}, fmt.Errorf("get template %q: %w", name, err)
	}
	return t, nil
}

// templatesByID loads the templates with the given ids.
func templatesByID(ctx context.Context, q querier, ids []int64) (map[int64]*spec.Template, error) {
	if len(ids) == 0 {
		return map[int64]*spec.Template{}, nil
	}
	rows, err := q.Query(ctx, `SELECT `+templateColumns+` FROM templates WHERE id = ANY($1)`, ids)
	return collectTemplates(rows, err, func(t spec.Template) int64 { return t.ID })
}

// templatesByName loads the templates with the given names.
func templatesByName(ctx context.Context, q querier, names []string) (map[string]*spec.Template, error) {
	if len(names) == 0 {
		return map[string]*spec.Template{}, nil
	}
	rows, err := q.Query(ctx, `SELECT `+templateColumns+` FROM templates WHERE name = ANY($1)`, names)
	return collectTemplates(rows, err, func(t spec.Template) string { return t.Name })
}

// collectTemplates reads the templates of a query (rows and err are what
// Query returned) into a map, each under key(template).
func collectTemplates[K comparable](rows pgx.Rows, err error, key func(spec.Template) K) (map[K]*spec.Template, error) {
	if err != nil {
		return nil, fmt.Errorf("read templates: %w", err)
	}
	list, err := pgx.CollectRows(rows, scanTemplate)
	if err != nil {
		return nil, fmt.Errorf("read templates: %w", err)
	}
	out := make(map[K]*spec.Template, len(list))
	for i := range list {
		out[key(list[i])] = &list[i]
	}
	return out, nil
}

func scanTemplate(row pgx.CollectableRow) (spec.Template, error) {
	var (
		t    spec.Template
		body []byte
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Category, &t.SourcePath, &body, &t.Compose, &t.ContentDigest); err != nil {
		return t, err
	}
	sp, err := decodeSpec(body)
	if err != nil {
		return t, fmt.Errorf("template %q: %w", t.Name, err)
	}
	t.Spec = sp
	return t, nil
}
