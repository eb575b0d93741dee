package state_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

const barrierChannel = "devarch_test_barrier"

// listener collects notifications; barrier marks the end of one step.
type listener struct {
	t     *testing.T
	s     *state.Store
	ch    <-chan state.Notification
	steps int
}

func listen(t *testing.T, s *state.Store) *listener {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := s.Listen(ctx, state.ChannelDesired, state.ChannelApprovals, state.ChannelApprovalEvents, barrierChannel)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	return &listener{t: t, s: s, ch: ch}
}

// step runs fn, then returns the notifications it caused (in arrival order).
func (l *listener) step(fn func()) []state.Notification {
	l.t.Helper()
	fn()
	l.steps++
	mark := strconv.Itoa(l.steps)
	if _, err := l.s.Pool().Exec(testContext(l.t), `SELECT pg_notify($1, $2)`, barrierChannel, mark); err != nil {
		l.t.Fatal(err)
	}
	var got []state.Notification
	timeout := time.After(10 * time.Second)
	for {
		select {
		case n, ok := <-l.ch:
			if !ok {
				l.t.Fatal("notification channel closed")
			}
			if n.Channel == barrierChannel && n.Payload == mark {
				return got
			}
			got = append(got, n)
		case <-timeout:
			l.t.Fatalf("step %d: no barrier after 10s; got %v", l.steps, got)
		}
	}
}

// payloadKeys returns the sorted keys of a JSON payload.
func payloadKeys(t *testing.T, payload string) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		t.Fatalf("payload %q is not a JSON object: %v", payload, err)
	}
	return slices.Sorted(maps.Keys(m))
}

// describe turns notifications into comparable strings, checking the
// payload schema and that no secret leaks.
func describe(t *testing.T, ns []state.Notification) []string {
	t.Helper()
	var out []string
	for _, n := range ns {
		assertNoSecret(t, "payload on "+n.Channel, n.Payload)
		keys := payloadKeys(t, n.Payload)
		switch n.Channel {
		case state.ChannelDesired:
			c, err := state.ParseDesiredChange(n.Payload)
			if err != nil || !slices.Equal(keys, []string{"id", "kind", "stack_id"}) {
				t.Errorf("bad %s payload %q (keys %v): %v", n.Channel, n.Payload, keys, err)
				continue
			}
			stack := "null"
			if c.StackID != nil {
				stack = strconv.FormatInt(*c.StackID, 10)
			}
			out = append(out, fmt.Sprintf("%s %d stack=%s", c.Kind, c.ID, stack))
		case state.ChannelApprovals:
			c, err := state.ParseApprovalChange(n.Payload)
			if err != nil || !slices.Equal(keys, []string{"id", "stack_id", "status"}) {
				t.Errorf("bad %s payload %q (keys %v): %v", n.Channel, n.Payload, keys, err)
				continue
			}
			out = append(out, fmt.Sprintf("approval %d stack=%d %s", c.ID, c.StackID, c.Status))
		case state.ChannelApprovalEvents:
			c, err := state.ParseApprovalEventChange(n.Payload)
			if err != nil || !slices.Equal(keys, []string{"approval_id", "seq"}) {
				t.Errorf("bad %s payload %q (keys %v): %v", n.Channel, n.Payload, keys, err)
				continue
			}
			out = append(out, fmt.Sprintf("event %d/%d", c.ApprovalID, c.Seq))
		default:
			t.Errorf("notification on unexpected channel %q", n.Channel)
		}
	}
	sort.Strings(out)
	return out
}

