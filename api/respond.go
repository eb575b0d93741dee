package api

import (
	"encoding/json"
	"net/http"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/internal/logging"
)

// Error codes of the {"error":{"code","message"}} body. docs/api.md lists
// them with their HTTP statuses.
const (
	codeUnauthorized         = "unauthorized"
	codeCrossOrigin          = "cross_origin"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeBodyTooLarge         = "body_too_large"
	codeInvalidBody          = "invalid_body"
	codeTokenRequired        = "token_required"
	codeInvalidApprovalID    = "invalid_approval_id"
	codeInvalidParameter     = "invalid_parameter"
	codeInvalidLastEventID   = "invalid_last_event_id"
	codeStackNotFound        = "stack_not_found"
	codeApprovalNotFound     = "approval_not_found"
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codePlanStale            = "plan_stale"
	codeStackLocked          = "stack_locked"
	codeApprovalNotPending   = "approval_not_pending"
	codePlanFailed           = "plan_failed"
	codeInternal             = "internal_error"
	codeNotReady             = "not_ready"
	codeExportFailed         = "export_failed"
	codeInstanceNotFound     = "instance_not_found"
	codeRevisionNotFound     = "revision_not_found"
	codeRevisionMismatch     = "revision_mismatch"
	codePreconditionRequired = "precondition_required"
	codeInvalidStack         = "invalid_stack"
	codeNotImplemented       = "not_implemented"
	codeStackApplying        = "stack_applying"
	codeInvalidChange        = "invalid_change"
	codeNotConfigured        = "not_configured"
)

// User-facing messages shared with the reconcile loop's approval outcomes.
const (
	messageStale  = approval.MessageStale
	messageLocked = approval.MessageConflict
)

// errorBody is the body of every error response.
type errorBody struct {
	Error apiError `json:"error"`
}

// apiError is a machine-readable code and a full sentence saying what to
// do.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) write(w http.ResponseWriter) { writeError(w, e.Status, e.Code, e.Message) }

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorBody{Error: apiError{Code: code, Message: message}})
}

// writeJSON writes v as the JSON response. Encoding errors cannot reach
// the client (the status is sent); the values written are plain structs.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// internalError logs err and answers 500 without its text: store errors
// can name internals that are of no use to the caller.
func (s *server) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.Error("request failed", zap.String("operation", what), zap.String("path", r.URL.Path), logging.Err(err))
	writeError(w, http.StatusInternalServerError, codeInternal,
		"The controller could not "+what+". Try again; if it keeps failing, see the controller's log.")
}
