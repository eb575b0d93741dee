package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
)

func shopToken(t *testing.T, hs *harness) string {
	t.Helper()
	s, err := hs.store.Stack(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	return hs.store.token(s)
}

// decodeBody decodes a response's JSON body into a T, failing the test
// when it is not one.
func decodeBody[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// decodeError returns the error body of a response, failing the test when
// it does not have the documented shape: a snake_case code and a message
// that is a full sentence.
func decodeError(t *testing.T, w *httptest.ResponseRecorder) apiError {
	t.Helper()
	var body errorBody
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("status %d: body is not an error object: %v", w.Code, err)
	}
	e := body.Error
	if e.Code == "" || strings.ToLower(e.Code) != e.Code || strings.ContainsAny(e.Code, " -") {
		t.Errorf("error code %q is not snake_case", e.Code)
	}
	if e.Message == "" || !unicode.IsUpper([]rune(e.Message)[0]) || !strings.HasSuffix(e.Message, ".") {
		t.Errorf("error message %q is not a full sentence", e.Message)
	}
	return e
}

func TestStatusCodes(t *testing.T) {
	tests := []struct {
		name     string
		req      request
		setup    func(*harness)
		want     int
		wantCode string
	}{
		{name: "list stacks", req: request{path: "/api/v1/stacks"}, want: 200},
		{name: "get stack", req: request{path: "/api/v1/stacks/shop"}, want: 200},
		{name: "unknown stack", req: request{path: "/api/v1/stacks/nope"}, want: 404, wantCode: "stack_not_found"},
		{name: "plan", req: request{path: "/api/v1/stacks/shop/plan"}, want: 200},
		{name: "plan of unknown stack", req: request{path: "/api/v1/stacks/nope/plan"}, want: 404, wantCode: "stack_not_found"},
		{name: "plan fails", req: request{path: "/api/v1/stacks/shop/plan"}, setup: func(h *harness) { h.planErr = errors.New("docker is down") },
			want: 500, wantCode: "plan_failed"},
		{name: "store fails", req: request{path: "/api/v1/stacks"}, setup: func(h *harness) { h.store.failWith = errors.New("connection refused") },
			want: 500, wantCode: "internal_error"},
		{name: "list approvals", req: request{path: "/api/v1/approvals"}, want: 200},
		{name: "list approvals of a stack", req: request{path: "/api/v1/approvals?stack=shop&limit=5"}, want: 200},
		{name: "list approvals of unknown stack", req: request{path: "/api/v1/approvals?stack=nope"}, want: 404, wantCode: "stack_not_found"},
		{name: "limit not a number", req: request{path: "/api/v1/approvals?limit=ten"}, want: 400, wantCode: "invalid_parameter"},
		{name: "limit zero", req: request{path: "/api/v1/approvals?limit=0"}, want: 400, wantCode: "invalid_parameter"},
		{name: "approval id not a number", req: request{path: "/api/v1/approvals/abc"}, want: 400, wantCode: "invalid_approval_id"},
		{name: "approval id zero", req: request{path: "/api/v1/approvals/0"}, want: 400, wantCode: "invalid_approval_id"},
		{name: "approval id negative", req: request{path: "/api/v1/approvals/-3"}, want: 400, wantCode: "invalid_approval_id"},
		{name: "unknown approval", req: request{path: "/api/v1/approvals/999"}, want: 404, wantCode: "approval_not_found"},
		{name: "events of unknown approval", req: request{path: "/api/v1/approvals/999/events"}, want: 404, wantCode: "approval_not_found"},
		{name: "events with bad Last-Event-ID", req: request{path: "/api/v1/approvals/1/events", headers: map[string]string{"Last-Event-ID": "x"}},
			want: 400, wantCode: "invalid_last_event_id"},
		{name: "cancel unknown approval", req: request{method: "POST", path: "/api/v1/approvals/999/cancel"}, want: 404, wantCode: "approval_not_found"},
		{name: "cancel bad id", req: request{method: "POST", path: "/api/v1/approvals/x/cancel"}, want: 400, wantCode: "invalid_approval_id"},
		{name: "unknown route", req: request{path: "/api/v1/nothing"}, want: 404, wantCode: "not_found"},
		{name: "wrong method", req: request{method: "POST", path: "/api/v1/stacks/shop"}, want: 405, wantCode: "method_not_allowed"},
		{name: "healthz", req: request{path: "/healthz"}, want: 200},
		{name: "readyz", req: request{path: "/readyz"}, want: 200},
		{name: "readyz failing", req: request{path: "/readyz"}, setup: func(h *harness) { h.ready["docker"] = errors.New("no socket") }, want: 503},
		{name: "metrics", req: request{path: "/metrics"}, want: 200},
		{name: "openapi", req: request{path: "/api/v1/openapi.yaml"}, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, Options{})
			if tt.setup != nil {
				tt.setup(hs)
			}
			w := hs.do(t, tt.req)
			if w.Code != tt.want {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.want, w.Body)
			}
			if tt.wantCode != "" {
				if e := decodeError(t, w); e.Code != tt.wantCode {
					t.Errorf("code = %q, want %q (%s)", e.Code, tt.wantCode, e.Message)
				}
			}
			if strings.HasPrefix(tt.req.path, "/api/v1/") && w.Header().Get("Cache-Control") != "no-store" && w.Code != 404 && w.Code != 405 {
				t.Errorf("Cache-Control = %q, want no-store", w.Header().Get("Cache-Control"))
			}
			if w.Header().Get("Access-Control-Allow-Origin") != "" {
				t.Error("a CORS header was sent")
			}
		})
	}
}

