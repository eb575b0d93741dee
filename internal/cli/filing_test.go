package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/devarch/devarch-controller/api"
	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/state"
)

// The filing tests file approvals of one stack through the API's handler
// (POST /api/v1/stacks/{name}/apply) and through the CLI's path
// (fileApproval, and the apply command), against a real database and the
// test engine, and check that both refuse the same requests with the same
// errors and record the same row. No controller runs: approvals stay
// pending.

// filingWorld is a database holding the key template and one stack, the
// API serving it, and an App configured for it.
type filingWorld struct {
	env    map[string]string
	stack  string
	store  *state.Store
	app    *App
	cfg    config.Config
	cliLog *syncBuffer
	apiURL string
	apiLog *observer.ObservedLogs
	// planner plans for both the API and the CLI path.
	planner *planner.Planner
}

func newFilingWorld(t *testing.T) *filingWorld {
	t.Helper()
	testenv.Docker(t)
	dbURL := testenv.DatabaseURL(t)
	work := t.TempDir()
	w := &filingWorld{stack: testenv.UniqueName("file"), cliLog: &syncBuffer{}, env: map[string]string{
		"HOME": "/home/tester", "DEVARCH_DATABASE_URL": dbURL, "DEVARCH_STATE_DIR": filepath.Join(work, "state"),
		"DEVARCH_LOG_FORMAT": "json", "DB_PASSWORD": keyPassword,
	}}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		w.env["DOCKER_HOST"] = h
	}
	ctx := t.Context()
	tmplDir := filepath.Join(work, "templates", "test", "keyapp")
	if err := os.MkdirAll(tmplDir, 0o755); err != nil {
		t.Fatal(err)
	}
	stackFile := filepath.Join(work, "stack.yml")
	for path, content := range map[string]string{
		filepath.Join(tmplDir, "compose.yml"): keyTemplate,
		stackFile:                             strings.ReplaceAll(keyStack, "NAME", w.stack),
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"catalog", "import", filepath.Join(work, "templates")}, {"stack", "import", stackFile}} {
		if r := run(t, ctx, args, w.env); r.code != 0 {
			t.Fatalf("%v: %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	store, err := state.Open(ctx, dbURL, "filing-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	w.store = store

	lookup := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
	w.app = newApp("test", WithStreams(strings.NewReader(""), io.Discard, w.cliLog), WithLookupEnv(lookup))
	if w.cfg, err = w.app.Config(); err != nil {
		t.Fatal(err)
	}
	rt, err := deploy.NewRuntime(w.cfg.DockerHost, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	core, logs := observer.New(zap.InfoLevel)
	w.apiLog = logs
	w.planner = planner.New(store, rt.NewObserver(), planner.Options{})
	h := api.New(api.Deps{
		Stacks: store, Statuses: store, Approvals: store, Installation: store, Notifications: store,
		Locks: lock.New(store.Pool(), nil), Planner: w.planner, Logger: zap.New(core),
	}, api.Options{ApprovalTTL: w.cfg.ApprovalTTL})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	w.apiURL = srv.URL
	return w
}

// token is the stack's current plan token.
func (w *filingWorld) token(t *testing.T) string {
	t.Helper()
	sp, err := planWith(t.Context(), w.app, w.cfg, w.store, w.stack)
	if err != nil {
		t.Fatal(err)
	}
	return sp.plan.Token
}

// apiFile posts an apply request and returns the status and the body.
func (w *filingWorld) apiFile(t *testing.T, stack, token string) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"token": token})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, w.apiURL+"/api/v1/stacks/"+stack+"/apply", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(api.UserHeader, "alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

type apiErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestAPIAndCLIRefuseFilingAlike: for the same bad request, the API answers
// the HTTP code and message it always did and the CLI's filing path fails
// with the filing error that code stands for. Nothing is recorded.
func TestAPIAndCLIRefuseFilingAlike(t *testing.T) {
	w := newFilingWorld(t)
	ctx := t.Context()
	current := w.token(t)
	st, err := w.store.Stack(ctx, w.stack)
	if err != nil {
		t.Fatal(err)
	}
	holdLock := func(t *testing.T) {
		lease, err := lock.New(w.store.Pool(), nil).TryLock(ctx, st.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = lease.Unlock(context.Background()) })
	}
	applyingApproval := func(t *testing.T) {
		a, err := w.store.CreateApproval(ctx, st.ID, current, []byte(`{}`), "someone", 0)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := w.store.ClaimApproval(ctx, st.ID, "replica-test"); err != nil || c == nil || c.ID != a.ID {
			t.Fatalf("claim: %v, %v", c, err)
		}
		t.Cleanup(func() {
			if err := w.store.FinishApproval(context.Background(), a.ID, approval.Failed, "Test over.", nil); err != nil {
				t.Error(err)
			}
		})
	}
	tests := []struct {
		name    string
		stack   string
		token   string
		before  func(t *testing.T)
		wantErr error
		status  int
		code    string
		message string
	}{
		{"empty token", w.stack, "", nil, filing.ErrTokenRequired, 400, "token_required",
			`Send the token of the plan you approve: {"token": "..."} (the "token" field of GET /api/v1/stacks/{name}/plan).`},
		{"stale token", w.stack, "v1.stale", nil, filing.ErrStale, 409, "plan_stale", approval.MessageStale},
		{"unknown stack", "nosuch", current, nil, filing.ErrStackNotFound, 404, "stack_not_found",
			`Stack "nosuch" does not exist. List the stacks with GET /api/v1/stacks.`},
		{"stack locked", w.stack, current, holdLock, filing.ErrApplying, 409, "stack_locked", approval.MessageConflict},
		{"approval applying", w.stack, current, applyingApproval, filing.ErrApplying, 409, "stack_locked", approval.MessageConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before(t)
			}
			before := w.approvalCount(t)
			status, body := w.apiFile(t, tc.stack, tc.token)
			var got apiErrorBody
			if err := json.Unmarshal(body, &got); err != nil || status != tc.status || got.Error.Code != tc.code || got.Error.Message != tc.message {
				t.Errorf("API: %d %s, want %d %s %q", status, body, tc.status, tc.code, tc.message)
			}
			_, err := fileApproval(ctx, w.app, w.cfg, w.store, w.planner, tc.stack, tc.token)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("CLI: %v, want %v", err, tc.wantErr)
			}
			if after := w.approvalCount(t); after != before {
				t.Errorf("%d approvals recorded by refused requests", after-before)
			}
		})
	}
}

