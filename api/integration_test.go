package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// realAPI serves the API over a migrated database of its own, with the
// real store, locker and LISTEN. The planner computes plans against no
// containers (Docker is not needed). Streams re-poll only hourly, so their
// live events must come through NOTIFY.
type realAPI struct {
	store  *state.Store
	locker *lock.Locker
	base   string
	doc    *openAPI
	bodies []string
}

func newRealAPI(t *testing.T) *realAPI {
	t.Helper()
	url := testenv.DatabaseURL(t)
	ctx := t.Context()
	dir := t.TempDir()
	if err := state.Migrate(ctx, url, state.WithInitialPaths(project.Options{StateDir: dir, WorkspaceDir: dir})); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	store, err := state.Open(ctx, url, "api-test")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(store.Close)
	locker := lock.New(store.Pool(), nil)
	planner := func(_ context.Context, d plan.Desired) (*plan.Plan, error) {
		return plan.Compute(d, plan.Observed{}, time.Now())
	}
	h := New(Deps{Stacks: store, Statuses: store, Approvals: store, Installation: store, Planner: filing.PlannerFunc(planner), Locks: locker, Notifications: store,
		Ready: []Check{{Name: "database", Fn: store.Ping}}, Logger: zaptest.NewLogger(t), Edits: store, Pages: store},
		Options{ApprovalTTL: time.Hour, PollInterval: time.Hour, HeartbeatInterval: time.Hour})
	srv := testServer(t, h)
	return &realAPI{store: store, locker: locker, base: srv.URL, doc: loadOpenAPI(t)}
}

