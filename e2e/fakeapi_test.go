package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/api/dashboard"
	"github.com/devarch/devarch-controller/api/view"
	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// fakeAPI is an in-memory stand-in for package api: the same routes, JSON
// shapes (it encodes the real plan, state and cli types) and error codes,
// with a small state machine per stack. Tests steer it through its methods.
type fakeAPI struct {
	t     testing.TB
	token string // bearer token the API requires; "" = none

	mu        sync.Mutex
	firstPass bool // the stack lists say first_pass_in_progress
	stacks    []*fakeStack
	approvals []*fakeApproval
	changed   chan struct{} // closed (and replaced) on every change
	// breakStreams makes the events endpoint fail, so the dashboard must
	// fall back to polling the approval.
	breakStreams bool
	// leakSecretValue makes GET /stacks/{name} send this value for every
	// secret env var (an API bug): the dashboard must still mask it.
	leakSecretValue string
	// seen records, per route pattern, the requests that reached it.
	seen map[string][]http.Header
}

// fakeInstallation is the installation the fake's tokens are made in.
var fakeInstallation = project.Options{StateDir: "/state", WorkspaceDir: "/state/workspace",
	Keys: keyring.Ring{Current: keyring.Key{ID: 1, Secret: []byte("e2e-fake-api-installation-key-01")}}}

type fakeStack struct {
	stack         spec.Stack
	drift         []plan.Change   // the plan's changes; nil = in sync
	notices       []plan.Notice   // the plan's notices
	resources     []plan.Resource // the plan's networks and volumes
	errMessage    string          // non-empty: condition Error
	reconciled    bool            // false: no status yet
	applying      bool
	lastReconcile time.Time
	outcome       approval.Status // final status of the next apply: succeeded, failed, stale, conflict
	mismatches    []plan.Mismatch // a succeeded apply's differences from its plan (result.mismatches)
	locked        bool            // apply answers 409 stack_locked
	gate          chan struct{}   // non-nil: the apply waits for it after its first events
}

type fakeApproval struct {
	approval approval.Approval
	events   []approval.Event
}

const fakeComposeOutput = "Container devarch-billing-api  Creating\n" +
	"Error response from daemon: driver failed programming external connectivity on endpoint devarch-billing-api:\n" +
	"Bind for 0.0.0.0:8080 failed: port is already allocated"

// newFakeAPI returns the fake with its stacks: shop (drifted: one add, one
// modify, one remove), billing (drifted; its apply fails in compose), blog
// (in sync), legacy (error) and scratch (not reconciled yet).
func newFakeAPI(t testing.TB) *fakeAPI {
	f := &fakeAPI{t: t, changed: make(chan struct{}), seen: map[string][]http.Header{}}
	now := time.Now()
	f.stacks = []*fakeStack{
		{stack: shopStack(), drift: shopDrift(), reconciled: true, lastReconcile: now.Add(-12 * time.Second), outcome: approval.Succeeded},
		{stack: billingStack(), drift: billingDrift(), reconciled: true, lastReconcile: now.Add(-3 * time.Minute), outcome: approval.Failed},
		{stack: simpleStack(5, "blog", "ghost", "ghost:5"), reconciled: true, lastReconcile: now.Add(-40 * time.Second), outcome: approval.Succeeded},
		{stack: simpleStack(6, "legacy", "mysql", "mysql:5.7"), reconciled: true, lastReconcile: now.Add(-2 * time.Hour), outcome: approval.Succeeded,
			errMessage: "Cannot read the containers of stack legacy: the Docker engine did not answer. Check that dockerd is running."},
		{stack: simpleStack(7, "scratch", "redis", "redis:7"), outcome: approval.Succeeded},
	}
	return f
}

// serve starts the fake on 127.0.0.1 with the dashboard at "/" and returns
// the base URL ("http://127.0.0.1:PORT/").
func (f *fakeAPI) serve() string {
	mux := http.NewServeMux()
	mux.Handle("/", dashboard.Handler())
	route := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			f.mu.Lock()
			f.seen[pattern] = append(f.seen[pattern], r.Header.Clone())
			f.mu.Unlock()
			if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
				writeError(w, http.StatusUnauthorized, "unauthorized", "This controller requires an API token: send it as Authorization: Bearer TOKEN.")
				return
			}
			h(w, r)
		})
	}
	route("GET /api/v1/stacks", f.listStacks)
	route("GET /api/v1/stacks/{name}", f.getStack)
	route("GET /api/v1/stacks/{name}/plan", f.getPlan)
	route("GET /api/v1/stacks/{name}/revisions", f.listRevisions)
	route("POST /api/v1/stacks/{name}/apply", f.apply)
	route("GET /api/v1/stacks/{name}/export", f.export)
	route("GET /api/v1/approvals", f.listApprovals)
	route("GET /api/v1/approvals/{id}", f.getApproval)
	route("GET /api/v1/approvals/{id}/events", f.events)
	srv := httptest.NewServer(mux)
	f.t.Cleanup(func() {
		f.mu.Lock()
		for _, s := range f.stacks {
			if s.gate != nil {
				close(s.gate)
				s.gate = nil
			}
		}
		f.mu.Unlock()
		srv.Close()
	})
	return srv.URL + "/"
}