func TestInternalErrorHidesTheCause(t *testing.T) {
	hs := newHarness(t, Options{})
	hs.store.failWith = errors.New("dial tcp 10.0.0.7:5432: password authentication failed for user bob")
	w := hs.do(t, request{path: "/api/v1/stacks/shop"})
	if w.Code != 500 || strings.Contains(w.Body.String(), "bob") {
		t.Fatalf("status %d body %s: want 500 without the cause", w.Code, w.Body)
	}
}

func TestMethodNotAllowedListsAllowedMethods(t *testing.T) {
	hs := newHarness(t, Options{})
	w := hs.do(t, request{method: "PUT", path: "/api/v1/stacks/shop/apply"})
	if w.Code != 405 || !strings.Contains(w.Header().Get("Allow"), "POST") {
		t.Fatalf("status %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
}

func TestListStacks(t *testing.T) {
	hs := newHarness(t, Options{})
	w := hs.do(t, request{path: "/api/v1/stacks"})
	got := decodeBody[stackList](t, w)
	if len(got.Stacks) != 2 {
		t.Fatalf("stacks = %+v", got.Stacks)
	}
	empty, shop := got.Stacks[0], got.Stacks[1]
	if empty.Name != "empty" || empty.Network != "custom-net" || empty.Enabled || empty.Instances != 0 || empty.Status != nil {
		t.Errorf("empty = %+v", empty)
	}
	if shop.Name != "shop" || shop.Network != "devarch-shop-net" || !shop.Enabled || shop.Instances != 2 || shop.Status == nil {
		t.Fatalf("shop = %+v", shop)
	}
	if shop.Status.Condition != "Drifted" || shop.Status.Counts["add"] != 2 || shop.Status.Token != "t0" {
		t.Errorf("shop status = %+v", shop.Status)
	}
	if !strings.Contains(w.Body.String(), `"status":null`) {
		t.Errorf("a stack without status must show status null: %s", w.Body)
	}
}

func TestGetStackIsRedacted(t *testing.T) {
	hs := newHarness(t, Options{})
	w := hs.do(t, request{path: "/api/v1/stacks/shop"})
	got := decodeBody[stackDetail](t, w)
	if got.Name != "shop" || len(got.Instances) != 2 || got.Status == nil || got.Status.Condition != "Drifted" {
		t.Fatalf("got %+v", got)
	}
	db := got.Instances[0]
	if db.Name != "db" || db.Template != "postgres" || db.Container != "devarch-shop-db" {
		t.Errorf("db = %+v", db)
	}
	for _, e := range db.Effective.Env {
		if e.Key == "POSTGRES_PASSWORD" && (e.Value != "(sensitive)" || !e.Secret) {
			t.Errorf("POSTGRES_PASSWORD = %+v", e)
		}
	}
	if strings.Contains(w.Body.String(), canary) || strings.Contains(w.Body.String(), "overrides") {
		t.Errorf("stack view leaks secrets or overrides: %s", w.Body)
	}
}

func TestPlanIsTheCLIDocument(t *testing.T) {
	hs := newHarness(t, Options{})
	w := hs.do(t, request{path: "/api/v1/stacks/shop/plan"})
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", w.Code, w.Header().Get("Content-Type"))
	}
	var p plan.Plan
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.FormatVersion != 1 || p.Stack != "shop" || p.Token != shopToken(t, hs) || p.Summary.Add != 2 {
		t.Errorf("plan = %+v", p)
	}
}

func TestPlanFailureIsScrubbed(t *testing.T) {
	hs := newHarness(t, Options{})
	hs.planErr = errors.New("observe containers: env " + canary + " rejected")
	w := hs.do(t, request{path: "/api/v1/stacks/shop/plan"})
	e := decodeError(t, w)
	if w.Code != 500 || e.Code != "plan_failed" || strings.Contains(e.Message, canary) || !strings.Contains(e.Message, "observe containers") {
		t.Fatalf("status %d error %+v", w.Code, e)
	}
}

// TestPlanFailureKeepsNames: a planner error quoting a secret that is
// also part of a name the controller generates (here the stack is named
// like the secret) shows the name and hides the secret where it is a
// value.
func TestPlanFailureKeepsNames(t *testing.T) {
	hs := newHarness(t, Options{})
	for i := range hs.store.stacks {
		if hs.store.stacks[i].Name == "shop" {
			hs.store.stacks[i].Name = canary
		}
	}
	hs.planErr = errors.New("inspect container devarch-" + canary + "-db: env POSTGRES_PASSWORD=" + canary + " rejected")
	w := hs.do(t, request{path: "/api/v1/stacks/" + canary + "/plan"})
	e := decodeError(t, w)
	want := "inspect container devarch-" + canary + "-db: env POSTGRES_PASSWORD=(sensitive) rejected"
	if w.Code != 500 || !strings.Contains(e.Message, want) {
		t.Fatalf("status %d error %+v, want the message to hold %q", w.Code, e, want)
	}
}

func TestApprovalsListAndLimit(t *testing.T) {
	tests := []struct {
		query     string
		wantLimit int
		wantLen   int
	}{
		{"", 50, 3},
		{"?limit=2", 2, 2},
		{"?limit=100000", 500, 3},
		{"?stack=shop", 50, 3},
		{"?stack=empty", 50, 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			hs := newHarness(t, Options{})
			for range 3 {
				hs.store.addApproval(approval.Succeeded)
			}
			w := hs.do(t, request{path: "/api/v1/approvals" + tt.query})
			got := decodeBody[approvalList](t, w)
			if w.Code != 200 || len(got.Approvals) != tt.wantLen || hs.store.lastLimit != tt.wantLimit {
				t.Fatalf("status %d, %d approvals, limit %d; want %d approvals, limit %d", w.Code, len(got.Approvals), hs.store.lastLimit, tt.wantLen, tt.wantLimit)
			}
			if got.Approvals == nil {
				t.Error("approvals must be [] when empty")
			}
		})
	}
}