func (ra *realAPI) seed(t *testing.T, password string) spec.Stack {
	t.Helper()
	ctx := t.Context()
	tmpl := spec.Template{Name: "postgres", Category: "database", Spec: spec.ServiceSpec{
		Image: "postgres:16", Env: []spec.EnvVar{{Key: "POSTGRES_USER", Value: "app"}},
		Ports: []spec.Port{{HostIP: "127.0.0.1", HostPort: 15432, ContainerPort: 5432, Protocol: "tcp"}},
	}}
	if _, err := ra.store.UpsertTemplate(ctx, tmpl, "digest-postgres"); err != nil {
		t.Fatalf("UpsertTemplate: %v", err)
	}
	st := spec.Stack{Name: "shop", Enabled: true, Instances: []spec.Instance{{
		Name: "db", Enabled: true, Template: &spec.Template{Name: "postgres"},
		Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{Env: []spec.EnvVar{
			{Key: "POSTGRES_PASSWORD", Value: password},
			{Key: "DATABASE_URL", Value: "postgres://app:" + password + "@db/app"},
		}}},
	}}}
	if _, err := ra.store.ImportStack(ctx, st); err != nil {
		t.Fatalf("ImportStack: %v", err)
	}
	s, err := ra.store.Stack(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call sends a request, checks its status and validates the body against
// the documented schema of op.
func (ra *realAPI) call(t *testing.T, method, path, body string, want int, schema string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ra.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	ra.bodies = append(ra.bodies, string(b))
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	s, err := ra.doc.resolve("#/components/schemas/" + schema)
	if err != nil {
		t.Fatal(err)
	}
	if errs := ra.doc.validateJSON(s, b); len(errs) > 0 {
		t.Fatalf("%s %s: body does not match %s: %v\n%s", method, path, schema, errs, b)
	}
	return b
}

func TestIntegrationApproveAndStream(t *testing.T) {
	ra := newRealAPI(t)
	const password = "canary-int-4a7c2e"
	st := ra.seed(t, password)
	ctx := t.Context()

	ra.call(t, "GET", "/api/v1/stacks", "", 200, "StackList")
	ra.call(t, "GET", "/api/v1/stacks/shop", "", 200, "StackDetail")
	var p plan.Plan
	if err := json.Unmarshal(ra.call(t, "GET", "/api/v1/stacks/shop/plan", "", 200, "Plan"), &p); err != nil {
		t.Fatal(err)
	}
	in, err := ra.store.Installation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Token != plan.Token(plan.Desired{Stack: st, Paths: in}) || p.Summary.Add != 1 {
		t.Fatalf("plan = %+v", p)
	}
	apply := `{"token":"` + p.Token + `"}`

	// Another session holds the stack's lock.
	lease, err := ra.locker.TryLock(ctx, st.ID)
	if err != nil {
		t.Fatalf("TryLock: %v", err)
	}
	ra.call(t, "POST", "/api/v1/stacks/shop/apply", apply, 409, "Error")
	if err := lease.Unlock(ctx); err != nil {
		t.Fatal(err)
	}

	var filed applyResponse
	if err := json.Unmarshal(ra.call(t, "POST", "/api/v1/stacks/shop/apply", apply, 202, "ApplyResponse"), &filed); err != nil {
		t.Fatal(err)
	}
	a := filed.Approval
	if a.Status != approval.Pending || a.Token != p.Token || a.ExpiresAt == nil {
		t.Fatalf("approval = %+v", a)
	}
	ra.call(t, "GET", approvalURL(a.ID), "", 200, "Approval")
	ra.call(t, "GET", "/api/v1/approvals?stack=shop", "", 200, "ApprovalList")

	live, _ := streamURL(t, ra.base+approvalURL(a.ID)+"/events", nil)
	if claimed, err := ra.store.ClaimApproval(ctx, st.ID, "replica-1"); err != nil || claimed == nil || claimed.ID != a.ID {
		t.Fatalf("ClaimApproval = %+v, %v", claimed, err)
	}
	// Applying: a second apply is refused while this one runs.
	ra.call(t, "POST", "/api/v1/stacks/shop/apply", apply, 409, "Error")

	events := []approval.Event{
		{At: time.Now(), Container: "devarch-shop-db", Action: "create", Status: "working", Message: "Creating"},
		{At: time.Now(), Container: "devarch-shop-db", Action: "create", Status: "done", Message: "Created"},
	}
	if err := ra.store.AppendApprovalEvents(ctx, a.ID, events); err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= 2; seq++ {
		ev := nextEvent(t, live, eventTimeout)
		got := expectProgress(t, ev, seq)
		if got.Message != events[seq-1].Message {
			t.Errorf("event %d = %+v", seq, got)
		}
		ra.validateEvent(t, "ApprovalEvent", ev.data)
	}

	resumed, _ := streamURL(t, ra.base+approvalURL(a.ID)+"/events", map[string]string{"Last-Event-ID": "1"})
	expectProgress(t, nextEvent(t, resumed, eventTimeout), 2)

	if err := ra.store.AppendApprovalEvents(ctx, a.ID, []approval.Event{{At: time.Now(), Container: "devarch-shop-db", Action: "start", Status: "done", Message: "Started"}}); err != nil {
		t.Fatal(err)
	}
	if err := ra.store.FinishApproval(ctx, a.ID, approval.Succeeded, "Applied: 1 created.", map[string]any{"created": []string{"devarch-shop-db"}}); err != nil {
		t.Fatal(err)
	}
	expectProgress(t, nextEvent(t, live, eventTimeout), 3)
	final := nextEvent(t, live, eventTimeout)
	expectStatus(t, final, approval.Succeeded)
	ra.validateEvent(t, "Approval", final.data)
	expectEnd(t, live)
	expectProgress(t, nextEvent(t, resumed, eventTimeout), 3)
	expectStatus(t, nextEvent(t, resumed, eventTimeout), approval.Succeeded)
	expectEnd(t, resumed)

	// A finished approval replays at once.
	again, _ := streamURL(t, ra.base+approvalURL(a.ID)+"/events", nil)
	for seq := 1; seq <= 3; seq++ {
		expectProgress(t, nextEvent(t, again, eventTimeout), seq)
	}
	expectStatus(t, nextEvent(t, again, eventTimeout), approval.Succeeded)
	ra.call(t, "POST", approvalURL(a.ID)+"/cancel", "", 409, "Error")

	// A key rotation makes the token stale: 409, never accepted.
	if err := json.Unmarshal(ra.call(t, "GET", "/api/v1/stacks/shop/plan", "", 200, "Plan"), &p); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ra.store.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	ra.call(t, "POST", "/api/v1/stacks/shop/apply", `{"token":"`+p.Token+`"}`, 409, "Error")

	// An edit makes the old token stale; a fresh one can be cancelled.
	ra.seed(t, password+"-rotated")
	ra.call(t, "POST", "/api/v1/stacks/shop/apply", apply, 409, "Error")
	if err := json.Unmarshal(ra.call(t, "GET", "/api/v1/stacks/shop/plan", "", 200, "Plan"), &p); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(ra.call(t, "POST", "/api/v1/stacks/shop/apply", `{"token":"`+p.Token+`"}`, 202, "ApplyResponse"), &filed); err != nil {
		t.Fatal(err)
	}
	var cancelled approval.Approval
	if err := json.Unmarshal(ra.call(t, "POST", approvalURL(filed.Approval.ID)+"/cancel", "{}", 200, "Approval"), &cancelled); err != nil {
		t.Fatal(err)
	}
	if cancelled.Status != approval.Cancelled || cancelled.Message != "Cancelled by api." {
		t.Errorf("cancelled = %+v", cancelled)
	}
	ra.call(t, "GET", "/api/v1/approvals/"+strconv.FormatInt(filed.Approval.ID+100, 10), "", 404, "Error")
	ra.call(t, "GET", "/readyz", "", 200, "Readiness")

	for _, b := range ra.bodies {
		if strings.Contains(b, password) {
			t.Errorf("a response holds the secret: %s", b)
		}
	}
}

func (ra *realAPI) validateEvent(t *testing.T, schema, data string) {
	t.Helper()
	ra.bodies = append(ra.bodies, data)
	s, err := ra.doc.resolve("#/components/schemas/" + schema)
	if err != nil {
		t.Fatal(err)
	}
	if errs := ra.doc.validateJSON(s, []byte(data)); len(errs) > 0 {
		t.Fatalf("event does not match %s: %v\n%s", schema, errs, data)
	}
}