// requests returns the headers of the requests that reached a route.
func (f *fakeAPI) requests(pattern string) []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.seen[pattern])
}

// update runs fn on a stack under the lock and announces the change.
func (f *fakeAPI) update(name string, fn func(s *fakeStack)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.find(name)
	if s == nil {
		f.t.Fatalf("fake API: no stack %q", name)
	}
	fn(s)
	s.lastReconcile = time.Now()
	f.notifyLocked()
}

// notifyLocked wakes every event stream. f.mu must be held.
func (f *fakeAPI) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeAPI) find(name string) *fakeStack {
	for _, s := range f.stacks {
		if s.stack.Name == name {
			return s
		}
	}
	return nil
}

// setDrift gives a stack changes (nil: converged), as a reconcile would.
func (f *fakeAPI) setDrift(name string, changes []plan.Change) {
	f.update(name, func(s *fakeStack) { s.drift = changes })
}

// edit changes a stack's desired state: its token changes, so a plan
// generated before is stale.
func (f *fakeAPI) edit(name string) {
	f.update(name, func(s *fakeStack) {
		s.stack.Instances[0].Overrides.Labels = append(s.stack.Instances[0].Overrides.Labels,
			spec.Label{Key: "edited", Value: strconv.FormatInt(time.Now().UnixNano(), 10)})
		inst := &s.stack.Instances[0]
		inst.Effective = spec.Merge(&inst.Template.Spec, inst.Overrides)
	})
}

