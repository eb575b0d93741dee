package api

import (
	"net/http"
	"strings"
)

// Base is the path prefix of the JSON API.
const Base = "/api/v1"

// route is one endpoint. Routes that are not public need the API token
// (when one is configured); POST routes also pass the cross-origin and
// content-type checks, DELETE routes the cross-origin check.
type route struct {
	method  string
	path    string
	public  bool
	handler http.HandlerFunc
}

// routes lists every endpoint; api/openapi.yaml documents exactly these
// (a test holds them equal).
func (s *server) routes() []route {
	return []route{
		{method: http.MethodGet, path: Base + "/stacks", handler: s.listStacks},
		{method: http.MethodGet, path: Base + "/stacks/{name}", handler: s.getStack},
		{method: http.MethodGet, path: Base + "/stacks/{name}/plan", handler: s.getPlan},
		{method: http.MethodPost, path: Base + "/stacks/{name}/apply", handler: s.apply},
		{method: http.MethodGet, path: Base + "/stacks/{name}/export", handler: s.exportStack},
		{method: http.MethodPut, path: Base + "/stacks/{name}", handler: s.putStack},
		{method: http.MethodPatch, path: Base + "/stacks/{name}/instances/{instance}", handler: s.patchInstance},
		{method: http.MethodGet, path: Base + "/stacks/{name}/revisions", handler: s.listRevisions},
		{method: http.MethodPost, path: Base + "/stacks/{name}/revisions/{number}/revert", handler: s.revertStack},
		{method: http.MethodDelete, path: Base + "/stacks/{name}", handler: s.deleteStack},
		{method: http.MethodPost, path: Base + "/stacks/{name}/disable", handler: s.setStackEnabled(false)},
		{method: http.MethodPost, path: Base + "/stacks/{name}/enable", handler: s.setStackEnabled(true)},
		{method: http.MethodDelete, path: Base + "/stacks/{name}/instances/{instance}", handler: s.deleteInstance},
		{method: http.MethodPost, path: Base + "/stacks/{name}/instances/{instance}/disable", handler: s.setInstanceEnabled(false)},
		{method: http.MethodPost, path: Base + "/stacks/{name}/instances/{instance}/enable", handler: s.setInstanceEnabled(true)},
		{method: http.MethodGet, path: Base + "/orphans", handler: s.listOrphans},
		{method: http.MethodGet, path: Base + "/approvals", handler: s.listApprovals},
		{method: http.MethodGet, path: Base + "/approvals/{id}", handler: s.getApproval},
		{method: http.MethodPost, path: Base + "/approvals/{id}/cancel", handler: s.cancelApproval},
		{method: http.MethodGet, path: Base + "/approvals/{id}/events", handler: s.streamEvents},
		{method: http.MethodGet, path: Base + "/openapi.yaml", public: true, handler: serveOpenAPI},
		{method: http.MethodGet, path: "/healthz", public: true, handler: healthz},
		{method: http.MethodGet, path: "/readyz", public: true, handler: s.readyz},
		{method: http.MethodGet, path: "/metrics", public: true, handler: s.metrics},
	}
}

// guard wraps a route's handler with the checks its kind needs, in this
// order: API token, cross-origin, content type. API responses are never
// cached.
func (s *server) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(rt.path, Base+"/") {
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("X-Content-Type-Options", "nosniff")
		}
		if !rt.public && !s.authorized(w, r) {
			return
		}
		if rt.method != http.MethodGet {
			if err := s.csrf.Check(r); err != nil {
				writeError(w, http.StatusForbidden, codeCrossOrigin,
					"Cross-origin requests are refused. Send the request from the controller's own origin, or without an Origin header (for example with curl).")
				return
			}
		}
		if rt.method == http.MethodPost || rt.method == http.MethodPatch {
			if !isJSON(r.Header.Get("Content-Type")) {
				writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedMediaType,
					"Send the request with the header Content-Type: application/json (and a JSON body, or none where the body is optional).")
				return
			}
		}
		rt.handler(w, r)
	})
}

// dispatch serves a request through the mux, answering unknown paths and
// wrong methods with the JSON error format instead of the mux's text.
func (s *server) dispatch(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	probe := &headerProbe{header: http.Header{}}
	s.mux.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", probe.header.Get("Allow"))
		writeError(w, http.StatusMethodNotAllowed, codeMethodNotAllowed,
			"This method is not allowed on "+r.URL.Path+"; the allowed methods are: "+probe.header.Get("Allow")+".")
	case http.StatusNotFound:
		writeError(w, http.StatusNotFound, codeNotFound,
			"There is no endpoint at "+r.URL.Path+". See /api/v1/openapi.yaml for the API's endpoints.")
	default:
		// A redirect to the clean path: let the mux answer it.
		s.mux.ServeHTTP(w, r)
	}
}

// headerProbe records what the mux would answer, without a body.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header { return p.header }
func (p *headerProbe) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}
func (p *headerProbe) Write(b []byte) (int, error) {
	p.WriteHeader(http.StatusOK)
	return len(b), nil
}
