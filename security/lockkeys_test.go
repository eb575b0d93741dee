package security_test

import (
	"context"
	"go/ast"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/state"
)

// gooseDefaultLockID is goose's own migration lock key (not used by this
// project, which locks with state.MigrationLockKey, but another tool
// migrating the same database might).
const gooseDefaultLockID int64 = 4097083626

// TestLockKeySpaces checks the numbers behind the advisory lock scheme
// (docs/locking.md): stack locks are two-key (lock.Namespace, stack id)
// in devarch's 0x6476_NNNN range; the migration lock is one key. PostgreSQL
// keeps one-key and two-key locks apart (pg_locks.objsubid 1 and 2); on
// top of that their classid halves differ, so even a pg_locks query
// filtering on classid alone cannot mistake one for the other.
func TestLockKeySpaces(t *testing.T) {
	if uint32(lock.Namespace)>>16 != 0x6476 {
		t.Errorf("lock.Namespace %#x is outside devarch's 0x6476_NNNN range", lock.Namespace)
	}
	if uint32(state.SubnetLockNamespace)>>16 != 0x6476 || state.SubnetLockNamespace == lock.Namespace {
		t.Errorf("state.SubnetLockNamespace %#x must be a devarch namespace other than lock.Namespace", state.SubnetLockNamespace)
	}
	migrationClassID := uint32(uint64(state.MigrationLockKey) >> 32)
	if migrationClassID == uint32(lock.Namespace) {
		t.Errorf("the migration lock's high half %#x equals lock.Namespace", migrationClassID)
	}
	if migrationClassID>>16 == 0x6476 && migrationClassID&0xffff < 0x100 {
		t.Errorf("the migration lock's high half %#x looks like a devarch two-key namespace", migrationClassID)
	}
	for _, other := range []int64{gooseDefaultLockID} {
		if other == state.MigrationLockKey {
			t.Errorf("state.MigrationLockKey equals another tool's lock key %d", other)
		}
		if uint32(uint64(other)>>32) == uint32(lock.Namespace) {
			t.Errorf("lock key %d shares lock.Namespace as its high half", other)
		}
	}
	ids := []int64{1, 2, 7, math.MaxInt32, math.MaxInt32 + 1, lock.MaxStackID,
		state.MigrationLockKey & 0xffffffff, int64(uint64(state.MigrationLockKey) >> 32), gooseDefaultLockID}
	for _, id := range ids {
		k1, k2, err := lock.Key(id)
		if err != nil {
			t.Fatalf("Key(%d): %v", id, err)
		}
		if k1 != lock.Namespace || int64(uint32(k2)) != id {
			t.Errorf("Key(%d) = (%d, %d), want (Namespace, the id as int4)", id, k1, k2)
		}
	}
}

// advisoryCall matches a call of any PostgreSQL advisory lock function.
var advisoryCall = regexp.MustCompile(`pg_(try_)?advisory_(xact_)?(lock|unlock)(_shared|_all)?\s*\(([^)]*)\)`)

// wantAdvisoryCalls are the only advisory lock calls allowed in the
// controller's code (tests excluded), file → arguments. Stack locks are
// two-key int4 calls fed by lock.Key; the migration lock is the one-key
// state.MigrationLockKey.
var wantAdvisoryCalls = map[string][]string{
	"lock/locker.go":   {"$3::int4, $4::int4"},
	"lock/lease.go":    {"$1::int4, $2::int4"},
	"state/migrate.go": {"$1", "$1"},
	// The subnet allocation lock: two keys (state.SubnetLockNamespace, 0).
	"state/subnets.go":   {"$1::int4, $2::int4"},
	"state/lifecycle.go": {"$1::int4, $2::int4"},
}

