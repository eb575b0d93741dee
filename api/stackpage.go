package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// StackPager reads one page of the stack list (implemented by
// *state.Store): up to limit stacks after after in (name byte order, id)
// order, and whether more follow.
type StackPager interface {
	StackPage(ctx context.Context, after state.StackPageKey, limit int) ([]state.StackListItem, bool, error)
}

// Stack list pages: GET /api/v1/stacks?limit=N[&cursor=C].
const (
	// DefaultStackPageSize is the page size when cursor is given without
	// limit.
	DefaultStackPageSize = 100
	// MaxStackPageSize is the largest limit accepted.
	MaxStackPageSize = state.MaxStackPageSize
)

// stackPage is the body of a paginated GET /api/v1/stacks: the stacks of
// the page, and the cursor of the next page when there is one.
type stackPage struct {
	Stacks     []stackSummary `json:"stacks"`
	NextCursor string         `json:"next_cursor,omitempty"`
	// FirstPassInProgress: see stackList.
	FirstPassInProgress bool `json:"first_pass_in_progress,omitempty"`
}

// cursorPrefix versions the cursor's content: the id and name of the
// last stack of a page ("n1:ID:NAME").
const cursorPrefix = "n1:"

func encodeStackCursor(k state.StackPageKey) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(k.ID, 10) + ":" + k.Name))
}

func decodeStackCursor(c string) (state.StackPageKey, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return state.StackPageKey{}, false
	}
	rest, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok {
		return state.StackPageKey{}, false
	}
	idText, name, ok := strings.Cut(rest, ":")
	if !ok {
		return state.StackPageKey{}, false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 1 || strconv.FormatInt(id, 10) != idText || spec.ValidateName(name) != nil {
		return state.StackPageKey{}, false
	}
	return state.StackPageKey{Name: name, ID: id}, true
}

// paginated reports whether a stack list request asks for a page.
func paginated(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("limit") || q.Has("cursor")
}

// listStackPage answers GET /api/v1/stacks?limit=&cursor=: one page of
// the stacks the whole list holds, in name order (byte order, then id),
// read with one indexed query.
func (s *server) listStackPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := DefaultStackPageSize
	if v := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxStackPageSize {
			writeError(w, http.StatusBadRequest, codeInvalidParameter,
				fmt.Sprintf("The limit %q is not a number from 1 to %d. Ask for at most %d stacks per page.", v, MaxStackPageSize, MaxStackPageSize))
			return
		}
		limit = n
	}
	var after state.StackPageKey
	if q.Has("cursor") {
		var ok bool
		if after, ok = decodeStackCursor(q.Get("cursor")); !ok {
			writeError(w, http.StatusBadRequest, codeInvalidParameter,
				"The cursor is not one this API returned. Pass the next_cursor of the previous page unchanged, or leave cursor out to start at the first page.")
			return
		}
	}
	if s.deps.Pages == nil {
		writeError(w, http.StatusNotImplemented, codeNotImplemented,
			"This controller does not serve the stack list in pages. Leave out limit and cursor to get the whole list.")
		return
	}
	items, more, err := s.deps.Pages.StackPage(r.Context(), after, limit)
	if err != nil {
		s.internalError(w, r, "list a page of stacks", err)
		return
	}
	out := stackPage{Stacks: make([]stackSummary, 0, len(items)), FirstPassInProgress: s.firstPassInProgress()}
	engine := r.URL.Query().Get("engine")
	for _, it := range items {
		stackEngine := s.engineOf(spec.Stack{Engine: it.Engine})
		if engine != "" && stackEngine != engine {
			continue // ?engine=NAME: a page may then hold fewer than limit stacks
		}
		var status *statusView
		if it.Status != nil {
			status = newStatusView(*it.Status, true)
		}
		out.Stacks = append(out.Stacks, stackSummary{ID: it.ID, Name: it.Name,
			Network: spec.Stack{Name: it.Name, NetworkName: it.NetworkName}.Network(),
			Enabled: it.Enabled, Instances: it.Instances, Status: status,
			Lifecycle: spec.Lifecycle(spec.Stack{Enabled: it.Enabled, Deleting: it.Deleting}), Engine: stackEngine})
	}
	if more && len(items) > 0 {
		last := items[len(items)-1]
		out.NextCursor = encodeStackCursor(state.StackPageKey{Name: last.Name, ID: last.ID})
	}
	writeJSON(w, http.StatusOK, out)
}
