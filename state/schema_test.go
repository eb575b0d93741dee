package state_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNameChecksRejectUnsafeNamesInSQL(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	pool := s.Pool()
	ctx := testContext(t)
	var stackID int64
	if err := pool.QueryRow(ctx, `INSERT INTO stacks (name) VALUES ('host') RETURNING id`).Scan(&stackID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"web-1", true},
		{"0day", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"-web", false},
		{"web-", false},
		{"Web", false},
		{"web_1", false},
		{"web.1", false},
		{"web 1", false},
		{"wéb", false},
		{"web\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, table := range []struct{ sql, constraint string }{
				{`INSERT INTO stacks (name) VALUES ($1)`, "stacks_name_dns"},
				{`INSERT INTO instances (stack_id, name) VALUES (` + strconv.FormatInt(stackID, 10) + `, $1)`, "instances_name_dns"},
			} {
				_, err := pool.Exec(ctx, table.sql, tc.name)
				code, constraint := pgCode(err)
				switch {
				case tc.ok && err != nil:
					t.Errorf("%s: %v", table.sql, err)
				case !tc.ok && (code != "23514" || constraint != table.constraint):
					t.Errorf("%s accepted %q or failed otherwise (err %v), want check violation of %s", table.sql, tc.name, err, table.constraint)
				}
			}
		})
	}
}

func TestLiveNamesAreUnique(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	pool := s.Pool()
	ctx := testContext(t)
	var first int64
	if err := pool.QueryRow(ctx, `INSERT INTO stacks (name) VALUES ('shop') RETURNING id`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	_, err := pool.Exec(ctx, `INSERT INTO stacks (name) VALUES ('shop')`)
	if code, constraint := pgCode(err); code != "23505" || constraint != "stacks_name_live" {
		t.Fatalf("second live stack named shop: err %v, want unique violation of stacks_name_live", err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO instances (stack_id, name) VALUES ($1, 'db'), ($1, 'db')`, first); err == nil {
		t.Fatal("two live instances named db in one stack were accepted")
	}
	if _, err := pool.Exec(ctx, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, first); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO stacks (name) VALUES ('shop')`); err != nil {
		t.Fatalf("reuse the name of a deleted stack: %v", err)
	}
	if n := count(t, pool, `SELECT count(*) FROM stacks WHERE name = 'shop'`); n != 2 {
		t.Errorf("%d rows named shop, want 2 (one deleted, one live)", n)
	}
}

func TestUpdatedAtMovesOnlyOnRealChange(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	pool := s.Pool()
	ctx := testContext(t)
	var id int64
	if err := pool.QueryRow(ctx, `INSERT INTO stacks (name, wires) VALUES ('shop', '[{"consumer_instance":"a","provider_instance":"b"}]') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	created := updatedAt(t, pool, "stacks", id)
	time.Sleep(5 * time.Millisecond)

	// Each statement is its own transaction, so now() moves between them.
	noops := []string{
		`UPDATE stacks SET description = description WHERE id = $1`,
		`UPDATE stacks SET name = 'shop', enabled = true WHERE id = $1`,
		`UPDATE stacks SET wires = '[{"provider_instance":"b","consumer_instance":"a"}]' WHERE id = $1`,
	}
	for _, sql := range noops {
		if _, err := pool.Exec(ctx, sql, id); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if got := updatedAt(t, pool, "stacks", id); !got.Equal(created) {
			t.Errorf("%s moved updated_at from %v to %v", sql, created, got)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE stacks SET description = 'changed' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if got := updatedAt(t, pool, "stacks", id); !got.After(created) {
		t.Errorf("a real change left updated_at at %v (created %v)", got, created)
	}
}

func TestApprovalConstraints(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	pool := s.Pool()
	ctx := testContext(t)
	tests := []struct {
		name       string
		claimed    bool // the row is applying (claimed) before the update, else pending
		set        string
		constraint string // "" when the row must be accepted
	}{
		{"pending", false, `status = 'pending'`, ""},
		{"applying claimed", false, `status = 'applying', claimed_by = 'replica-1', started_at = now()`, ""},
		{"succeeded", true, `status = 'succeeded', claimed_by = 'r', started_at = now(), finished_at = now()`, ""},
		{"expired never started", false, `status = 'expired', finished_at = now()`, ""},
		{"unknown status", false, `status = 'done', finished_at = now()`, "approvals_status_known"},
		{"applying unclaimed", false, `status = 'applying', started_at = now()`, "approvals_applying_claimed"},
		{"final without finished_at", true, `status = 'failed', claimed_by = 'r', started_at = now()`, "approvals_finished_final"},
		{"pending with finished_at", false, `status = 'pending', finished_at = now()`, "approvals_finished_final"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var id int64 // a stack of its own: at most one applying approval per stack
			err := pool.QueryRow(ctx, `WITH s AS (INSERT INTO stacks (name) VALUES ($1) RETURNING id)
				INSERT INTO approvals (stack_id, token, plan, requested_by) SELECT id, 'tok', '{}', 'tester' FROM s RETURNING id`,
				fmt.Sprintf("shop-%d", i)).Scan(&id)
			if err != nil {
				t.Fatal(err)
			}
			if tc.claimed { // only applying may become succeeded or failed (migration 6)
				if _, err := pool.Exec(ctx, `UPDATE approvals SET status = 'applying', claimed_by = 'r', started_at = now() WHERE id = $1`, id); err != nil {
					t.Fatal(err)
				}
			}
			_, err = pool.Exec(ctx, `UPDATE approvals SET `+tc.set+` WHERE id = $1`, id)
			code, constraint := pgCode(err)
			switch {
			case tc.constraint == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.constraint != "" && (code != "23514" || constraint != tc.constraint):
				t.Errorf("err %v, want check violation of %s", err, tc.constraint)
			}
		})
	}
}
