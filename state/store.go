package state

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/spec"
)

// Store reads and writes the desired state through a pgx connection pool.
// It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	log  *zap.Logger
	// resolved caches templates resolved with stacks' variables.
	resolved *resolveCache
	// subnets is network.subnet_pool (see subnets.go); zero: none.
	subnets spec.SubnetPool
}

// Option adjusts Open.
type Option func(*options)

type options struct {
	configure []func(*pgxpool.Config)
	log       *zap.Logger
	subnets   spec.SubnetPool
}

// WithPoolConfig lets the caller adjust the pool configuration (pool size,
// a query tracer, ...) before the pool connects. application_name is set
// before fn runs.
func WithPoolConfig(fn func(*pgxpool.Config)) Option {
	return func(o *options) { o.configure = append(o.configure, fn) }
}

// WithLogger sets the logger the store reports background trouble to (the
// Listen connection being lost and re-established). Default: no logging.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) { o.log = l }
}

// Open connects a pool to databaseURL, identifying its sessions with
// appName (PostgreSQL's application_name, visible in pg_stat_activity), and
// checks that the database answers. It does not migrate: call Migrate first.
func Open(ctx context.Context, databaseURL, appName string, opts ...Option) (*Store, error) {
	o := options{log: zap.NewNop()}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, errMalformedURL
	}
	if appName != "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = appName
	}
	cfg.ConnConfig.DialFunc = dialer().DialContext
	for _, fn := range o.configure {
		fn(cfg)
	}
	// The server-side keepalive settings are set after connecting rather
	// than as startup parameters: a session-pooling proxy (PgBouncer)
	// refuses startup parameters it does not know. Where SET fails the
	// connection is used all the same; the client side still watches.
	after := cfg.AfterConnect
	log := o.log
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if _, err := conn.Exec(ctx, serverKeepaliveSQL); err != nil {
			log.Debug("cannot set server-side TCP keepalive for the session", zap.NamedError("err", err))
		}
		if after != nil {
			return after(ctx, conn)
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("create connection pool: %w", err)
	}
	s := &Store{pool: pool, log: o.log.With(zap.String("component", "state")), resolved: newResolveCache(), subnets: o.subnets}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Close closes every connection of the pool. Listen channels end when their
// context does, not on Close; cancel them first.
func (s *Store) Close() { s.pool.Close() }

// Pool returns the underlying pool, for packages that need their own
// connection (the lock package pins one per stack lock).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// errMalformedURL replaces URL parse errors, whose text can contain the
// password.
var errMalformedURL = errors.New("parse database url: the URL is malformed; expected postgres://USER[:PASSWORD]@HOST:PORT/DATABASE?sslmode=disable")

// querier is what the read helpers need: a pool, a connection or a
// transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}
