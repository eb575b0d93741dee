package state

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/devarch/devarch-controller/project"
)

// MigrationLockKey is the one-key (bigint) session advisory lock Migrate
// holds while it migrates, so that processes starting at the same time
// migrate one after the other. Its bytes spell "dvmigrat". It cannot
// collide with the per-stack apply locks of package lock, which use the
// two-key (int4, int4) form, nor with goose's own default key 4097083626.
const MigrationLockKey int64 = 0x64766d6967726174

// MigrationTable is the goose version table recording applied migrations.
const MigrationTable = "devarch_schema_migrations"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrateOption adjusts Migrate.
type MigrateOption func(*migrateOptions)

type migrateOptions struct {
	paths *project.Options
}

// WithInitialPaths has Migrate record p's host paths (state and workspace
// directory) as the installation's when none are stored yet. Paths already
// stored are left alone: serve records its own at start (Store.RecordPaths).
func WithInitialPaths(p project.Options) MigrateOption {
	return func(o *migrateOptions) { o.paths = &p }
}

// Migrate brings the database at databaseURL to the latest schema version.
// It is idempotent and safe to call from several processes at once: each
// waits (respecting ctx) for the session advisory lock MigrationLockKey,
// then applies only what is still missing. Each migration runs in its own
// transaction. Then, still under the lock, it sets up the installation:
// it creates the installation key (crypto/rand) when there is no current
// one, and records the host paths of WithInitialPaths when none are stored.
//
// The lock is taken here around the whole goose run rather than through
// goose's SessionLocker option, because goose v3.30's Provider.Up first
// calls HasPending without the locker, and that creates the version table
// unlocked: concurrent first starts then race on CREATE TABLE and goose
// retries after a second.
func Migrate(ctx context.Context, databaseURL string, opts ...MigrateOption) (err error) {
	var o migrateOptions
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return errMalformedURL
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "devarch-controller-migrate"
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()

	migrations, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("open embedded migrations: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, migrations,
		goose.WithTableName(MigrationTable),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}

	unlock, err := lockMigrations(ctx, db)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	return setUpInstallation(ctx, db, o.paths)
}

// lockMigrations waits for MigrationLockKey on a connection of its own
// (pg_advisory_lock waits in the server, and cancelling ctx cancels the
// wait) and returns the function that releases it. If the process dies,
// the lock dies with its session.
func lockMigrations(ctx context.Context, db *sql.DB) (unlock func() error, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect for migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", MigrationLockKey); err != nil {
		return nil, errors.Join(fmt.Errorf("take migration lock: %w", err), conn.Close())
	}
	return func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		var released bool
		err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", MigrationLockKey).Scan(&released)
		switch {
		case err != nil:
			err = fmt.Errorf("release migration lock: %w", err)
		case !released:
			err = errors.New("release migration lock: this session did not hold it")
		}
		return errors.Join(err, conn.Close())
	}, nil
}
