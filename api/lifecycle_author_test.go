package api

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
)

// TestLifecycleRevisionsNameTheCaller: disable, enable, instance delete
// and stack delete through the API, on the real store, each store a
// revision whose author is the caller (X-Devarch-User), as imports and
// edits do.
func TestLifecycleRevisionsNameTheCaller(t *testing.T) {
	ra := newRealAPI(t)
	ra.seed(t, "lifecycle-author-s3cret")
	// The API of newRealAPI with the lifecycle endpoints served.
	planner := filing.PlannerFunc(func(_ context.Context, d plan.Desired) (*plan.Plan, error) {
		return plan.Compute(d, plan.Observed{}, time.Now())
	})
	h := New(Deps{Stacks: ra.store, Statuses: ra.store, Approvals: ra.store, Installation: ra.store, Planner: planner,
		Locks: lock.New(ra.store.Pool(), nil), Notifications: ra.store, Logger: zaptest.NewLogger(t), Edits: ra.store,
		Pages: ra.store, Lifecycle: ra.store}, Options{ApprovalTTL: time.Hour, PollInterval: time.Hour, HeartbeatInterval: time.Hour})
	ra.base = testServer(t, h).URL

	who := map[string]string{"Content-Type": "application/json", UserHeader: "dave"}
	for _, step := range []struct{ method, path string }{
		{"POST", "/api/v1/stacks/shop/disable"},
		{"POST", "/api/v1/stacks/shop/enable"},
		{"POST", "/api/v1/stacks/shop/instances/db/disable"},
		{"DELETE", "/api/v1/stacks/shop"},
	} {
		if status, _, b := ra.send(t, step.method, step.path, "", who); status != 200 {
			t.Fatalf("%s %s: %d %s", step.method, step.path, status, b)
		}
	}
	status, _, b := ra.send(t, "GET", "/api/v1/stacks/shop/revisions", "", nil)
	var list revisionList
	if err := json.Unmarshal(b, &list); status != 200 || err != nil {
		t.Fatalf("revisions: %d %v %s", status, err, b)
	}
	var got []string
	for _, r := range list.Revisions {
		got = append(got, r.Kind+" by "+r.Author)
	}
	want := []string{"delete by dave", "disable by dave", "enable by dave", "disable by dave", "import by unknown"}
	if !slices.Equal(got, want) {
		t.Errorf("revisions %v, want %v", got, want)
	}
}
