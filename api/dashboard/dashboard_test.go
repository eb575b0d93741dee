package dashboard

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func serve(t testing.TB, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t testing.TB, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

func TestHandlerServesFiles(t *testing.T) {
	h := Handler()
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantType           string // prefix of Content-Type
		wantBody           string // substring of the body
	}{
		{name: "index at root", method: http.MethodGet, path: "/", wantStatus: 200, wantType: "text/html; charset=utf-8", wantBody: `<script type="module" src="js/app.js">`},
		{name: "entry module", method: http.MethodGet, path: "/js/app.js", wantStatus: 200, wantType: "text/javascript; charset=utf-8", wantBody: "parseRoute"},
		{name: "plan renderer", method: http.MethodGet, path: "/js/plan-view.js", wantStatus: 200, wantType: "text/javascript; charset=utf-8", wantBody: "renderPlan"},
		{name: "stylesheet", method: http.MethodGet, path: "/css/app.css", wantStatus: 200, wantType: "text/css; charset=utf-8", wantBody: ":root"},
		{name: "icon", method: http.MethodGet, path: "/favicon.svg", wantStatus: 200, wantType: "image/svg+xml", wantBody: "<svg"},
		{name: "head of index", method: http.MethodHead, path: "/", wantStatus: 200, wantType: "text/html; charset=utf-8"},
		{name: "unknown asset", method: http.MethodGet, path: "/js/nope.js", wantStatus: 404, wantType: "text/plain", wantBody: "Not found"},
		{name: "index by name is not a second copy", method: http.MethodGet, path: "/index.html", wantStatus: 404, wantType: "text/plain"},
		{name: "no directory listing", method: http.MethodGet, path: "/js/", wantStatus: 404, wantType: "text/plain"},
		{name: "directory without slash", method: http.MethodGet, path: "/js", wantStatus: 404, wantType: "text/plain"},
		{name: "static prefix is not exposed", method: http.MethodGet, path: "/static/index.html", wantStatus: 404, wantType: "text/plain"},
		{name: "traversal", method: http.MethodGet, path: "/js/../../dashboard.go", wantStatus: 404, wantType: "text/plain"},
		{name: "api routes are not served here", method: http.MethodGet, path: "/api/v1/stacks", wantStatus: 404, wantType: "text/plain"},
		{name: "post refused", method: http.MethodPost, path: "/", wantStatus: 405, wantType: "text/plain"},
		{name: "delete refused", method: http.MethodDelete, path: "/js/app.js", wantStatus: 405, wantType: "text/plain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := serve(t, h, tt.method, tt.path, nil)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("Content-Type = %q, want prefix %q", ct, tt.wantType)
			}
			b := body(t, res)
			if !strings.Contains(b, tt.wantBody) {
				t.Errorf("body does not contain %q:\n%.300s", tt.wantBody, b)
			}
			if tt.method == http.MethodHead && b != "" {
				t.Errorf("HEAD returned a body of %d bytes", len(b))
			}
			if tt.wantStatus == 405 && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q, want %q", res.Header.Get("Allow"), "GET, HEAD")
			}
			assertSecurityHeaders(t, res.Header)
		})
	}
}

func assertSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
	}
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestHandlerRevalidatesByETag(t *testing.T) {
	h := Handler()
	first := serve(t, h, http.MethodGet, "/js/app.js", nil)
	etag := first.Header.Get("ETag")
	if etag == "" || first.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag = %q, Cache-Control = %q; want an ETag and no-cache", etag, first.Header.Get("Cache-Control"))
	}
	again := serve(t, h, http.MethodGet, "/js/app.js", http.Header{"If-None-Match": {etag}})
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("status with matching If-None-Match = %d, want 304", again.StatusCode)
	}
	other := serve(t, h, http.MethodGet, "/css/app.css", nil)
	if other.Header.Get("ETag") == etag {
		t.Errorf("two different files share ETag %s", etag)
	}
}