func TestGetApproval(t *testing.T) {
	hs := newHarness(t, Options{})
	a := hs.store.addApproval(approval.Succeeded)
	w := hs.do(t, request{path: approvalURL(a.ID)})
	got := decodeBody[approval.Approval](t, w)
	if w.Code != 200 || got.ID != a.ID || got.Status != approval.Succeeded {
		t.Fatalf("status %d approval %+v", w.Code, got)
	}
}

func TestCancel(t *testing.T) {
	tests := []struct {
		name     string
		status   approval.Status
		body     string
		want     int
		wantCode string
	}{
		{"pending, no body", approval.Pending, "", 200, ""},
		{"pending, empty object", approval.Pending, "{}", 200, ""},
		{"pending, unknown field", approval.Pending, `{"reason":"x"}`, 400, "invalid_body"},
		{"applying", approval.Applying, "", 409, "approval_not_pending"},
		{"succeeded", approval.Succeeded, "", 409, "approval_not_pending"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, Options{})
			a := hs.store.addApproval(tt.status)
			w := hs.do(t, request{method: "POST", path: approvalURL(a.ID) + "/cancel", body: tt.body, headers: map[string]string{UserHeader: "alice"}})
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if tt.wantCode != "" {
				if e := decodeError(t, w); e.Code != tt.wantCode {
					t.Fatalf("code %q, want %q", e.Code, tt.wantCode)
				}
				return
			}
			got := decodeBody[approval.Approval](t, w)
			if got.Status != approval.Cancelled || got.Message != "Cancelled by alice." {
				t.Errorf("approval = %+v", got)
			}
		})
	}
}

