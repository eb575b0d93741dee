package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/reconcile"
	"github.com/devarch/devarch-controller/state"
	"github.com/devarch/devarch-controller/state/statetest"
)

// sqlRecorder is a pgx tracer that keeps the first arguments of every
// distinct statement sent.
type sqlRecorder struct {
	mu    sync.Mutex
	seen  map[string]bool
	order []recordedSQL
}

type recordedSQL struct {
	sql  string
	args []any
}

func (r *sqlRecorder) record(sql string, args []any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if !r.seen[sql] {
		r.seen[sql] = true
		r.order = append(r.order, recordedSQL{sql: sql, args: slices.Clone(args)})
	}
}

func (r *sqlRecorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.record(d.SQL, d.Args)
	return ctx
}

func (r *sqlRecorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *sqlRecorder) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (r *sqlRecorder) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.record(d.SQL, d.Args)
}

func (r *sqlRecorder) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (r *sqlRecorder) statements() []recordedSQL {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.order)
}

// watchedTables are the tables that grow with the number of stacks: no
// statement of a pass may read them sequentially.
var watchedTables = map[string]bool{"stacks": true, "instances": true, "approvals": true, "approval_events": true, "stack_status": true}

// explainable are the statements EXPLAIN accepts.
var explainable = regexp.MustCompile(`(?is)^\s*(select|insert|update|delete|with)\b`)

// TestPassStatementsUseIndexes records every SQL statement a controller
// sends during a full pass over 10,000 stacks × 5 instances (with 3
// finished approvals of 5 events each: their history) and the
// approval of one more stack (claim, lock, events, finish, status), then
// EXPLAINs each with the arguments it was sent with: none may scan
// stacks, instances, approvals, approval_events or stack_status
// sequentially to find a few rows, and every one must be servable by an
// index (see seqScans).
func TestPassStatementsUseIndexes(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	if err := statetest.Fill(ctx, e.store, "fill", 10000, 5); err != nil {
		t.Fatal(err)
	}
	if err := statetest.FillHistory(ctx, e.store, "fill", 3, 5); err != nil {
		t.Fatal(err)
	}
	s := e.createStack("explain", smallInstance("web", false))

	rec := &sqlRecorder{}
	traced, err := state.Open(ctx, e.url, "explain-test", state.WithPoolConfig(func(c *pgxpool.Config) { c.ConnConfig.Tracer = rec }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(traced.Close)
	r := e.startReplica("explain", reconcile.Options{Resync: time.Hour}, func(d *reconcile.Deps) {
		d.Planner = planner.New(traced, d.Observer.(planner.Observer), planner.Options{})
		d.Statuses, d.Approvals, d.Events, d.Sweeper, d.Counter = traced, traced, traced, traced, traced
		d.Locker = lock.New(traced.Pool(), nil)
	})
	// The first full pass writes a status for every stack. It takes about
	// a minute here with the race detector, longer beside the other
	// packages' tests: the bound only keeps a hung pass from hanging the
	// test (this test measures no time).
	e.waitStatus(s.ID, 5*time.Minute, "first pass", func(st state.StackStatus) bool { return st.Condition != "" })
	a := e.file(ctx, s, "")
	e.waitApproval(a.ID, 2*time.Minute, "the apply", func(a approval.Approval) bool { return a.Status.Final() })
	r.ctrl.Resync(ctx)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.Connect(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// As autovacuum leaves a long-running database: statistics current,
	// the visibility map set.
	if _, err := conn.Exec(ctx, `VACUUM ANALYZE`); err != nil {
		t.Fatal(err)
	}
	stmts := rec.statements()
	explained := 0
	for _, st := range stmts {
		if !explainable.MatchString(st.sql) {
			continue
		}
		scans, err := seqScans(ctx, conn, st)
		if err != nil {
			t.Errorf("EXPLAIN %s: %v", oneLineSQL(st.sql), err)
			continue
		}
		explained++
		if len(scans) > 0 {
			t.Errorf("sequential scan of %s in: %s", strings.Join(scans, ", "), oneLineSQL(st.sql))
		}
	}
	if explained < 10 {
		t.Fatalf("only %d statements explained of %d recorded; the recorder missed the pass", explained, len(stmts))
	}
	t.Logf("%d distinct statements recorded, %d explained", len(stmts), explained)
}

// seqScans explains st and returns the sequential scans of watched tables
// it must not make:
//
//   - executed (EXPLAIN ANALYZE, in a transaction that is rolled back), a
//     sequential scan that returns less than a quarter of its table's rows:
//     an index should have found those rows. (A statement of the full pass
//     that reads the instances of thousands of stacks at once returns about
//     half the table here, and PostgreSQL rightly scans for that.)
//   - planned with sequential scans disabled (enable_seqscan = off), any:
//     no index can serve the statement at all. Statements that need most
//     of a table (the full pass reads every stack and instance) may scan
//     it when that is cheaper, but an index must still exist for them.
//
// Rows are counted, not estimated: the planner's estimate for a list of
// 10,000 ids is a fraction of the truth.
func seqScans(ctx context.Context, conn *pgx.Conn, st recordedSQL) ([]string, error) {
	var scans []string
	for _, forced := range []bool{false, true} {
		err := func() error {
			tx, err := conn.Begin(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback(context.Background()) }()
			options := "ANALYZE, FORMAT JSON"
			if forced {
				options = "FORMAT JSON"
				if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
					return err
				}
			}
			root, err := explain(ctx, tx, options, st)
			if err != nil {
				return err
			}
			var walk func(n planNode) error
			walk = func(n planNode) error {
				if n.NodeType == "Seq Scan" && watchedTables[n.Relation] {
					var tuples float64
					if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{n.Relation}.Sanitize()).Scan(&tuples); err != nil {
						return err
					}
					switch {
					case forced:
						scans = append(scans, n.Relation+" (no index serves it)")
					case n.ActualRows < tuples/4:
						scans = append(scans, fmt.Sprintf("%s (returns %.0f of %.0f rows)", n.Relation, n.ActualRows, tuples))
					}
				}
				for _, c := range n.Plans {
					if err := walk(c); err != nil {
						return err
					}
				}
				return nil
			}
			for _, p := range root {
				if err := walk(p); err != nil {
					return err
				}
			}
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}
	return scans, nil
}

func explain(ctx context.Context, tx pgx.Tx, options string, st recordedSQL) ([]planNode, error) {
	var out []byte
	if err := tx.QueryRow(ctx, "EXPLAIN ("+options+") "+st.sql, st.args...).Scan(&out); err != nil {
		return nil, err
	}
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	if err := json.Unmarshal(out, &plans); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	var nodes []planNode
	for _, p := range plans {
		nodes = append(nodes, p.Plan)
	}
	return nodes, nil
}

type planNode struct {
	NodeType string `json:"Node Type"`
	Relation string `json:"Relation Name"`
	// ActualRows is the rows the node returned per loop (ANALYZE only).
	ActualRows float64    `json:"Actual Rows"`
	Plans      []planNode `json:"Plans"`
}

func oneLineSQL(s string) string { return strings.Join(strings.Fields(s), " ") }
