package security_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/api"
	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

const matrixToken = "matrix-token-5a1e"

// stubDeps are hand-written stand-ins for the API's stores: one stack
// "shop" (id 1) and one pending approval (id 5). The matrix only needs the
// answers to be well-formed.
type stubDeps struct{ stack spec.Stack }

// stubInstallation is the stub's installation: host paths and key.
var stubInstallation = project.Options{StateDir: "/state", WorkspaceDir: "/state/workspace",
	Keys: keyring.Ring{Current: keyring.Key{ID: 1, Secret: []byte("security-test-installation-key-1")}}}

func (d *stubDeps) Installation(context.Context) (project.Options, error) {
	return stubInstallation, nil
}

// token is the stack's staleness token in the stub installation.
func (d *stubDeps) token() string {
	return plan.Token(plan.Desired{Stack: d.stack, Paths: stubInstallation})
}

func newStubDeps() *stubDeps {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "busybox"}}
	return &stubDeps{stack: spec.Stack{ID: 1, Name: "shop", Enabled: true, Instances: []spec.Instance{
		{ID: 2, Name: "web", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)},
	}}}
}

func (d *stubDeps) Stacks(context.Context) ([]spec.Stack, error) { return []spec.Stack{d.stack}, nil }
func (d *stubDeps) Stack(_ context.Context, name string) (spec.Stack, error) {
	if name != d.stack.Name {
		return spec.Stack{}, state.ErrNotFound
	}
	return d.stack, nil
}
func (d *stubDeps) StackStatuses(context.Context) (map[int64]state.StackStatus, error) {
	return map[int64]state.StackStatus{}, nil
}
func (d *stubDeps) approval(status approval.Status) approval.Approval {
	return approval.Approval{ID: 5, StackID: 1, Stack: "shop", Token: d.token(), Plan: json.RawMessage(`{}`),
		Result: json.RawMessage(`null`), Status: status, CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}
}
func (d *stubDeps) Approval(_ context.Context, id int64) (approval.Approval, error) {
	if id != 5 {
		return approval.Approval{}, state.ErrNotFound
	}
	return d.approval(approval.Succeeded), nil
}
func (d *stubDeps) Approvals(context.Context, int64, int) ([]approval.Approval, error) {
	return []approval.Approval{d.approval(approval.Succeeded)}, nil
}
func (d *stubDeps) ApprovalEvents(context.Context, int64, int) ([]approval.Event, error) {
	return nil, nil
}
func (d *stubDeps) CreateApproval(_ context.Context, _ int64, _ string, _ []byte, _ string, _ time.Duration) (approval.Approval, error) {
	return d.approval(approval.Pending), nil
}
func (d *stubDeps) CancelApproval(context.Context, int64, string) (approval.Approval, error) {
	return d.approval(approval.Cancelled), nil
}
func (d *stubDeps) ActiveApprovalStacks(context.Context) (pending, applying []int64, err error) {
	return nil, nil, nil
}
func (d *stubDeps) Holders(context.Context) ([]lock.Holder, error) { return nil, nil }
func (d *stubDeps) Listen(ctx context.Context, _ ...string) (<-chan state.Notification, error) {
	ch := make(chan state.Notification)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func newMatrixAPI(t *testing.T, token string) (http.Handler, *stubDeps) {
	t.Helper()
	d := newStubDeps()
	planner := func(_ context.Context, dd plan.Desired) (*plan.Plan, error) {
		return plan.Compute(dd, plan.Observed{}, time.Unix(0, 0))
	}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("devarch_up 1\n")) })
	h := api.New(api.Deps{Stacks: d, Statuses: d, Approvals: d, Installation: d, Planner: filing.PlannerFunc(planner), Locks: d, Notifications: d, Metrics: metrics},
		api.Options{APIToken: token})
	return h, d
}

