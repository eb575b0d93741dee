package state_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

var pathsA = project.Options{StateDir: "/srv/a", WorkspaceDir: "/srv/a/workspace"}

// newInstalledStore is newStore with host paths recorded, as every
// command's migration does.
func newInstalledStore(t *testing.T, paths project.Options) *state.Store {
	t.Helper()
	url := testenv.DatabaseURL(t)
	ctx := testContext(t)
	if err := state.Migrate(ctx, url, state.WithInitialPaths(paths)); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s, err := state.Open(ctx, url, "state-test")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func installation(t *testing.T, s *state.Store) project.Options {
	t.Helper()
	in, err := s.Installation(testContext(t))
	if err != nil {
		t.Fatalf("Installation: %v", err)
	}
	return in
}

func tokenStack() spec.Stack {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "postgres:16", Env: []spec.EnvVar{{Key: "POSTGRES_PASSWORD", Value: "devarch"}}}}
	return spec.Stack{ID: 4, Name: "shop", Enabled: true, Instances: []spec.Instance{{ID: 41, Name: "db", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)}}}
}

func TestMigrateCreatesTheKeyOnceAndRecordsInitialPaths(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t)
	ctx := testContext(t)
	if err := state.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	s, err := state.Open(ctx, url, "state-test")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Installation(ctx); !errors.Is(err, state.ErrNotInstalled) || !strings.Contains(err.Error(), "host paths") {
		t.Fatalf("Installation without recorded paths: %v, want ErrNotInstalled naming the paths", err)
	}
	if err := state.Migrate(ctx, url, state.WithInitialPaths(pathsA)); err != nil {
		t.Fatal(err)
	}
	first := installation(t, s)
	if first.StateDir != pathsA.StateDir || first.WorkspaceDir != pathsA.WorkspaceDir {
		t.Errorf("recorded paths %+v, want %+v", first, pathsA)
	}
	if first.Keys.Current.ID == 0 || len(first.Keys.Current.Secret) != 32 || len(first.Keys.Retired) != 0 {
		t.Fatalf("installation keys %v: want one current 32-byte key", first.Keys)
	}
	// Migrating again (as every command does) keeps the key and the
	// recorded paths, whatever paths the command was configured with.
	if err := state.Migrate(ctx, url, state.WithInitialPaths(project.Options{StateDir: "/other", WorkspaceDir: "/other/ws"})); err != nil {
		t.Fatal(err)
	}
	again := installation(t, s)
	if again.StateDir != pathsA.StateDir || again.Keys.Current.ID != first.Keys.Current.ID || !bytes.Equal(again.Keys.Current.Secret, first.Keys.Current.Secret) {
		t.Errorf("a second migrate changed the installation: %+v %v, was %+v %v", again, again.Keys, first, first.Keys)
	}
}

// TestTwoInstallationsGiveDifferentTokens: the same stack, with the same
// host paths, in two databases has two tokens: each database has its own
// random key.
func TestTwoInstallationsGiveDifferentTokens(t *testing.T) {
	t.Parallel()
	a, b := installation(t, newInstalledStore(t, pathsA)), installation(t, newInstalledStore(t, pathsA))
	if bytes.Equal(a.Keys.Current.Secret, b.Keys.Current.Secret) {
		t.Fatal("two databases have the same installation key")
	}
	s := tokenStack()
	ta, tb := plan.Token(plan.Desired{Stack: s, Paths: a}), plan.Token(plan.Desired{Stack: s, Paths: b})
	if ta == tb {
		t.Errorf("the same state in two installations has the same token %s", ta)
	}
}

func TestRecordPathsChangesTheToken(t *testing.T) {
	t.Parallel()
	s := newInstalledStore(t, pathsA)
	ctx := testContext(t)
	before := installation(t, s)
	prev, changed, err := s.RecordPaths(ctx, pathsA, "test")
	if err != nil || changed || prev.StateDir != pathsA.StateDir {
		t.Fatalf("recording the same paths: prev %+v, changed %v, err %v", prev, changed, err)
	}
	pathsB := project.Options{StateDir: "/srv/b", WorkspaceDir: "/srv/b/workspace"}
	prev, changed, err = s.RecordPaths(ctx, pathsB, "test")
	if err != nil || !changed || prev.StateDir != pathsA.StateDir || prev.WorkspaceDir != pathsA.WorkspaceDir {
		t.Fatalf("recording other paths: prev %+v, changed %v, err %v", prev, changed, err)
	}
	after := installation(t, s)
	if after.StateDir != pathsB.StateDir || after.WorkspaceDir != pathsB.WorkspaceDir {
		t.Errorf("stored paths %+v, want %+v", after, pathsB)
	}
	st := tokenStack()
	if plan.Token(plan.Desired{Stack: st, Paths: before}) == plan.Token(plan.Desired{Stack: st, Paths: after}) {
		t.Error("changing the stored host paths did not change the token")
	}
	if _, _, err := s.RecordPaths(ctx, project.Options{StateDir: "relative", WorkspaceDir: "/x"}, "test"); err == nil {
		t.Error("a relative state dir was stored")
	}
}

func TestRotateKeyRetiresTheOldKey(t *testing.T) {
	t.Parallel()
	s := newInstalledStore(t, pathsA)
	ctx := testContext(t)
	notes, err := s.Listen(ctx, state.ChannelDesired)
	if err != nil {
		t.Fatal(err)
	}
	before := installation(t, s)
	created, retired, err := s.RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if retired.ID != before.Keys.Current.ID || retired.Current() || !created.Current() || created.ID <= retired.ID {
		t.Errorf("rotation created %+v and retired %+v; the current key was %d", created, retired, before.Keys.Current.ID)
	}
	after := installation(t, s)
	if after.Keys.Current.ID != created.ID || len(after.Keys.Retired) != 1 || after.Keys.Retired[0].ID != retired.ID ||
		!bytes.Equal(after.Keys.Retired[0].Secret, before.Keys.Current.Secret) || after.Keys.Retired[0].RetiredAt.IsZero() {
		t.Errorf("after the rotation: %v (retired %+v)", after.Keys, after.Keys.Retired)
	}
	st := tokenStack()
	if plan.Token(plan.Desired{Stack: st, Paths: before}) == plan.Token(plan.Desired{Stack: st, Paths: after}) {
		t.Error("the rotation did not change the token")
	}
	keys, err := s.Keys(ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != created.ID || !keys[0].Current() || keys[1].Current() {
		t.Errorf("Keys: %+v, %v", keys, err)
	}
	select {
	case n := <-notes:
		ch, err := state.ParseDesiredChange(n.Payload)
		if err != nil || ch.Kind != state.KindInstallation || ch.StackID != nil {
			t.Errorf("notification %q: %+v, %v", n.Payload, ch, err)
		}
	case <-ctx.Done():
		t.Error("no notification of the rotation")
	}
}

// TestConcurrentRotationsKeepOneCurrentKey: rotations take turns; each
// retires the key the previous one created.
func TestConcurrentRotationsKeepOneCurrentKey(t *testing.T) {
	t.Parallel()
	s := newInstalledStore(t, pathsA)
	ctx := testContext(t)
	const n = 5
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, _, errs[i] = s.RotateKey(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("rotation %d: %v", i, err)
		}
	}
	keys, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	current := 0
	for _, k := range keys {
		if k.Current() {
			current++
		}
	}
	if len(keys) != n+1 || current != 1 {
		t.Errorf("%d keys, %d current; want %d keys, one current", len(keys), current, n+1)
	}
}
