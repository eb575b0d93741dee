package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// LifecycleStore deletes, disables and enables stacks and instances
// (implemented by *state.Store). Errors wrap state.ErrNotFound for an
// unknown stack or instance and state.ErrApplying while an approval of
// the stack is applying; nothing is written then.
type LifecycleStore interface {
	DeleteStackChecked(ctx context.Context, name string, o state.DeleteStackOptions) (state.LifecycleResult, error)
	SetStackEnabledChecked(ctx context.Context, name string, enabled bool) (state.LifecycleResult, error)
	DeleteInstanceChecked(ctx context.Context, stack, instance string) (state.LifecycleResult, error)
	SetInstanceEnabledChecked(ctx context.Context, stack, instance string, enabled bool) (state.LifecycleResult, error)
}

// OrphanLister lists the labeled containers and networks whose stack is
// not in the database (see deploy.FindOrphans).
type OrphanLister interface {
	Orphans(ctx context.Context) (deploy.Orphans, error)
}

// lifecycleResponse is the body of a successful delete, disable or
// enable: what the desired state is now and the stack's next plan (what
// applying it would do), or why that plan could not be computed.
type lifecycleResponse struct {
	ID        int64  `json:"id"`
	Stack     string `json:"stack"`
	Instance  string `json:"instance,omitempty"`
	Lifecycle string `json:"lifecycle"`
	// Changed is false when the stack or instance already was in the
	// asked state: nothing was written.
	Changed   bool       `json:"changed"`
	Message   string     `json:"message"`
	Plan      *plan.Plan `json:"plan"`
	PlanError string     `json:"plan_error,omitempty"`
}

func (s *server) deleteStack(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	volumes, ok := boolParam(w, r, "volumes")
	if !ok {
		return
	}
	s.lifecycle(w, r, name, "", func(ls LifecycleStore) (state.LifecycleResult, error) {
		return ls.DeleteStackChecked(s.authored(r), name, state.DeleteStackOptions{RemoveVolumes: volumes})
	}, "Stack %q is deleted from the desired state; nothing was removed from the engine yet. Apply its removal plan to remove its containers and networks.")
}

func (s *server) setStackEnabled(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		msg := "Stack %q is disabled; its desired state is kept. Apply its plan to remove its containers."
		if enabled {
			msg = "Stack %q is enabled. Apply its plan to bring its containers back."
		}
		s.lifecycle(w, r, name, "", func(ls LifecycleStore) (state.LifecycleResult, error) {
			return ls.SetStackEnabledChecked(s.authored(r), name, enabled)
		}, msg)
	}
}

func (s *server) deleteInstance(w http.ResponseWriter, r *http.Request) {
	name, instance := r.PathValue("name"), r.PathValue("instance")
	s.lifecycle(w, r, name, instance, func(ls LifecycleStore) (state.LifecycleResult, error) {
		return ls.DeleteInstanceChecked(s.authored(r), name, instance)
	}, "Instance %q of stack %q is deleted from the desired state. Apply the stack's plan to remove its container.")
}

func (s *server) setInstanceEnabled(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, instance := r.PathValue("name"), r.PathValue("instance")
		msg := "Instance %q of stack %q is disabled; its desired state is kept. Apply the stack's plan to remove its container."
		if enabled {
			msg = "Instance %q of stack %q is enabled. Apply the stack's plan to bring its container back."
		}
		s.lifecycle(w, r, name, instance, func(ls LifecycleStore) (state.LifecycleResult, error) {
			return ls.SetInstanceEnabledChecked(s.authored(r), name, instance, enabled)
		}, msg)
	}
}