// TestAPIAuthAndCrossOriginMatrix checks, with a token configured, every
// combination of token (missing, wrong, wrong scheme, in the query string,
// right) with the kinds of request a browser on a malicious site can make
// (a foreign Origin, Sec-Fetch-Site: cross-site, a text/plain form post),
// against the documented answers (docs/api.md): 401 unauthorized, 403
// cross_origin, 415 unsupported_media_type. The token is checked first,
// so an unauthenticated caller learns nothing else.
func TestAPIAuthAndCrossOriginMatrix(t *testing.T) {
	h, d := newMatrixAPI(t, matrixToken)
	good := `{"token":"` + d.token() + `"}`
	bearer := "Bearer " + matrixToken
	type req struct {
		method, path, body string
		headers            map[string]string
	}
	tests := []struct {
		name     string
		req      req
		status   int
		code     string
		noHeader string // a response header that must be absent
	}{
		{"GET without token", req{"GET", "/api/v1/stacks", "", nil}, 401, "unauthorized", ""},
		{"GET with wrong token", req{"GET", "/api/v1/stacks", "", map[string]string{"Authorization": "Bearer nope"}}, 401, "unauthorized", ""},
		{"GET with token as basic auth", req{"GET", "/api/v1/stacks", "", map[string]string{"Authorization": "Basic " + matrixToken}}, 401, "unauthorized", ""},
		{"GET with token in the query string", req{"GET", "/api/v1/stacks?access_token=" + matrixToken, "", nil}, 401, "unauthorized", ""},
		{"GET with token prefix", req{"GET", "/api/v1/stacks", "", map[string]string{"Authorization": "Bearer " + matrixToken[:8]}}, 401, "unauthorized", ""},
		{"GET with right token", req{"GET", "/api/v1/stacks", "", map[string]string{"Authorization": bearer}}, 200, "", ""},
		{"GET plan with right token", req{"GET", "/api/v1/stacks/shop/plan", "", map[string]string{"Authorization": bearer}}, 200, "", ""},
		{"SSE without token", req{"GET", "/api/v1/approvals/5/events", "", nil}, 401, "unauthorized", ""},
		{"POST apply without token", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Content-Type": "application/json"}}, 401, "unauthorized", ""},
		{"POST apply with wrong token", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Content-Type": "application/json", "Authorization": "Bearer x"}}, 401, "unauthorized", ""},
		{"POST cancel without token", req{"POST", "/api/v1/approvals/5/cancel", "", map[string]string{"Content-Type": "application/json"}}, 401, "unauthorized", ""},
		{"POST apply, token, foreign Origin", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Content-Type": "application/json", "Authorization": bearer, "Origin": "https://evil.example"}}, 403, "cross_origin", "Access-Control-Allow-Origin"},
		{"POST apply, token, Origin null", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Content-Type": "application/json", "Authorization": bearer, "Origin": "null"}}, 403, "cross_origin", ""},
		{"POST apply, token, cross-site fetch", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Content-Type": "application/json", "Authorization": bearer, "Sec-Fetch-Site": "cross-site"}}, 403, "cross_origin", ""},
		{"POST apply, token, same-site fetch", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Content-Type": "application/json", "Authorization": bearer, "Sec-Fetch-Site": "same-site"}}, 403, "cross_origin", ""},
		{"POST apply, token, text/plain form post", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Content-Type": "text/plain", "Authorization": bearer}}, 415, "unsupported_media_type", ""},
		{"POST apply, token, urlencoded form post", req{"POST", "/api/v1/stacks/shop/apply", "token=x", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": bearer}}, 415, "unsupported_media_type", ""},
		{"POST apply, token, multipart form post", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Content-Type": "multipart/form-data; boundary=x", "Authorization": bearer}}, 415, "unsupported_media_type", ""},
		{"POST apply, token, no content type", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Authorization": bearer}}, 415, "unsupported_media_type", ""},
		{"POST apply, token, same origin", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Content-Type": "application/json", "Authorization": bearer, "Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}}, 202, "", ""},
		{"POST apply, token, curl", req{"POST", "/api/v1/stacks/shop/apply", good, map[string]string{"Content-Type": "application/json", "Authorization": bearer}}, 202, "", ""},
		{"POST cancel, token, foreign Origin", req{"POST", "/api/v1/approvals/5/cancel", "", map[string]string{"Content-Type": "application/json", "Authorization": bearer, "Origin": "https://evil.example"}}, 403, "cross_origin", ""},
		{"healthz is public", req{"GET", "/healthz", "", nil}, 200, "", ""},
		{"metrics is public", req{"GET", "/metrics", "", nil}, 200, "", ""},
		{"openapi is public", req{"GET", "/api/v1/openapi.yaml", "", nil}, 200, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.req.method, "http://127.0.0.1:8080"+tt.req.path, strings.NewReader(tt.req.body))
			for k, v := range tt.req.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("the API sent CORS headers: %v", w.Header())
			}
			if strings.Contains(w.Body.String(), matrixToken) {
				t.Errorf("the response shows the API token: %s", w.Body)
			}
			if tt.code == "" {
				return
			}
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code != tt.code || !strings.HasSuffix(body.Error.Message, ".") {
				t.Fatalf("body %s, want error code %q with a full sentence", w.Body, tt.code)
			}
			if tt.status == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 without a Bearer WWW-Authenticate header: %v", w.Header())
			}
		})
	}
}

// TestAPIWithoutTokenStillRefusesCrossSite: with no token configured (the
// loopback default), a page on another site still cannot make the
// browser file or cancel an approval.
func TestAPIWithoutTokenStillRefusesCrossSite(t *testing.T) {
	h, d := newMatrixAPI(t, "")
	good := `{"token":"` + d.token() + `"}`
	for _, hdr := range []map[string]string{
		{"Content-Type": "application/json", "Origin": "https://evil.example"},
		{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"},
		{"Content-Type": "text/plain"},
		{"Content-Type": "application/x-www-form-urlencoded"},
	} {
		for _, path := range []string{"/api/v1/stacks/shop/apply", "/api/v1/approvals/5/cancel"} {
			r := httptest.NewRequest("POST", "http://127.0.0.1:8080"+path, strings.NewReader(good))
			for k, v := range hdr {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusForbidden && w.Code != http.StatusUnsupportedMediaType {
				t.Errorf("POST %s with %v: status %d, want 403 or 415: %s", path, hdr, w.Code, w.Body)
			}
		}
	}
}

// TestNonLoopbackListenRequiresToken: the controller refuses to serve the
// API beyond loopback without a token.
func TestNonLoopbackListenRequiresToken(t *testing.T) {
	tests := []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8080", "", true},
		{"[::1]:8080", "", true},
		{"localhost:8080", "", true},
		{"127.0.0.2:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{"[::]:8080", "", false},
		{":8080", "", false},
		{"192.168.1.10:8080", "", false},
		{"devbox.example:8080", "", false},
		{"0.0.0.0:8080", "a-token", true},
	}
	for _, tt := range tests {
		cfg := config.Defaults(func(string) (string, bool) { return "", false })
		cfg.StateDir, cfg.HTTPAddr, cfg.APIToken = "/var/lib/devarch", tt.addr, tt.token
		err := cfg.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("http_addr %q, token set %t: Validate() = %v, want ok %t", tt.addr, tt.token != "", err, tt.ok)
		}
		if err != nil && tt.token != "" && strings.Contains(err.Error(), tt.token) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}