func TestTriggersNotifyWithoutSecrets(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := testContext(t)
	l := listen(t, s)
	pool := s.Pool()
	tmpls := fixtureTemplates()
	var (
		tmplIDs  [2]int64
		res      state.ImportResult
		approval int64
	)
	d := func(format string, args ...any) string { return fmt.Sprintf(format, args...) }
	ids := func() (stack int64, db, web, worker int64) {
		return res.StackID, res.Instances[0].ID, res.Instances[1].ID, res.Instances[2].ID
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	steps := []struct {
		name string
		run  func()
		want func() []string
	}{
		{"templates created", func() {
			for i, tmpl := range tmpls {
				out, err := s.UpsertTemplate(ctx, tmpl, "v1")
				if err != nil {
					t.Fatal(err)
				}
				tmplIDs[i] = out.ID
			}
		}, func() []string {
			return []string{d("template %d stack=null", tmplIDs[0]), d("template %d stack=null", tmplIDs[1])}
		}},
		{"template unchanged", func() {
			if _, err := s.UpsertTemplate(ctx, tmpls[0], "v1"); err != nil {
				t.Fatal(err)
			}
		}, func() []string { return nil }},
		{"stack imported", func() { res = importStack(t, s, shopStack("shop")) }, func() []string {
			st, db, web, worker := ids()
			return []string{d("instance %d stack=%d", db, st), d("instance %d stack=%d", web, st), d("instance %d stack=%d", worker, st), d("stack %d stack=%d", st, st)}
		}},
		{"stack re-imported unchanged", func() { importStack(t, s, shopStack("shop")) }, func() []string { return nil }},
		{"overrides with a secret set", func() {
			o := shopStack("shop").Instances[0].Overrides
			o.Env = append(o.Env, spec.EnvVar{Key: "EXTRA", Value: secretValue, Secret: true})
			if err := s.SetInstanceOverrides(ctx, "shop", "db", o); err != nil {
				t.Fatal(err)
			}
		}, func() []string {
			st, db, _, _ := ids()
			return []string{d("instance %d stack=%d", db, st)}
		}},
		{"approval created", func() {
			if err := pool.QueryRow(ctx, `INSERT INTO approvals (stack_id, token, plan, requested_by) VALUES ($1, 'tok', '{}', 'me') RETURNING id`, res.StackID).Scan(&approval); err != nil {
				t.Fatal(err)
			}
		}, func() []string { return []string{d("approval %d stack=%d pending", approval, res.StackID)} }},
		{"approval claimed", func() {
			exec(`UPDATE approvals SET status = 'applying', claimed_by = 'r1', started_at = now() WHERE id = $1`, approval)
		}, func() []string { return []string{d("approval %d stack=%d applying", approval, res.StackID)} }},
		{"approval no-op update", func() {
			exec(`UPDATE approvals SET status = 'applying' WHERE id = $1`, approval)
		}, func() []string { return nil }},
		{"approval events appended", func() {
			exec(`INSERT INTO approval_events (approval_id, seq, container, action, status) VALUES ($1, 1, 'devarch-shop-db', 'create', 'done'), ($1, 2, 'devarch-shop-web', 'create', 'done')`, approval)
		}, func() []string { return []string{d("event %d/1", approval), d("event %d/2", approval)} }},
		{"approval deleted", func() { exec(`DELETE FROM approvals WHERE id = $1`, approval) }, func() []string {
			return []string{d("approval %d stack=%d applying", approval, res.StackID)}
		}},
		{"stack deleted", func() {
			if err := s.DeleteStack(ctx, "shop"); err != nil {
				t.Fatal(err)
			}
		}, func() []string {
			st, db, web, worker := ids()
			return []string{d("instance %d stack=%d", db, st), d("instance %d stack=%d", web, st), d("instance %d stack=%d", worker, st), d("stack %d stack=%d", st, st)}
		}},
	}
	for _, step := range steps {
		got := describe(t, l.step(step.run))
		want := step.want()
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: notifications\n got %q\nwant %q", step.name, got, want)
		}
	}
}

func TestListenReconnectsAndAsksForResync(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	l := listen(t, s)
	ctx := testContext(t)
	// Kill the listening session from outside, as a server restart would.
	var killed int
	err := s.Pool().QueryRow(ctx, `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listening sessions (%v), want 1", killed, err)
	}
	resynced := map[string]bool{}
	timeout := time.After(15 * time.Second)
	for len(resynced) < 4 {
		select {
		case n, ok := <-l.ch:
			if !ok {
				t.Fatal("channel closed after connection loss")
			}
			if !n.Resync || n.Payload != "" {
				t.Fatalf("got %+v, want a resync notification", n)
			}
			resynced[n.Channel] = true
		case <-timeout:
			t.Fatalf("resync notifications after 15s: %v", resynced)
		}
	}
	// The new connection listens again.
	got := l.step(func() {
		if _, err := s.UpsertTemplate(ctx, fixtureTemplates()[0], "v1"); err != nil {
			t.Fatal(err)
		}
	})
	if len(got) != 1 || got[0].Channel != state.ChannelDesired {
		t.Errorf("after reconnect got %+v, want one %s notification", got, state.ChannelDesired)
	}
}

func TestListenClosesWhenContextEnds(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := s.Listen(ctx, state.ChannelDesired)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("got a notification, want the channel closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("channel still open 10s after cancel")
	}
	if _, err := s.Listen(context.Background()); err == nil {
		t.Error("Listen without channels succeeded")
	}
}
