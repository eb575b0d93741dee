package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/internal/logging"
	"github.com/devarch/devarch-controller/plan"
)

// applyResponse is the body of a filed approval (202).
type applyResponse struct {
	Approval approval.Approval `json:"approval"`
	URL      string            `json:"url"`
}

// plan computes a fresh plan of d, answering 500 itself when it fails.
// The planner's error is shown with the stack's secret values scrubbed
// (the stack's own names are kept, see spec.Scrubber).
func (s *server) plan(w http.ResponseWriter, r *http.Request, d plan.Desired) (*plan.Plan, bool) {
	st := d.Stack
	p, err := s.deps.Planner.Plan(r.Context(), d)
	if err == nil && p == nil {
		err = errors.New("the planner returned no plan")
	}
	if err != nil {
		s.planFailed(w, st.Name, st.Scrubber().Scrub(err.Error()))
		return nil, false
	}
	return p, true
}

// planFailed answers 500 for a plan of stack that could not be computed;
// msg is the planner's error with the stack's secret values scrubbed.
func (s *server) planFailed(w http.ResponseWriter, stack, msg string) {
	s.log.Warn("plan failed", zap.String("stack", stack), logging.Err(errors.New(msg)))
	writeError(w, http.StatusInternalServerError, codePlanFailed,
		fmt.Sprintf("The plan of stack %q could not be computed: %s. Fix the cause (is the container runtime reachable?) and try again.", stack, msg))
}

// desiredReader reads stacks and the installation for the filing use case.
type desiredReader struct {
	StackReader
	InstallationReader
}

// apply files an approval of the stack's current plan through the filing
// use case (package approval/filing), which checks that the token the user
// approved is still the stack's and that nobody is applying the stack. The
// reconcile loop claims and applies it; it checks the token and the lock
// again, under the lock.
func (s *server) apply(w http.ResponseWriter, r *http.Request) {
	var req applyRequest
	if e := readBody(w, r, s.opts.MaxBodyBytes, &req, `the field "token"`); e != nil {
		e.write(w)
		return
	}
	name := r.PathValue("name")
	a, err := s.filer.File(r.Context(), name, req.Token, s.opts.RequestedBy(r))
	if err != nil {
		s.fileError(w, r, name, err)
		return
	}
	url := approvalURL(a.ID)
	w.Header().Set("Location", url)
	writeJSON(w, http.StatusAccepted, applyResponse{Approval: a, URL: url})
}

// fileError answers a refused or failed filing of stack name.
func (s *server) fileError(w http.ResponseWriter, r *http.Request, name string, err error) {
	var planErr *filing.PlanError
	var stepErr *filing.StepError
	switch {
	case errors.Is(err, filing.ErrTokenRequired):
		writeError(w, http.StatusBadRequest, codeTokenRequired,
			`Send the token of the plan you approve: {"token": "..."} (the "token" field of GET /api/v1/stacks/{name}/plan).`)
	case errors.Is(err, filing.ErrStackNotFound):
		writeError(w, http.StatusNotFound, codeStackNotFound,
			fmt.Sprintf("Stack %q does not exist. List the stacks with GET /api/v1/stacks.", name))
	case errors.Is(err, filing.ErrStale):
		writeError(w, http.StatusConflict, codePlanStale, messageStale)
	case errors.Is(err, filing.ErrApplying):
		writeError(w, http.StatusConflict, codeStackLocked, messageLocked)
	case errors.Is(err, filing.ErrStackDeleted):
		writeError(w, http.StatusNotFound, codeStackNotFound,
			fmt.Sprintf("Stack %q was deleted while the approval was filed. List the stacks with GET /api/v1/stacks.", name))
	case errors.As(err, &planErr):
		s.planFailed(w, planErr.Stack, planErr.Message)
	case errors.As(err, &stepErr):
		s.internalError(w, r, stepErr.Step, stepErr.Err)
	default:
		s.internalError(w, r, "file the approval", err)
	}
}

func approvalURL(id int64) string { return Base + "/approvals/" + strconv.FormatInt(id, 10) }
