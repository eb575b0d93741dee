package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// lifecycleAPI is newRealAPI with the lifecycle endpoints served.
func lifecycleAPI(t *testing.T, password string) (*realAPI, spec.Stack) {
	t.Helper()
	ra := newRealAPI(t)
	st := ra.seed(t, password)
	planner := filing.PlannerFunc(func(_ context.Context, d plan.Desired) (*plan.Plan, error) {
		return plan.Compute(d, plan.Observed{}, time.Now())
	})
	h := New(Deps{Stacks: ra.store, Statuses: ra.store, Approvals: ra.store, Installation: ra.store, Planner: planner,
		Locks: lock.New(ra.store.Pool(), nil), Notifications: ra.store, Logger: zaptest.NewLogger(t), Edits: ra.store,
		Pages: ra.store, Lifecycle: ra.store}, Options{ApprovalTTL: time.Hour, PollInterval: time.Hour, HeartbeatInterval: time.Hour})
	ra.base = testServer(t, h).URL
	return ra, st
}

// TestLifecycleWhileApplyingNamesTheApproval: on the real store, a delete
// or disable of a stack whose approval is applying is 409 naming the stack
// and that approval, and writes nothing.
func TestLifecycleWhileApplyingNamesTheApproval(t *testing.T) {
	ra, st := lifecycleAPI(t, "applying-s3cret")
	ctx := t.Context()
	a, err := ra.store.CreateApproval(ctx, st.ID, "token", []byte(`{}`), "test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if claimed, err := ra.store.ClaimApproval(ctx, st.ID, "replica-1"); err != nil || claimed == nil || claimed.ID != a.ID {
		t.Fatalf("ClaimApproval = %+v, %v", claimed, err)
	}
	before := ra.desiredRows(t)
	for _, step := range []struct{ method, path string }{
		{"DELETE", "/api/v1/stacks/shop?volumes=true"},
		{"POST", "/api/v1/stacks/shop/disable"},
		{"DELETE", "/api/v1/stacks/shop/instances/db"},
	} {
		status, _, b := ra.send(t, step.method, step.path, "", map[string]string{"Content-Type": "application/json"})
		e := errorOf(t, b)
		if status != 409 || e.Code != codeStackApplying || !strings.Contains(e.Message, `"shop"`) || !strings.Contains(e.Message, fmt.Sprintf("approval %d", a.ID)) {
			t.Errorf("%s %s: %d %+v, want 409 naming the stack and approval %d", step.method, step.path, status, e, a.ID)
		}
	}
	if after := ra.desiredRows(t); after != before {
		t.Errorf("the refused changes wrote: %s -> %s", before, after)
	}
}

// TestLifecycleRevisionsNameTheCaller: disable, enable, instance delete
// and stack delete through the API, on the real store, each store a
// revision whose author is the caller (X-Devarch-User), as imports and
// edits do.
func TestLifecycleRevisionsNameTheCaller(t *testing.T) {
	ra, _ := lifecycleAPI(t, "lifecycle-author-s3cret")

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
