package api

import (
	"fmt"
	"net/http"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/stackfile"
)

// Export formats of GET /api/v1/stacks/{name}/export.
const (
	exportDevarch = "devarch"
	exportCompose = "compose"
)

// exportResponse is the body of GET /api/v1/stacks/{name}/export: the
// exported file and what it needs. It never holds a secret value.
type exportResponse struct {
	Stack  string `json:"stack"`
	Format string `json:"format"`
	// Filename is a name to save Content under.
	Filename string `json:"filename"`
	Content  string `json:"content"`
	// Secrets are the names the file references in place of secret
	// values: ${SECRET:NAME} for devarch, ${NAME} for compose.
	Secrets []string `json:"secrets"`
	// Notes say what the file keeps otherwise than the stored stack
	// (provenance only); Warnings where a loaded compose service's config
	// hash differs from the applied one.
	Notes    []string `json:"notes"`
	Warnings []string `json:"warnings"`
}

func (s *server) exportStack(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = exportDevarch
	}
	if format != exportDevarch && format != exportCompose {
		writeError(w, http.StatusBadRequest, codeInvalidParameter,
			fmt.Sprintf("Unknown export format %q. The formats are %s (a devarch.yml stack file) and %s (the compose file the controller applies).", format, exportDevarch, exportCompose))
		return
	}
	d, ok := s.loadDesired(w, r)
	if !ok {
		return
	}
	out := exportResponse{Stack: d.Stack.Name, Format: format, Secrets: []string{}, Notes: []string{}, Warnings: []string{}}
	if format == exportCompose {
		c, err := project.Compose(d.Stack, d.Paths, false)
		if err != nil {
			exportFailed(w, format, d.Stack.Scrubber().Scrub(err.Error()))
			return
		}
		out.Filename, out.Content = "compose.yml", string(c.Data)
		out.Secrets = append(out.Secrets, c.Variables...)
		out.Warnings = append(out.Warnings, c.Warnings...)
	} else {
		e, err := stackfile.Export(d.Stack)
		if err != nil {
			exportFailed(w, format, err.Error())
			return
		}
		out.Filename, out.Content = d.Stack.Name+".devarch.yml", string(e.Data)
		out.Secrets = append(out.Secrets, e.Secrets...)
		out.Notes = append(out.Notes, e.Notes...)
	}
	writeJSON(w, http.StatusOK, out)
}

// exportFailed answers 422 with what keeps the stack from being exported:
// msg names fields, never secret values (a compose build error comes
// scrubbed of the stack's secrets, as a plan error does).
func exportFailed(w http.ResponseWriter, format, msg string) {
	writeError(w, http.StatusUnprocessableEntity, codeExportFailed,
		fmt.Sprintf("The stack cannot be exported in the %s format: %s", format, msg))
}
