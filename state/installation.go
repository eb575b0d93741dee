package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/project"
)

// ErrNotInstalled reports a database without a current installation key or
// without recorded host paths: Migrate has not run on it (every command
// runs it first), or a key was removed by hand.
var ErrNotInstalled = errors.New("the database has no installation set up; run \"devarch-controller migrate\"")

// KeyInfo describes an installation key without its secret.
type KeyInfo struct {
	ID        int64     `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	// RetiredAt is nil for the current key.
	RetiredAt *time.Time `json:"retired_at"`
}

// Current reports whether the key is the installation's current key.
func (k KeyInfo) Current() bool { return k.RetiredAt == nil }

// setUpInstallation creates the installation key when there is no current
// one, and records paths when given and none are stored. Migrate calls it
// under the migration lock.
func setUpInstallation(ctx context.Context, db *sql.DB, paths *project.Options) error {
	secret, err := keyring.Generate()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `
		INSERT INTO installation_keys (secret)
		SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM installation_keys WHERE retired_at IS NULL)
		ON CONFLICT DO NOTHING`, secret); err != nil {
		return fmt.Errorf("create installation key: %w", err)
	}
	if paths == nil {
		return nil
	}
	if _, err := db.ExecContext(ctx, `
		INSERT INTO installation_paths (state_dir, workspace_dir, recorded_by) VALUES ($1, $2, 'migrate')
		ON CONFLICT (id) DO NOTHING`, paths.StateDir, paths.WorkspaceDir); err != nil {
		return fmt.Errorf("record installation host paths: %w", err)
	}
	return nil
}

// Installation returns what every plan and apply of this database is built
// with: the recorded host paths and the installation keys (current and
// retired). It fails with ErrNotInstalled when there is no current key or
// no recorded paths. One query.
func (s *Store) Installation(ctx context.Context) (project.Options, error) {
	return readInstallation(ctx, s.pool)
}

// readInstallation is Installation through q (a pool or a transaction).
func readInstallation(ctx context.Context, q querier) (project.Options, error) {
	rows, err := q.Query(ctx, `
		SELECT k.id, k.secret, k.created_at, k.retired_at, p.state_dir, p.workspace_dir
		FROM installation_keys k LEFT JOIN installation_paths p ON true
		ORDER BY k.id`)
	if err != nil {
		return project.Options{}, fmt.Errorf("read installation: %w", err)
	}
	defer rows.Close()
	var (
		out      project.Options
		current  bool
		havePath bool
	)
	for rows.Next() {
		var (
			k                 keyring.Key
			retired           *time.Time
			stateDir, workDir *string
		)
		if err := rows.Scan(&k.ID, &k.Secret, &k.CreatedAt, &retired, &stateDir, &workDir); err != nil {
			return project.Options{}, fmt.Errorf("read installation: %w", err)
		}
		if stateDir != nil && workDir != nil {
			out.StateDir, out.WorkspaceDir, havePath = *stateDir, *workDir, true
		}
		if retired == nil {
			out.Keys.Current, current = k, true
			continue
		}
		k.RetiredAt = *retired
		out.Keys.Retired = append(out.Keys.Retired, k)
	}
	if err := rows.Err(); err != nil {
		return project.Options{}, fmt.Errorf("read installation: %w", err)
	}
	switch {
	case !current:
		return project.Options{}, fmt.Errorf("read installation: no current installation key: %w", ErrNotInstalled)
	case !havePath:
		return project.Options{}, fmt.Errorf("read installation: no host paths recorded: %w", ErrNotInstalled)
	}
	return out, nil
}

// RecordPaths stores p's host paths as the installation's (serve does at
// start: its configured paths win). It returns the paths stored before
// (zero when none were) and whether they changed. recordedBy names the
// caller in the row.
func (s *Store) RecordPaths(ctx context.Context, p project.Options, recordedBy string) (previous project.Options, changed bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT state_dir, workspace_dir FROM installation_paths WHERE id = 1 FOR UPDATE`).
			Scan(&previous.StateDir, &previous.WorkspaceDir)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		changed = previous.StateDir != p.StateDir || previous.WorkspaceDir != p.WorkspaceDir
		if !changed {
			return nil
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO installation_paths (id, state_dir, workspace_dir, recorded_by) VALUES (1, $1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET state_dir = EXCLUDED.state_dir, workspace_dir = EXCLUDED.workspace_dir,
				recorded_by = EXCLUDED.recorded_by`,
			p.StateDir, p.WorkspaceDir, recordedBy)
		return err
	})
	if err != nil {
		return project.Options{}, false, fmt.Errorf("record installation host paths: %w", err)
	}
	return previous, changed, nil
}

// Keys lists the installation keys, newest first, without their secrets.
func (s *Store) Keys(ctx context.Context) ([]KeyInfo, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, created_at, retired_at FROM installation_keys ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list installation keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KeyInfo, error) {
		var k KeyInfo
		err := r.Scan(&k.ID, &k.CreatedAt, &k.RetiredAt)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list installation keys: %w", err)
	}
	return out, nil
}

// RotateKey retires the current installation key and creates a new one
// (crypto/rand), in one transaction; rotations and Migrate's key creation
// take turns (table lock). Every staleness token made with the old key no
// longer matches: approvals filed with one end stale. The old key is kept
// (retired) so plans can tell a re-keyed digest from a changed value.
func (s *Store) RotateKey(ctx context.Context) (created, retired KeyInfo, err error) {
	secret, err := keyring.Generate()
	if err != nil {
		return KeyInfo{}, KeyInfo{}, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE installation_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			UPDATE installation_keys SET retired_at = greatest(now(), created_at) WHERE retired_at IS NULL
			RETURNING id, created_at, retired_at`).Scan(&retired.ID, &retired.CreatedAt, &retired.RetiredAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotInstalled
		}
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO installation_keys (secret) VALUES ($1) RETURNING id, created_at, retired_at`, secret).
			Scan(&created.ID, &created.CreatedAt, &created.RetiredAt)
	})
	if err != nil {
		return KeyInfo{}, KeyInfo{}, fmt.Errorf("rotate installation key: %w", err)
	}
	return created, retired, nil
}
