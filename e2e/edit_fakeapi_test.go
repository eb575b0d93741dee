package e2e

import "net/http"

// listRevisions answers GET /api/v1/stacks/{name}/revisions: the fake keeps
// no revisions.
func (f *fakeAPI) listRevisions(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stackByName(w, r)
	if s == nil {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stack": s.stack.Name, "revisions": []any{}})
}
