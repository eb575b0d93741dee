// Package dashboard owns the web dashboard: static HTML, CSS and JavaScript
// modules embedded in the binary (no build step, no CDN, works offline) and
// the http.Handler that serves them with strict security headers.
//
// The dashboard is a client of the JSON API under /api/v1 and nothing more.
// This package must not serve or proxy API routes, read configuration, talk
// to the database or the runtime, or render any data into the HTML: the
// files it serves are the same bytes for every user and every request.
// Package api mounts Handler at "/"; the API's own routes (more specific
// patterns) never reach it.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed static
var embedded embed.FS

// ContentSecurityPolicy is sent with every response of the handler. Scripts,
// styles, images and API calls come from the dashboard's own origin only;
// no inline script or style is allowed, and no page may frame the dashboard.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes maps the extensions the dashboard ships to their media types.
// The table is explicit so the result does not depend on the host's
// mime.types file. A file with any other extension is not served.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// file is one embedded asset, read once at start-up.
type file struct {
	body        []byte
	contentType string
	etag        string
}

// handler serves the embedded files from memory.
type handler struct {
	files map[string]file // URL path ("/", "/js/app.js") → file
}

// Handler returns the handler serving the dashboard: "/" is index.html,
// every other path is an embedded file (for example "/js/app.js"). Paths
// that name no file, directories included, get 404; methods other than GET
// and HEAD get 405. Every response carries ContentSecurityPolicy,
// X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer and
// X-Frame-Options: DENY. Responses are revalidated by ETag (Cache-Control:
// no-cache), so a new binary's files are picked up at once.
func Handler() http.Handler {
	files, err := load(embedded)
	if err != nil {
		// The files are compiled in: failing to read them is a build defect,
		// caught by this package's tests.
		panic(err)
	}
	return &handler{files: files}
}

// load reads every servable file under static/ into memory.
func load(fsys fs.FS) (map[string]file, error) {
	root, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, fmt.Errorf("open embedded static files: %w", err)
	}
	files := map[string]file{}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return nil
		}
		body, err := fs.ReadFile(root, name)
		if err != nil {
			return fmt.Errorf("read embedded file %s: %w", name, err)
		}
		sum := sha256.Sum256(body)
		files["/"+name] = file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk embedded static files: %w", err)
	}
	index, ok := files["/index.html"]
	if !ok {
		return nil, fmt.Errorf("load dashboard: static/index.html is missing")
	}
	files["/"] = index
	delete(files, "/index.html")
	return files, nil
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// ServeHTTP serves one embedded file.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method not allowed: the dashboard's files are read with GET.", http.StatusMethodNotAllowed)
		return
	}
	// An exact lookup: no path is ever joined onto a directory, so there is
	// nothing to traverse and no directory to list.
	f, ok := h.files[r.URL.Path]
	if !ok {
		http.Error(w, "Not found: the dashboard has no such file. Open / to start.", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", f.etag)
	// ServeContent answers If-None-Match (304), HEAD and Range requests.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