// TestAdvisoryLockCallSites scans every non-test Go file and every SQL
// migration for advisory lock calls: only the stack lock (two keys, from
// lock.Key) and the migration lock (state.MigrationLockKey) exist, so no
// other subsystem can take a key that collides with them. Code that reads
// pg_locks must select two-key locks (objsubid = 2) of a given namespace.
func TestAdvisoryLockCallSites(t *testing.T) {
	got := map[string][]string{}
	pgLocksReaders := map[string]bool{}
	checkPgLocks := func(where, text string) {
		if !strings.Contains(text, "pg_locks") || !strings.Contains(text, "advisory") || pgLocksReaders[text] {
			return
		}
		pgLocksReaders[text] = true
		if !strings.Contains(text, "objsubid = 2") || !regexp.MustCompile(`classid::int8 = \$\d`).MatchString(text) {
			t.Errorf("%s: a pg_locks query that does not select two-key locks of one namespace (objsubid = 2 AND classid::int8 = $N):\n%s", where, text)
		}
	}
	for _, sp := range parseRepository(t) {
		consts := sp.constants()
		for name, text := range consts {
			checkPgLocks(sp.dir+" const "+name, text)
		}
		for path, f := range sp.nonTestFiles() {
			inspect(f, func(lit *ast.BasicLit) {
				text, ok := constValue(lit, consts)
				if !ok {
					return
				}
				for _, m := range advisoryCall.FindAllStringSubmatch(text, -1) {
					got[path] = append(got[path], strings.TrimSpace(m[5]))
				}
				checkPgLocks(sp.position(lit), text)
			})
		}
	}
	migrations, err := filepath.Glob(filepath.Join(repoRoot, "state", "migrations", "*.sql"))
	if err != nil || len(migrations) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	for _, m := range migrations {
		rel, _ := filepath.Rel(repoRoot, m)
		if advisoryCall.MatchString(readRepoFile(t, filepath.ToSlash(rel))) {
			t.Errorf("%s takes an advisory lock; add its key to docs/locking.md and to this test", rel)
		}
	}
	for path, args := range got {
		want := wantAdvisoryCalls[path]
		if strings.Join(args, " | ") != strings.Join(want, " | ") {
			t.Errorf("%s: advisory lock calls with arguments %q, want %q; every lock must use lock.Key (two keys) or state.MigrationLockKey", path, args, want)
		}
	}
	for path := range wantAdvisoryCalls {
		if _, ok := got[path]; !ok {
			t.Errorf("%s: no advisory lock call found any more; update wantAdvisoryCalls", path)
		}
	}
	if len(pgLocksReaders) < 4 {
		t.Errorf("found %d pg_locks queries; the lock package and the approvals sweep read pg_locks", len(pgLocksReaders))
	}
	migrate := readRepoFile(t, "state/migrate.go")
	if strings.Count(migrate, ", MigrationLockKey)") != 2 {
		t.Error("state/migrate.go must pass MigrationLockKey to both its advisory lock calls")
	}
	locker := readRepoFile(t, "lock/locker.go")
	if !strings.Contains(locker, ":= Key(stackID)") || !strings.Contains(locker, "int64(Namespace), stackID, key1, key2") {
		t.Error("lock.Locker.TryLock must take its keys from Key(stackID)")
	}
}

// TestMigrationAndStackLocksIndependent takes the migration lock and stack
// locks whose second key (or whole key) equals a half of the migration key,
// on a real database: none blocks another, and lock holders list only the
// stack locks.
func TestMigrationAndStackLocksIndependent(t *testing.T) {
	url := testenv.DatabaseURL(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1), pg_advisory_lock($2)", state.MigrationLockKey, gooseDefaultLockID); err != nil {
		t.Fatalf("take the migration locks: %v", err)
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	locker := lock.New(pool, nil)
	ids := []int64{state.MigrationLockKey & 0xffffffff, int64(uint64(state.MigrationLockKey) >> 32), gooseDefaultLockID}
	for _, id := range ids {
		lease, err := locker.TryLock(ctx, id)
		if err != nil {
			t.Fatalf("stack %d cannot be locked while the migration lock is held: %v", id, err)
		}
		defer func() { _ = lease.Unlock(context.Background()) }()
	}
	holders, err := locker.Holders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(holders) != len(ids) {
		t.Fatalf("holders %+v, want exactly the %d stack locks", holders, len(ids))
	}
	for _, h := range holders {
		if !slices.Contains(ids, h.StackID) {
			t.Errorf("holder of an unknown stack %d", h.StackID)
		}
	}
	// With the stack locks held, the migration lock is free once released.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", state.MigrationLockKey); err != nil {
		t.Fatal(err)
	}
	if err := state.Migrate(ctx, url); err != nil {
		t.Fatalf("migrate while stack locks are held: %v", err)
	}
}
