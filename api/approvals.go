package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/state"
)

// Limits of GET /api/v1/approvals.
const (
	defaultApprovalLimit = 50
	maxApprovalLimit     = 500
)

// approvalList is the body of GET /api/v1/approvals.
type approvalList struct {
	Approvals []approval.Approval `json:"approvals"`
}

// parseApprovalID parses an approval id: a positive decimal integer.
func parseApprovalID(raw string) (int64, *apiError) {
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, &apiError{Status: http.StatusBadRequest, Code: codeInvalidApprovalID,
			Message: fmt.Sprintf("Approval id %q is not valid: use the positive integer \"id\" of an approval.", truncate(raw, 40))}
	}
	return id, nil
}

// parseLimit parses the limit query parameter: empty means the default,
// values above the maximum are lowered to it.
func parseLimit(raw string) (int, *apiError) {
	if raw == "" {
		return defaultApprovalLimit, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		return 0, &apiError{Status: http.StatusBadRequest, Code: codeInvalidParameter,
			Message: fmt.Sprintf("Query parameter limit=%q is not valid: use a positive integer (at most %d).", truncate(raw, 40), maxApprovalLimit)}
	}
	return min(n, maxApprovalLimit), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (s *server) listApprovals(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, e := parseLimit(q.Get("limit"))
	if e != nil {
		e.write(w)
		return
	}
	var stackID int64
	if name := q.Get("stack"); name != "" {
		st, ok := s.stackNamed(w, r, name)
		if !ok {
			return
		}
		stackID = st.ID
	}
	list, err := s.deps.Approvals.Approvals(r.Context(), stackID, limit)
	if err != nil {
		s.internalError(w, r, "list approvals", err)
		return
	}
	if list == nil {
		list = []approval.Approval{}
	}
	writeJSON(w, http.StatusOK, approvalList{Approvals: list})
}

// loadApproval reads the approval named in the path, answering 400, 404
// or 500 itself when it cannot.
func (s *server) loadApproval(w http.ResponseWriter, r *http.Request) (approval.Approval, bool) {
	id, e := parseApprovalID(r.PathValue("id"))
	if e != nil {
		e.write(w)
		return approval.Approval{}, false
	}
	a, err := s.deps.Approvals.Approval(r.Context(), id)
	if errors.Is(err, state.ErrNotFound) {
		writeError(w, http.StatusNotFound, codeApprovalNotFound,
			fmt.Sprintf("Approval %d does not exist. List approvals with GET /api/v1/approvals.", id))
		return a, false
	}
	if err != nil {
		s.internalError(w, r, "read the approval", err)
		return a, false
	}
	return a, true
}

func (s *server) getApproval(w http.ResponseWriter, r *http.Request) {
	if a, ok := s.loadApproval(w, r); ok {
		writeJSON(w, http.StatusOK, a)
	}
}

func (s *server) cancelApproval(w http.ResponseWriter, r *http.Request) {
	id, e := parseApprovalID(r.PathValue("id"))
	if e != nil {
		e.write(w)
		return
	}
	if e := readBody(w, r, s.opts.MaxBodyBytes, &cancelRequest{}, "no fields (send no body, or {})"); e != nil {
		e.write(w)
		return
	}
	by := s.opts.RequestedBy(r)
	a, err := s.deps.Approvals.CancelApproval(r.Context(), id, "Cancelled by "+by+".")
	switch {
	case errors.Is(err, state.ErrNotFound):
		writeError(w, http.StatusNotFound, codeApprovalNotFound,
			fmt.Sprintf("Approval %d does not exist. List approvals with GET /api/v1/approvals.", id))
	case errors.Is(err, state.ErrNotPending):
		writeError(w, http.StatusConflict, codeApprovalNotPending,
			fmt.Sprintf("Approval %d is %s: only a pending approval can be cancelled.", id, a.Status))
	case err != nil:
		s.internalError(w, r, "cancel the approval", err)
	default:
		s.log.Info("approval cancelled", zap.String("stack", a.Stack), zap.Int64("approval_id", a.ID), zap.String("requested_by", by))
		writeJSON(w, http.StatusOK, a)
	}
}
