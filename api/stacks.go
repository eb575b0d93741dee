package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/devarch/devarch-controller/api/view"
	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// stackList is the body of GET /api/v1/stacks.
type stackList struct {
	Stacks []stackSummary `json:"stacks"`
	// FirstPassInProgress: the controller has not planned every stack
	// since it started; the statuses may be an earlier process's.
	FirstPassInProgress bool `json:"first_pass_in_progress,omitempty"`
}

// stackSummary is one stack of the list.
type stackSummary struct {
	ID        int64       `json:"id"`
	Name      string      `json:"name"`
	Network   string      `json:"network"`
	Enabled   bool        `json:"enabled"`
	Instances int         `json:"instances"`
	Status    *statusView `json:"status"`
	// Lifecycle is active, disabled or deleting (deleted, removal not
	// applied yet).
	Lifecycle string `json:"lifecycle"`
	// Engine is the engine the stack runs on.
	Engine string `json:"engine"`
}

// statusView is the reconcile loop's last word on a stack; null until the
// loop has planned it once.
type statusView struct {
	Condition     string         `json:"condition"`
	Counts        map[string]int `json:"counts"`
	Token         string         `json:"token"`
	Message       string         `json:"message"`
	LastReconcile time.Time      `json:"last_reconcile"`
}

// stackDetail is the body of GET /api/v1/stacks/{name}: the redacted view
// plus the status.
type stackDetail struct {
	view.Stack
	Status *statusView `json:"status"`
	// Revision is the stack's desired-state revision, also its ETag.
	Revision  *int   `json:"revision,omitempty"`
	Lifecycle string `json:"lifecycle"`
}

func newStatusView(st state.StackStatus, ok bool) *statusView {
	if !ok {
		return nil
	}
	counts := map[string]int{"add": 0, "modify": 0, "remove": 0}
	for k, v := range st.Counts {
		counts[k] = v
	}
	return &statusView{Condition: st.Condition, Counts: counts, Token: st.Token, Message: st.Message, LastReconcile: st.LastReconcile.UTC()}
}

func (s *server) listStacks(w http.ResponseWriter, r *http.Request) {
	if paginated(r) {
		s.listStackPage(w, r)
		return
	}
	stacks, err := s.deps.Stacks.Stacks(r.Context())
	if err != nil {
		s.internalError(w, r, "list stacks", err)
		return
	}
	statuses, err := s.deps.Statuses.StackStatuses(r.Context())
	if err != nil {
		s.internalError(w, r, "read stack statuses", err)
		return
	}
	out := stackList{Stacks: make([]stackSummary, 0, len(stacks)), FirstPassInProgress: s.firstPassInProgress()}
	engine := r.URL.Query().Get("engine")
	for _, st := range stacks {
		if engine != "" && s.engineOf(st) != engine {
			continue // ?engine=NAME lists the stacks on that engine
		}
		status, ok := statuses[st.ID]
		out.Stacks = append(out.Stacks, stackSummary{ID: st.ID, Name: st.Name, Network: st.Network(), Enabled: st.Enabled,
			Instances: len(st.Instances), Status: newStatusView(status, ok), Lifecycle: spec.Lifecycle(st), Engine: s.engineOf(st)})
	}
	writeJSON(w, http.StatusOK, out)
}

// loadStack reads the stack named in the path, answering 404 or 500 itself
// when it cannot.
func (s *server) loadStack(w http.ResponseWriter, r *http.Request) (spec.Stack, bool) {
	return s.stackNamed(w, r, r.PathValue("name"))
}

// stackNamed reads the stack called name, answering 404 or 500 itself when
// it cannot.
func (s *server) stackNamed(w http.ResponseWriter, r *http.Request, name string) (spec.Stack, bool) {
	st, err := s.deps.Stacks.Stack(r.Context(), name)
	if errors.Is(err, state.ErrNotFound) {
		writeError(w, http.StatusNotFound, codeStackNotFound,
			fmt.Sprintf("Stack %q does not exist. List the stacks with GET /api/v1/stacks.", name))
		return st, false
	}
	if err != nil {
		s.internalError(w, r, "read the stack", err)
		return st, false
	}
	return st, true
}

func (s *server) getStack(w http.ResponseWriter, r *http.Request) {
	st, ok := s.loadStack(w, r)
	if !ok {
		return
	}
	statuses, err := s.deps.Statuses.StackStatuses(r.Context())
	if err != nil {
		s.internalError(w, r, "read stack statuses", err)
		return
	}
	status, found := statuses[st.ID]
	rev, ok := s.stackRevision(w, r, st.Name)
	if !ok {
		return
	}
	v := view.Redact(st)
	v.Engine = s.engineOf(st)
	writeJSON(w, http.StatusOK, stackDetail{Stack: v, Status: newStatusView(status, found), Revision: rev, Lifecycle: spec.Lifecycle(st)})
}

// loadDesired reads the stack named in the path and the installation
// (host paths and keys) its plan and token are computed with, answering
// 404 or 500 itself when that fails.
func (s *server) loadDesired(w http.ResponseWriter, r *http.Request) (plan.Desired, bool) {
	st, ok := s.loadStack(w, r)
	if !ok {
		return plan.Desired{}, false
	}
	in, err := s.deps.Installation.Installation(r.Context())
	if err != nil {
		s.internalError(w, r, "read the installation", err)
		return plan.Desired{}, false
	}
	d := plan.Desired{Stack: st, Paths: in}
	if b, ok := s.deps.Planner.(filing.BuildReader); ok {
		d = b.WithBuilds(d)
	}
	return d, true
}

func (s *server) getPlan(w http.ResponseWriter, r *http.Request) {
	d, ok := s.loadDesired(w, r)
	if !ok {
		return
	}
	p, ok := s.plan(w, r, d)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = p.WriteJSON(w)
}

// firstPassInProgress reports whether the controller's first full pass
// has yet to finish (see Deps.FirstPassDone).
func (s *server) firstPassInProgress() bool {
	return s.deps.FirstPassDone != nil && !s.deps.FirstPassDone()
}
