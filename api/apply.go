package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/internal/logging"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
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
	p, err := s.deps.Planner(r.Context(), d)
	if err == nil && p == nil {
		err = errors.New("the planner returned no plan")
	}
	if err != nil {
		msg := st.Scrubber().Scrub(err.Error())
		s.log.Warn("plan failed", zap.String("stack", st.Name), logging.Err(errors.New(msg)))
		writeError(w, http.StatusInternalServerError, codePlanFailed,
			fmt.Sprintf("The plan of stack %q could not be computed: %s. Fix the cause (is the container runtime reachable?) and try again.", st.Name, msg))
		return nil, false
	}
	scrubPlan(p, st.Scrubber())
	return p, true
}

// scrubPlan removes the stack's secret values from every text of a plan.
// Secret env values are redacted by the plan itself; this catches a secret
// embedded in another field (a connection URL in a non-secret variable, a
// password in a command). It changes p, which the planner made for this
// request.
func scrubPlan(p *plan.Plan, sc spec.Scrubber) {
	scrub := func(v *string) *string {
		if v == nil {
			return nil
		}
		s := sc.Scrub(*v)
		return &s
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		c.Reason = sc.Scrub(c.Reason)
		for j := range c.Fields {
			f := &c.Fields[j]
			f.Old, f.New, f.Reason = scrub(f.Old), scrub(f.New), sc.Scrub(f.Reason)
		}
	}
	for i := range p.Warnings {
		p.Warnings[i] = sc.Scrub(p.Warnings[i])
	}
}

// apply files an approval of the stack's current plan, after checking that
// the token the user approved is still the stack's and that nobody is
// applying the stack. The reconcile loop claims and applies it; it checks
// the token and the lock again, under the lock.
func (s *server) apply(w http.ResponseWriter, r *http.Request) {
	var req applyRequest
	if e := readBody(w, r, s.opts.MaxBodyBytes, &req, `the field "token"`); e != nil {
		e.write(w)
		return
	}
	if req.Token == "" {
		writeError(w, http.StatusBadRequest, codeTokenRequired,
			`Send the token of the plan you approve: {"token": "..."} (the "token" field of GET /api/v1/stacks/{name}/plan).`)
		return
	}
	d, ok := s.loadDesired(w, r)
	if !ok {
		return
	}
	st := d.Stack
	if plan.Token(d) != req.Token {
		writeError(w, http.StatusConflict, codePlanStale, messageStale)
		return
	}
	if busy, err := s.applying(r, st.ID); err != nil {
		s.internalError(w, r, "check whether the stack is being applied", err)
		return
	} else if busy {
		writeError(w, http.StatusConflict, codeStackLocked, messageLocked)
		return
	}
	p, ok := s.plan(w, r, d)
	if !ok {
		return
	}
	if p.Token != req.Token {
		writeError(w, http.StatusConflict, codePlanStale, messageStale)
		return
	}
	body, err := json.Marshal(p)
	if err != nil {
		s.internalError(w, r, "encode the plan", err)
		return
	}
	a, err := s.deps.Approvals.CreateApproval(r.Context(), st.ID, req.Token, body, s.opts.RequestedBy(r), s.opts.ApprovalTTL)
	if errors.Is(err, state.ErrNotFound) {
		writeError(w, http.StatusNotFound, codeStackNotFound,
			fmt.Sprintf("Stack %q was deleted while the approval was filed. List the stacks with GET /api/v1/stacks.", st.Name))
		return
	}
	if err != nil {
		s.internalError(w, r, "file the approval", err)
		return
	}
	s.log.Info("approval filed", zap.String("stack", st.Name), zap.Int64("approval_id", a.ID), zap.String("requested_by", a.RequestedBy))
	url := approvalURL(a.ID)
	w.Header().Set("Location", url)
	writeJSON(w, http.StatusAccepted, applyResponse{Approval: a, URL: url})
}

// applying reports whether a session holds the stack's lock or an approval
// of the stack is applying.
func (s *server) applying(r *http.Request, stackID int64) (bool, error) {
	holders, err := s.deps.Locks.Holders(r.Context())
	if err != nil {
		return false, err
	}
	for _, h := range holders {
		if h.StackID == stackID && h.Granted {
			return true, nil
		}
	}
	_, applying, err := s.deps.Approvals.ActiveApprovalStacks(r.Context())
	if err != nil {
		return false, err
	}
	return slices.Contains(applying, stackID), nil
}

func approvalURL(id int64) string { return Base + "/approvals/" + strconv.FormatInt(id, 10) }