// TestApplyAfterKeyRotation: a token made before a key rotation is stale
// (409), never accepted; the plan generated after it applies.
func TestApplyAfterKeyRotation(t *testing.T) {
	hs := newHarness(t, Options{})
	old := shopToken(t, hs)
	hs.store.rotateKey()
	w := hs.do(t, request{method: "POST", path: "/api/v1/stacks/shop/apply", body: `{"token":"` + old + `"}`})
	if e := decodeError(t, w); w.Code != 409 || e.Code != "plan_stale" {
		t.Fatalf("apply with the token of the retired key: %d %+v, want 409 plan_stale", w.Code, e)
	}
	var p plan.Plan
	if w := hs.do(t, request{path: "/api/v1/stacks/shop/plan"}); w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Token == old {
		t.Fatalf("plan after the rotation: %d, token %q (old %q)", w.Code, p.Token, old)
	}
	if w := hs.do(t, request{method: "POST", path: "/api/v1/stacks/shop/apply", body: `{"token":"` + p.Token + `"}`}); w.Code != 202 {
		t.Fatalf("apply with the new token: %d %s", w.Code, w.Body)
	}
}

func TestApply(t *testing.T) {
	held := []lock.Holder{{StackID: 1, BackendPID: 42, Granted: true}}
	tests := []struct {
		name        string
		body        func(token string) string
		stack       string
		headers     map[string]string
		setup       func(*harness)
		want        int
		wantCode    string
		wantMessage string
	}{
		{name: "approved", want: 202},
		{name: "charset parameter", headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, want: 202},
		{name: "empty body", body: func(string) string { return "" }, want: 400, wantCode: "token_required"},
		{name: "empty token", body: func(string) string { return `{"token":""}` }, want: 400, wantCode: "token_required"},
		{name: "null", body: func(string) string { return `null` }, want: 400, wantCode: "token_required"},
		{name: "unknown field", body: func(tok string) string { return `{"token":"` + tok + `","force":true}` }, want: 400,
			wantCode: "invalid_body", wantMessage: `The request body has an unknown field "force". Send only the field "token".`},
		{name: "wrong type", body: func(string) string { return `{"token":5}` }, want: 400, wantCode: "invalid_body"},
		{name: "not an object", body: func(string) string { return `["x"]` }, want: 400, wantCode: "invalid_body"},
		{name: "trailing data", body: func(tok string) string { return `{"token":"` + tok + `"} {}` }, want: 400, wantCode: "invalid_body"},
		{name: "not JSON", body: func(string) string { return `token=abc` }, want: 400, wantCode: "invalid_body"},
		{name: "unknown stack", stack: "nope", want: 404, wantCode: "stack_not_found"},
		{name: "stale token", body: func(string) string { return `{"token":"0123"}` }, want: 409, wantCode: "plan_stale",
			wantMessage: "Plan is stale: the stack changed since the plan was generated. Generate a new plan."},
		{name: "installation unreadable", setup: func(h *harness) { h.store.installationErr = errors.New("db down") }, want: 500, wantCode: "internal_error"},
		{name: "lock held", setup: func(h *harness) { h.locks.holders = held }, want: 409, wantCode: "stack_locked",
			wantMessage: "Stack is being applied by another session."},
		{name: "approval applying", setup: func(h *harness) { h.store.addApproval(approval.Applying) }, want: 409, wantCode: "stack_locked"},
		{name: "pending approval does not lock", setup: func(h *harness) { h.store.addApproval(approval.Pending) }, want: 202},
		{name: "waiter does not lock", setup: func(h *harness) { h.locks.holders = []lock.Holder{{StackID: 1, Granted: false}} }, want: 202},
		{name: "other stack locked", setup: func(h *harness) { h.locks.holders = []lock.Holder{{StackID: 2, Granted: true}} }, want: 202},
		{name: "lock check fails", setup: func(h *harness) { h.locks.err = errors.New("db down") }, want: 500, wantCode: "internal_error"},
		{name: "plan fails", setup: func(h *harness) { h.planErr = errors.New("docker down") }, want: 500, wantCode: "plan_failed"},
		{name: "text/plain", headers: map[string]string{"Content-Type": "text/plain"}, want: 415, wantCode: "unsupported_media_type"},
		{name: "form", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: 415, wantCode: "unsupported_media_type"},
		{name: "no content type", headers: map[string]string{"Content-Type": ""}, want: 415, wantCode: "unsupported_media_type"},
		{name: "too large", body: func(tok string) string { return `{"token":"` + tok + strings.Repeat(" ", 1<<20) + `"}` },
			want: 413, wantCode: "body_too_large"},
		{name: "cross origin", headers: map[string]string{"Origin": "https://evil.example"}, want: 403, wantCode: "cross_origin"},
		{name: "cross site fetch", headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: 403, wantCode: "cross_origin"},
		{name: "null origin", headers: map[string]string{"Origin": "null"}, want: 403, wantCode: "cross_origin"},
		{name: "same origin", headers: map[string]string{"Origin": "http://example.com", "Sec-Fetch-Site": "same-origin"}, want: 202},
		{name: "same host origin", headers: map[string]string{"Origin": "http://example.com"}, want: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, Options{ApprovalTTL: time30m})
			if tt.setup != nil {
				tt.setup(hs)
			}
			tok := shopToken(t, hs)
			body := `{"token":"` + tok + `"}`
			if tt.body != nil {
				body = tt.body(tok)
			}
			stack := "shop"
			if tt.stack != "" {
				stack = tt.stack
			}
			w := hs.do(t, request{method: "POST", path: "/api/v1/stacks/" + stack + "/apply", body: body, headers: tt.headers})
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if tt.wantCode != "" {
				e := decodeError(t, w)
				if e.Code != tt.wantCode || (tt.wantMessage != "" && e.Message != tt.wantMessage) {
					t.Fatalf("error %+v, want code %q message %q", e, tt.wantCode, tt.wantMessage)
				}
				return
			}
			checkFiled(t, hs, w, tok)
		})
	}
}