// lifecycle runs one change and answers: 404 for an unknown stack or
// instance, 409 while an approval of the stack applies, 422 for a change
// that would make the stack invalid, else 200 with the stack's next plan.
// msg is the success message, formatted with the instance (when there is
// one) and the stack.
func (s *server) lifecycle(w http.ResponseWriter, r *http.Request, name, instance string, change func(LifecycleStore) (state.LifecycleResult, error), msg string) {
	if s.deps.Lifecycle == nil {
		writeError(w, http.StatusNotImplemented, codeNotConfigured, "This controller cannot change stacks through the API. Use the devarch-controller command line.")
		return
	}
	res, err := change(s.deps.Lifecycle)
	var invalid *spec.ValidationError
	switch {
	case errors.Is(err, state.ErrApplying):
		msg := fmt.Sprintf("Stack %q is being applied, so it cannot be changed now; nothing was changed. Wait until the apply ends and try again.", name)
		if ae, ok := errors.AsType[*state.ApplyingError](err); ok {
			msg = fmt.Sprintf("Stack %q is being applied by approval %d, so it cannot be changed now; nothing was changed. Wait until that apply ends (GET /api/v1/approvals/%d) and try again.", name, ae.ApprovalID, ae.ApprovalID)
		}
		writeError(w, http.StatusConflict, codeStackApplying, msg)
		return
	case errors.Is(err, state.ErrNotFound):
		s.lifecycleNotFound(w, r, name, instance)
		return
	case errors.As(err, &invalid):
		writeError(w, http.StatusUnprocessableEntity, codeInvalidChange,
			fmt.Sprintf("The change would make stack %q invalid, so nothing was changed: %s.", name, strings.TrimSuffix(invalid.Error(), ".")))
		return
	case err != nil:
		s.internalError(w, r, "change the stack", err)
		return
	}
	out := lifecycleResponse{ID: res.StackID, Stack: name, Instance: instance, Changed: res.Changed}
	if instance != "" {
		out.Message = fmt.Sprintf(msg, instance, name)
	} else {
		out.Message = fmt.Sprintf(msg, name)
	}
	if !res.Changed {
		out.Message = "Nothing was changed: it already was in that state. " + out.Message
	}
	d, ok := s.loadDesired(w, r)
	if !ok {
		return
	}
	out.Lifecycle = spec.Lifecycle(d.Stack)
	p, err := s.deps.Planner.Plan(r.Context(), d)
	if err != nil {
		out.PlanError = d.Stack.Scrubber().Scrub(err.Error())
	} else {
		out.Plan = p
	}
	writeJSON(w, http.StatusOK, out)
}

// lifecycleNotFound answers 404 naming what is missing: the stack, the
// stack's pending removal (a deleting stack cannot be changed), or the
// instance.
func (s *server) lifecycleNotFound(w http.ResponseWriter, r *http.Request, name, instance string) {
	st, err := s.deps.Stacks.Stack(r.Context(), name)
	switch {
	case errors.Is(err, state.ErrNotFound):
		writeError(w, http.StatusNotFound, codeStackNotFound,
			fmt.Sprintf("Stack %q does not exist. List the stacks with GET /api/v1/stacks.", name))
	case err != nil:
		s.internalError(w, r, "read the stack", err)
	case st.Deleting:
		writeError(w, http.StatusNotFound, codeStackNotFound,
			fmt.Sprintf("Stack %q is deleted and its removal not applied yet, so it cannot be changed. Apply its removal plan, or import it again to keep it.", name))
	case instance != "":
		writeError(w, http.StatusNotFound, codeInstanceNotFound,
			fmt.Sprintf("Stack %q has no instance %q. See its instances with GET /api/v1/stacks/%s.", name, instance, name))
	default: // removed between the change and this read
		writeError(w, http.StatusNotFound, codeStackNotFound,
			fmt.Sprintf("Stack %q does not exist. List the stacks with GET /api/v1/stacks.", name))
	}
}

// listOrphans answers GET /api/v1/orphans.
func (s *server) listOrphans(w http.ResponseWriter, r *http.Request) {
	if s.deps.Orphans == nil {
		writeError(w, http.StatusNotImplemented, codeNotConfigured, "This controller does not list orphans. Use devarch-controller stack orphans.")
		return
	}
	o, err := s.deps.Orphans.Orphans(r.Context())
	if err != nil {
		s.internalError(w, r, "list orphans (is the container runtime reachable?)", err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}

// boolParam reads an optional true/false query parameter, answering 400
// itself for another value.
func boolParam(w http.ResponseWriter, r *http.Request, name string) (bool, bool) {
	switch v := r.URL.Query().Get(name); v {
	case "", "false", "0":
		return false, true
	case "true", "1":
		return true, true
	default:
		writeError(w, http.StatusBadRequest, codeInvalidParameter,
			fmt.Sprintf("The query parameter %s must be true or false, not %q.", name, v))
		return false, false
	}
}
