package e2e

import (
	"net/http"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/stackfile"
)

// export answers GET /api/v1/stacks/{name}/export as package api does:
// the real exports of the fake's stack, in the API's JSON shape.
func (f *fakeAPI) export(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.stackByName(w, r)
	if s == nil {
		return
	}
	format := r.URL.Query().Get("format")
	out := map[string]any{"stack": s.stack.Name, "format": format, "secrets": []string{}, "notes": []string{}, "warnings": []string{}}
	switch format {
	case "compose":
		c, err := project.Compose(s.stack, fakeInstallation, false)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "export_failed", "The stack cannot be exported in the compose format: "+err.Error())
			return
		}
		out["filename"], out["content"], out["secrets"], out["warnings"] = "compose.yml", string(c.Data), c.Variables, c.Warnings
	case "devarch", "":
		e, err := stackfile.Export(s.stack)
		if err != nil {
			writeError(w, http.StatusUnprocessableEntity, "export_failed", "The stack cannot be exported in the devarch format: "+err.Error())
			return
		}
		out["format"], out["filename"], out["content"], out["secrets"], out["notes"] = "devarch", s.stack.Name+".devarch.yml", string(e.Data), e.Secrets, e.Notes
	default:
		writeError(w, http.StatusBadRequest, "invalid_parameter", "Unknown export format; the formats are devarch and compose.")
		return
	}
	writeJSON(w, http.StatusOK, out)
}
