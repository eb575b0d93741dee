package state

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/devarch/devarch-controller/spec"
)

// updateTemplate replaces a catalog template's content (unless its digest
// already is digest) and stores a revision of kind template for every live
// stack whose effective desired state the change alters, in one
// transaction. The stacks using the template are locked first, so that
// their revisions' "before" is the state the change was made to.
func (s *Store) updateTemplate(ctx context.Context, id int64, t spec.Template, body []byte, digest string) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		users, err := loadStacks(ctx, tx, s.resolved, stackFilter{
			where:     "id IN (SELECT stack_id FROM instances WHERE template_id = $1 AND deleted_at IS NULL)",
			args:      []any{id},
			forUpdate: true,
		})
		if err != nil {
			return err
		}
		revs := make([]*pendingRevision, len(users))
		for i, st := range users {
			revs[i] = &pendingRevision{before: st}
			if err := tx.QueryRow(ctx, documentSQL, st.ID).Scan(&revs[i].doc); err != nil {
				return fmt.Errorf("read stack document: %w", err)
			}
		}
		tag, err = tx.Exec(ctx, `
			UPDATE templates SET category = $2, source_path = $3, spec = $4, digest = $5, compose = $6
			WHERE id = $1 AND digest <> $5`,
			id, t.Category, t.SourcePath, body, digest, t.Compose)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		for _, rev := range revs {
			if _, err := rev.commit(ctx, s, tx, rev.before.ID, RevisionTemplate, 0); err != nil {
				return fmt.Errorf("stack %q: %w", rev.before.Name, err)
			}
		}
		return nil
	})
	return tag, err
}
