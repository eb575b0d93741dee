package testenv

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// recorder stands in for a test, recording how Skip ended it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skip(args ...any)                  { r.skip = fmt.Sprint(args...) }

func TestSkipFailsUnderRequire(t *testing.T) {
	for _, tt := range []struct {
		require   string
		wantFatal bool
	}{{"1", true}, {"", false}, {"0", false}} {
		t.Run("require="+tt.require, func(t *testing.T) {
			t.Setenv(EnvRequire, tt.require)
			r := &recorder{}
			Skipf(r, "promtool %s", "missing")
			if tt.wantFatal {
				if !strings.Contains(r.fatal, "promtool missing") || !strings.Contains(r.fatal, EnvRequire+"=1") || r.skip != "" {
					t.Errorf("fatal %q, skip %q: want a failure naming the reason and %s", r.fatal, r.skip, EnvRequire)
				}
				return
			}
			if r.skip != "promtool missing" || r.fatal != "" {
				t.Errorf("fatal %q, skip %q: want a skip with the reason", r.fatal, r.skip)
			}
		})
	}
}

func TestCorpusDirFromEnvironment(t *testing.T) {
	t.Setenv(EnvCorpus, "/somewhere/corpus")
	if got := CorpusDir(t); got != "/somewhere/corpus" {
		t.Errorf("CorpusDir = %q, want %s", got, "/somewhere/corpus")
	}
	t.Setenv(EnvCorpus, "")
	t.Setenv(EnvRequire, "")
	if got, want := CorpusDir(t), RepoRoot(t)+"/../shared/corpus"; got != filepath.Clean(want) {
		t.Errorf("CorpusDir = %q, want %q", got, want)
	}
}

func TestUniqueIDsMovesTheSequences(t *testing.T) {
	url := DatabaseURL(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `CREATE SEQUENCE stacks_id_seq; CREATE SEQUENCE instances_id_seq`); err != nil {
		t.Fatal(err)
	}
	UniqueIDs(t, url)
	var stack, instance int64
	if err := conn.QueryRow(ctx, `SELECT nextval('stacks_id_seq'), nextval('instances_id_seq')`).Scan(&stack, &instance); err != nil {
		t.Fatal(err)
	}
	if stack <= 1_000_000 || instance <= 1_000_000 || stack > math.MaxUint32 {
		t.Errorf("next ids %d and %d, want both above 1,000,000 and at most %d", stack, instance, uint32(math.MaxUint32))
	}
}