// gate makes the next apply of a stack pause after its first progress
// events until the returned function is called.
func (f *fakeAPI) gate(name string) (release func()) {
	ch := make(chan struct{})
	f.update(name, func(s *fakeStack) { s.gate = ch })
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// status is the stack's row in stack_status, or nil before the first reconcile.
func (s *fakeStack) status() *state.StackStatus {
	if !s.reconciled {
		return nil
	}
	p := s.plan(s.lastReconcile)
	st := &state.StackStatus{StackID: s.stack.ID, Stack: s.stack.Name, Condition: "InSync", Token: p.Token, LastReconcile: s.lastReconcile,
		Counts:  map[string]int{"add": p.Summary.Add, "modify": p.Summary.Modify, "remove": p.Summary.Remove},
		Message: fmt.Sprintf("Plan: %d to add, %d to modify, %d to remove.", p.Summary.Add, p.Summary.Modify, p.Summary.Remove)}
	switch {
	case s.errMessage != "":
		st.Condition, st.Message, st.Token = "Error", s.errMessage, ""
		st.Counts = map[string]int{"add": 0, "modify": 0, "remove": 0}
	case s.applying:
		st.Condition, st.Message = "Applying", "Applying an approved plan."
	case len(s.drift) > 0:
		st.Condition = "Drifted"
	}
	return st
}

func (s *fakeStack) plan(now time.Time) plan.Plan {
	p := plan.Plan{FormatVersion: plan.FormatVersion, StackID: s.stack.ID, Stack: s.stack.Name, Token: plan.Token(plan.Desired{Stack: s.stack, Paths: fakeInstallation}),
		GeneratedAt: now.UTC(), Changes: []plan.Change{}, Warnings: []string{}, Notices: append([]plan.Notice{}, s.notices...),
		Resources: s.resources}
	for _, c := range s.drift {
		p.Changes = append(p.Changes, c)
		switch c.Action {
		case plan.ActionAdd:
			p.Summary.Add++
		case plan.ActionModify:
			p.Summary.Modify++
		case plan.ActionRemove:
			p.Summary.Remove++
		}
	}
	return p
}

func (f *fakeAPI) listStacks(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	type row struct {
		ID        int64              `json:"id"`
		Name      string             `json:"name"`
		Network   string             `json:"network"`
		Enabled   bool               `json:"enabled"`
		Instances int                `json:"instances"`
		Status    *state.StackStatus `json:"status"`
	}
	rows := []row{}
	for _, s := range f.stacks {
		rows = append(rows, row{ID: s.stack.ID, Name: s.stack.Name, Network: s.stack.Network(), Enabled: s.stack.Enabled,
			Instances: len(s.stack.Instances), Status: s.status()})
	}
	body := map[string]any{"stacks": rows}
	if f.firstPass {
		body["first_pass_in_progress"] = true
	}
	writeJSON(w, http.StatusOK, body)
}

// setFirstPass makes the stack lists say whether the controller's first
// pass is in progress.
func (f *fakeAPI) setFirstPass(inProgress bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.firstPass = inProgress
}

func (f *fakeAPI) getStack(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stackByName(w, r)
	if s == nil {
		return
	}
	v := view.Redact(s.stack)
	if f.leakSecretValue != "" {
		for i := range v.Instances {
			for j, e := range v.Instances[i].Effective.Env {
				if e.Secret {
					v.Instances[i].Effective.Env[j].Value = f.leakSecretValue
				}
			}
			for j, o := range v.Instances[i].Effective.OptionFields {
				if o.Secret {
					v.Instances[i].Effective.OptionFields[j].Value = f.leakSecretValue
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, struct {
		view.Stack
		Status *state.StackStatus `json:"status"`
	}{v, s.status()})
}

func (f *fakeAPI) getPlan(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stackByName(w, r)
	if s == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.plan(time.Now()))
}

func (f *fakeAPI) apply(w http.ResponseWriter, r *http.Request) {
	// The real API's cross-site request forgery defence: JSON only, and a
	// browser's Origin must be the API's own.
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the request body as JSON (Content-Type: application/json).")
		return
	}
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		writeError(w, http.StatusForbidden, "cross_origin", "Cross-origin requests are refused.")
		return
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Token == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "Send the plan's token: {\"token\": \"...\"}.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stackByName(w, r)
	if s == nil {
		return
	}
	if s.locked {
		writeError(w, http.StatusConflict, "stack_locked", "Stack is being applied by another session.")
		return
	}
	p := s.plan(time.Now())
	if body.Token != p.Token {
		writeError(w, http.StatusConflict, "plan_stale", "Plan is stale: the stack changed since the plan was generated. Generate a new plan.")
		return
	}
	planJSON, err := json.Marshal(p)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return
	}
	now := time.Now()
	expires := now.Add(10 * time.Minute)
	a := &fakeApproval{approval: approval.Approval{ID: int64(len(f.approvals) + 1), StackID: s.stack.ID, Stack: s.stack.Name, Token: p.Token,
		Plan: planJSON, RequestedBy: requestedBy(r), Status: approval.Pending, Result: json.RawMessage("null"),
		CreatedAt: now, UpdatedAt: now, ExpiresAt: &expires}}
	f.approvals = append(f.approvals, a)
	f.notifyLocked()
	go f.run(s, a, s.gate)
	s.gate = nil // one apply per gate
	writeJSON(w, http.StatusAccepted, map[string]any{"approval": a.approval, "url": fmt.Sprintf("/api/v1/approvals/%d", a.approval.ID)})
}

// requestedBy is who files an approval, as the real API names it: the
// X-Devarch-User header, else "api".
func requestedBy(r *http.Request) string {
	if u := strings.TrimSpace(r.Header.Get("X-Devarch-User")); u != "" {
		return u
	}
	return "api"
}

func (f *fakeAPI) listApprovals(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []approval.Approval{}
	for _, a := range slices.Backward(f.approvals) {
		if name := r.URL.Query().Get("stack"); name == "" || a.approval.Stack == name {
			out = append(out, a.approval)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"approvals": out})
}

// stackByName returns the stack the request's path names, or answers 404
// and returns nil.
func (f *fakeAPI) stackByName(w http.ResponseWriter, r *http.Request) *fakeStack {
	s := f.find(r.PathValue("name"))
	if s == nil {
		writeError(w, http.StatusNotFound, "not_found", "Stack not found.")
	}
	return s
}

func (f *fakeAPI) approvalByID(w http.ResponseWriter, r *http.Request) *fakeApproval {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || id < 1 || id > len(f.approvals) {
		writeError(w, http.StatusNotFound, "not_found", "Approval not found.")
		return nil
	}
	return f.approvals[id-1]
}

func (f *fakeAPI) getApproval(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a := f.approvalByID(w, r); a != nil {
		writeJSON(w, http.StatusOK, a.approval)
	}
}
