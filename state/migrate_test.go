package state_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/state"
)

var schemaTables = []string{"templates", "stacks", "instances", "approvals", "approval_events", "stack_status",
	"installation_keys", "installation_paths", state.MigrationTable}

func assertSchema(t *testing.T, url string) {
	t.Helper()
	ctx := testContext(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	for _, table := range schemaTables {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
			t.Fatalf("look up %s: %v", table, err)
		}
		if !exists {
			t.Errorf("table %s is missing", table)
		}
	}
	var applied int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+state.MigrationTable+" WHERE version_id = 1").Scan(&applied); err != nil {
		t.Fatalf("count applied migrations: %v", err)
	}
	if applied != 1 {
		t.Errorf("migration 1 recorded %d times, want once", applied)
	}
	var keys, current int
	if err := conn.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE retired_at IS NULL) FROM installation_keys").Scan(&keys, &current); err != nil {
		t.Fatalf("count installation keys: %v", err)
	}
	if keys != 1 || current != 1 {
		t.Errorf("%d installation keys (%d current), want exactly one, current", keys, current)
	}
}

func TestMigrateTwiceIsIdempotent(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	for i := range 2 {
		if err := state.Migrate(testContext(t), url); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}
	assertSchema(t, url)
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	ctx := testContext(t)
	const processes = 3
	errs := make([]error, processes)
	var wg sync.WaitGroup
	for i := range processes {
		wg.Go(func() { errs[i] = state.Migrate(ctx, url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate #%d: %v", i, err)
		}
	}
	assertSchema(t, url)
}

func TestMigrateWaitsForTheLockAndHonoursContext(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	ctx := testContext(t)
	holder, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer holder.Close(context.Background())
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", state.MigrationLockKey); err != nil {
		t.Fatalf("take migration lock: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := state.Migrate(short, url); err == nil {
		t.Fatal("Migrate succeeded while another session held the migration lock")
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock($1)", state.MigrationLockKey); err != nil {
		t.Fatalf("release migration lock: %v", err)
	}
	if err := state.Migrate(ctx, url); err != nil {
		t.Fatalf("Migrate after the lock was released: %v", err)
	}
	assertSchema(t, url)
}

func TestMalformedURLDoesNotLeakPassword(t *testing.T) {
	t.Parallel()
	const url = "postgres://user:" + secretValue + "@127.0.0.1:notaport/db"
	ctx := context.Background()
	if err := state.Migrate(ctx, url); err == nil {
		t.Error("Migrate accepted a malformed URL")
	} else if strings.Contains(err.Error(), secretValue) {
		t.Errorf("Migrate error leaks the password: %v", err)
	}
	if _, err := state.Open(ctx, url, "x"); err == nil {
		t.Error("Open accepted a malformed URL")
	} else if strings.Contains(err.Error(), secretValue) {
		t.Errorf("Open error leaks the password: %v", err)
	}
}

func TestOpenSetsApplicationName(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var name string
	if err := s.Pool().QueryRow(testContext(t), "SELECT current_setting('application_name')").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "state-test" {
		t.Errorf("application_name = %q, want %q", name, "state-test")
	}
	if err := s.Ping(testContext(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