// staticFiles walks the dashboard's source files (the same ones embedded).
func staticFiles(t *testing.T) map[string]string {
	t.Helper()
	root, err := fs.Sub(embedded, "static")
	if err != nil {
		t.Fatalf("open static files: %v", err)
	}
	files := map[string]string{}
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		files[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatalf("walk static files: %v", err)
	}
	return files
}

// The CSP forbids inline scripts, inline styles and inline event handlers:
// any of them in index.html would silently break the page.
func TestIndexHasNothingInline(t *testing.T) {
	index := staticFiles(t)["index.html"]
	checks := []struct {
		name string
		re   *regexp.Regexp
	}{
		{"inline script", regexp.MustCompile(`<script[^>]*>\s*[^<\s]`)},
		{"style element", regexp.MustCompile(`<style[\s>]`)},
		{"style attribute", regexp.MustCompile(`\sstyle\s*=`)},
		{"event handler attribute", regexp.MustCompile(`\son[a-z]+\s*=`)},
		{"javascript: URL", regexp.MustCompile(`javascript:`)},
		{"remote resource", regexp.MustCompile(`(?:src|href)\s*=\s*"(?:https?:)?//`)},
	}
	for _, c := range checks {
		if m := c.re.FindString(index); m != "" {
			t.Errorf("index.html has a %s (%q), which the Content-Security-Policy blocks", c.name, m)
		}
	}
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(index, -1)
	if len(scripts) == 0 {
		t.Fatal("index.html loads no script")
	}
	for _, tag := range scripts {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("script tag %q has no src: inline scripts are blocked by the Content-Security-Policy", tag)
		}
	}
}

// Every file index.html references, and every module a module imports,
// must exist: a broken path would only show up in a browser otherwise.
func TestReferencesResolve(t *testing.T) {
	files := staticFiles(t)
	h := Handler()
	refs := regexp.MustCompile(`(?:src|href)="([^"#][^"]*)"`).FindAllStringSubmatch(files["index.html"], -1)
	if len(refs) < 3 {
		t.Fatalf("found %d references in index.html, want at least 3 (icon, stylesheet, script)", len(refs))
	}
	for _, m := range refs {
		if res := serve(t, h, http.MethodGet, "/"+m[1], nil); res.StatusCode != 200 {
			t.Errorf("index.html references %s: status %d", m[1], res.StatusCode)
		}
	}
	imports := regexp.MustCompile(`(?m)^import\s[^;]*?from\s+'(\./[^']+)'`)
	modules := 0
	for name, src := range files {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		modules++
		for _, m := range imports.FindAllStringSubmatch(src, -1) {
			target := "js/" + strings.TrimPrefix(m[1], "./")
			if _, ok := files[target]; !ok {
				t.Errorf("%s imports %s, which does not exist", name, m[1])
			}
		}
		if strings.Contains(src, "innerHTML") || strings.Contains(src, "outerHTML") || strings.Contains(src, "insertAdjacentHTML") {
			t.Errorf("%s assigns HTML; build elements with dom.js so data is always text", name)
		}
	}
	if modules < 5 {
		t.Errorf("found %d JavaScript modules, want the dashboard's modules", modules)
	}
}

// FuzzHandler: whatever path a client sends, the handler answers 200, 304,
// 404 or 405 with the security headers, and only ever serves its own files.
func FuzzHandler(f *testing.F) {
	for _, seed := range []string{"/", "/js/app.js", "/js/", "/../etc/passwd", "/%2e%2e/", "//x", "/css/app.css?x=1", "/index.html", "/\x00"} {
		f.Add(seed)
	}
	h := Handler()
	f.Fuzz(func(t *testing.T, p string) {
		req, err := http.NewRequest(http.MethodGet, "http://x", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Path = p
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200:
			if !strings.HasPrefix(p, "/") || strings.Contains(p, "..") || strings.Contains(p, "//") {
				t.Errorf("served %q", p)
			}
		case 404:
		default:
			t.Errorf("status %d for %q", rec.Code, p)
		}
		if rec.Header().Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Errorf("no CSP for %q", p)
		}
	})
}