// checkFiled checks a 202 response and the approval it filed.
func checkFiled(t *testing.T, hs *harness, w *httptest.ResponseRecorder, tok string) {
	t.Helper()
	got := decodeBody[applyResponse](t, w)
	a := got.Approval
	if a.Status != approval.Pending || a.StackID != 1 || a.Token != tok || a.RequestedBy != "api" || a.ExpiresAt == nil {
		t.Errorf("approval = %+v", a)
	}
	if got.URL != approvalURL(a.ID) || w.Header().Get("Location") != got.URL {
		t.Errorf("url %q, Location %q", got.URL, w.Header().Get("Location"))
	}
	var stored plan.Plan
	if err := json.Unmarshal(a.Plan, &stored); err != nil {
		t.Fatalf("stored plan: %v", err)
	}
	if stored.Token != tok || stored.Summary.Add != 2 {
		t.Errorf("stored plan = %+v", stored)
	}
	if strings.Contains(string(a.Plan), canary) {
		t.Error("the stored plan holds a secret")
	}
}

const time30m = 30 * time.Minute

func TestRequestedBy(t *testing.T) {
	tests := []struct {
		header, want string
	}{
		{"", "api"},
		{"alice", "alice"},
		{"  bob  ", "bob"},
		{"eve\x00", "api"},
		{"mallory\nInjected: 1", "api"},
		{strings.Repeat("x", 200), "api"},
		{"zoë", "zoë"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header[UserHeader] = []string{tt.header}
		if got := headerUser(r); got != tt.want {
			t.Errorf("headerUser(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestRequestedByIsStored(t *testing.T) {
	hs := newHarness(t, Options{})
	w := hs.do(t, request{method: "POST", path: "/api/v1/stacks/shop/apply", body: `{"token":"` + shopToken(t, hs) + `"}`,
		headers: map[string]string{UserHeader: "alice"}})
	got := decodeBody[applyResponse](t, w)
	if got.Approval.RequestedBy != "alice" || got.Approval.ExpiresAt != nil {
		t.Errorf("approval = %+v (want requested_by alice, no expiry without a TTL)", got.Approval)
	}
}

func TestReadyzNamesTheFailedCheck(t *testing.T) {
	hs := newHarness(t, Options{})
	hs.ready["docker"] = errors.New("dial unix /var/run/docker.sock: secret-detail")
	w := hs.do(t, request{path: "/readyz"})
	got := decodeBody[readiness](t, w)
	if w.Code != 503 || got.Status != "not_ready" || got.Error == nil || got.Error.Code != "not_ready" ||
		!strings.Contains(got.Error.Message, "docker") || strings.Contains(got.Error.Message, "database") {
		t.Fatalf("status %d body %+v", w.Code, got)
	}
	if strings.Contains(w.Body.String(), "secret-detail") {
		t.Error("readyz exposes the failure's cause")
	}
	want := []checkResult{{"database", "ok"}, {"docker", "failed"}}
	if len(got.Checks) != 2 || got.Checks[0] != want[0] || got.Checks[1] != want[1] {
		t.Errorf("checks = %+v, want %+v", got.Checks, want)
	}
}

// TestStackListSaysFirstPassInProgress: until the controller's first full
// pass is done, the stack list (whole or paged) says so; afterwards the
// field is left out.
func TestStackListSaysFirstPassInProgress(t *testing.T) {
	hs := newHarness(t, Options{})
	hs.with(func(d *Deps) { d.Pages = emptyPages{} })
	hs.passing.Store(true)
	for _, path := range []string{"/api/v1/stacks", "/api/v1/stacks?limit=10"} {
		w := hs.do(t, request{path: path})
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"first_pass_in_progress":true`) {
			t.Errorf("GET %s during the first pass: %d %s", path, w.Code, w.Body.String())
		}
	}
	hs.passing.Store(false)
	if w := hs.do(t, request{path: "/api/v1/stacks"}); w.Code != 200 || strings.Contains(w.Body.String(), "first_pass") {
		t.Errorf("GET /api/v1/stacks after the first pass: %d %s", w.Code, w.Body.String())
	}
}

// A stack whose network has a subnet from the controller's pool shows it;
// the document still matches the OpenAPI schema.
func TestGetStackShowsSubnet(t *testing.T) {
	hs := newHarness(t, Options{})
	hs.store.mu.Lock()
	for i := range hs.store.stacks {
		if hs.store.stacks[i].Name == "shop" {
			hs.store.stacks[i].Subnet = "10.199.3.0/24"
		}
	}
	hs.store.mu.Unlock()
	w := hs.do(t, request{path: "/api/v1/stacks/shop"})
	if got := decodeBody[stackDetail](t, w); got.Subnet != "10.199.3.0/24" {
		t.Fatalf("subnet %q, want 10.199.3.0/24: %s", got.Subnet, w.Body)
	}
	doc := loadOpenAPI(t)
	schema, err := doc.resolve("#/components/schemas/StackDetail")
	if err != nil {
		t.Fatal(err)
	}
	if errs := doc.validateJSON(schema, w.Body.Bytes()); len(errs) > 0 {
		t.Fatalf("the stack does not match its schema: %v", errs)
	}
}
