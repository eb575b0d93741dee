package reconcile

import (
	"errors"
	"testing"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/keyring"
)

// TestKeyRotationMakesApprovalsStale: an approval filed with a token made
// before a key rotation ends stale at its check, and nothing is applied.
func TestKeyRotationMakesApprovalsStale(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.file(1, s.ID, unitToken(s))
	rotated := unitInstallation
	rotated.Keys = keyring.Ring{Current: keyring.Key{ID: 2, Secret: []byte("reconcile-unit-test-key-00000002")},
		Retired: []keyring.Key{unitInstallation.Keys.Current}}
	w.installation = &rotated
	c := newUnitController(t, w)
	if _, err := c.reconcileStack(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	if got := w.finished[1]; got.status != approval.Stale || got.message != MessageStale {
		t.Errorf("approval ended %q (%q), want stale", got.status, got.message)
	}
	if len(w.applied) != 0 {
		t.Errorf("applied %v with a token of the retired key", w.applied)
	}
}

// TestApplyUsesTheInstallation: the apply gets the installation (host
// paths, keys) whose token was checked, and the status carries its token.
func TestApplyUsesTheInstallation(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	elsewhere := unitInstallation
	elsewhere.StateDir, elsewhere.WorkspaceDir = "/srv/recorded", "/srv/recorded/workspace"
	w.installation = &elsewhere
	token := tokenIn(s, elsewhere)
	w.file(1, s.ID, token)
	c := newUnitController(t, w)
	if _, err := c.reconcileStack(t.Context(), s.ID); err != nil {
		t.Fatal(err)
	}
	if got := w.finished[1]; got.status != approval.Succeeded {
		t.Fatalf("approval ended %q: %s", got.status, got.message)
	}
	if len(w.appliedWith) != 1 || w.appliedWith[0].Paths.StateDir != "/srv/recorded" || w.appliedWith[0].Paths.Keys.Current.ID != 1 {
		t.Errorf("apply options %+v, want the recorded installation", w.appliedWith)
	}
	if st := c.Statuses()[s.ID]; st.Token != token {
		t.Errorf("status token %q, want the installation's %q", st.Token, token)
	}
}

// TestUnreadableInstallationFailsTheReconcile: without the installation no
// plan or token can be computed; the reconcile fails (and is retried).
func TestUnreadableInstallationFailsTheReconcile(t *testing.T) {
	s := unitStack(1, "shop")
	w := newFakeWorld(s)
	w.installErr = errors.New("no installation key")
	c := newUnitController(t, w)
	if _, err := c.reconcileStack(t.Context(), s.ID); err == nil {
		t.Fatal("reconcile succeeded without an installation")
	}
	if _, ok := c.Statuses()[s.ID]; ok {
		t.Error("a status was computed without an installation")
	}
}