func (w *filingWorld) approvalCount(t *testing.T) int {
	t.Helper()
	list, err := w.store.Approvals(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestAPIAndCLIFileTheSameApproval: a good request files the same pending
// approval row from either side (only requested_by and the plan's time
// differ), and logs "approval filed" on both.
func TestAPIAndCLIFileTheSameApproval(t *testing.T) {
	w := newFilingWorld(t)
	ctx := t.Context()
	token := w.token(t)
	status, body := w.apiFile(t, w.stack, token)
	if status != http.StatusAccepted {
		t.Fatalf("API: %d %s", status, body)
	}
	var resp struct {
		Approval approval.Approval `json:"approval"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	cli, err := fileApproval(ctx, w.app, w.cfg, w.store, w.planner, w.stack, token)
	if err != nil {
		t.Fatalf("CLI: %v", err)
	}
	viaAPI, err := w.store.Approval(ctx, resp.Approval.ID)
	if err != nil {
		t.Fatal(err)
	}
	viaCLI, err := w.store.Approval(ctx, cli.ID)
	if err != nil {
		t.Fatal(err)
	}
	if viaAPI.RequestedBy != "alice" || !strings.HasSuffix(viaCLI.RequestedBy, " (cli)") {
		t.Errorf("requested_by: API %q, CLI %q", viaAPI.RequestedBy, viaCLI.RequestedBy)
	}
	for _, a := range []approval.Approval{viaAPI, viaCLI} {
		if a.Stack != w.stack || a.Token != token || a.Status != approval.Pending || a.ExpiresAt == nil || a.StartedAt != nil {
			t.Errorf("approval %d: stack %s, token %s, status %s, expires %v, started %v; want pending, %s, %s, expiring",
				a.ID, a.Stack, a.Token, a.Status, a.ExpiresAt, a.StartedAt, w.stack, token)
		}
	}
	if pa, pc := comparablePlan(t, viaAPI.Plan), comparablePlan(t, viaCLI.Plan); pa != pc {
		t.Errorf("plans differ:\nAPI %s\nCLI %s", pa, pc)
	}
	if n := w.apiLog.FilterMessage("approval filed").FilterField(zap.Int64("approval_id", viaAPI.ID)).Len(); n != 1 {
		t.Errorf("API logged %d \"approval filed\" lines for approval %d, want 1", n, viaAPI.ID)
	}
	if !strings.Contains(w.cliLog.String(), `"msg":"approval filed"`) {
		t.Errorf("CLI log has no \"approval filed\":\n%s", w.cliLog)
	}
}

// comparablePlan is a plan's JSON without the time it was generated.
func comparablePlan(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var p plan.Plan
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	p.GeneratedAt = time.Time{}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// confirmAfter is a standard input that runs change when the command reads
// the answer to its question, then answers "yes".
type confirmAfter struct {
	once   sync.Once
	change func()
	in     io.Reader
}

func (c *confirmAfter) Read(p []byte) (int, error) {
	c.once.Do(c.change)
	return c.in.Read(p)
}

// TestApplyCommandFilesThroughFiling: the apply command refuses with the
// filing errors: a stack that changed while the user read the plan (after
// confirmation) is stale, a stack being applied is refused, and nothing is
// filed either way.
func TestApplyCommandFilesThroughFiling(t *testing.T) {
	w := newFilingWorld(t)
	ctx := t.Context()
	st, err := w.store.Stack(ctx, w.stack)
	if err != nil {
		t.Fatal(err)
	}
	execute := func(in io.Reader, args ...string) (int, string) {
		var out, errOut bytes.Buffer
		lookup := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
		code := Execute(ctx, args, "test", WithStreams(in, &out, &errOut), WithLookupEnv(lookup))
		return code, errOut.String()
	}

	edit := &confirmAfter{in: strings.NewReader("yes\n"), change: func() {
		if err := w.store.SetInstanceEnabled(ctx, w.stack, "app", false); err != nil {
			t.Error(err)
		}
	}}
	code, stderr := execute(edit, "apply", w.stack, "--timeout", "10s")
	if code != ExitFailure || !strings.Contains(stderr, filing.ErrStale.Error()) {
		t.Errorf("apply of a stack changed after confirmation: exit %d, stderr:\n%s\nwant %q", code, stderr, filing.ErrStale)
	}
	if err := w.store.SetInstanceEnabled(ctx, w.stack, "app", true); err != nil {
		t.Fatal(err)
	}

	lease, err := lock.New(w.store.Pool(), nil).TryLock(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, stderr = execute(strings.NewReader(""), "apply", w.stack, "--auto-approve", "--timeout", "10s")
	_ = lease.Unlock(ctx)
	if code != ExitFailure || !strings.Contains(stderr, filing.ErrApplying.Error()) {
		t.Errorf("apply of a locked stack: exit %d, stderr:\n%s\nwant %q", code, stderr, filing.ErrApplying)
	}
	if n := w.approvalCount(t); n != 0 {
		t.Errorf("%d approvals filed by refused applies", n)
	}
}
