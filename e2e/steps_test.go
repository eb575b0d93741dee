package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// The browser-driving steps below know only a base URL and the dashboard's
// DOM: they run unchanged against the in-process fake API and against a
// real `devarch-controller serve` (PostgreSQL + Docker). Nothing here
// touches a backend directly.

// envUpdateScreenshots, when "1", makes screenshot() write
// docs/screenshots/*.png; otherwise screenshots go to a temporary directory.
const envUpdateScreenshots = "DEVARCH_UPDATE_SCREENSHOTS"

// pageProbe runs before any script of every document: it records uncaught
// errors and Content-Security-Policy violations, which the test checks at
// the end (a violation means the dashboard broke its own CSP).
const pageProbe = `(() => {
  window.__e2e = { errors: [], csp: [] };
  addEventListener('error', (e) => window.__e2e.errors.push(String(e.message || e)));
  addEventListener('unhandledrejection', (e) => window.__e2e.errors.push('unhandled rejection: ' + String(e.reason && (e.reason.stack || e.reason.message) || e.reason)));
  document.addEventListener('securitypolicyviolation', (e) => window.__e2e.csp.push(e.violatedDirective + ' blocked ' + e.blockedURI));
})();`

// dashboardPage is one browser tab showing the dashboard at base.
type dashboardPage struct {
	t    *testing.T
	ctx  context.Context
	base string // "http://127.0.0.1:PORT/" (with the trailing slash)
	// real says the page shows a real `serve`: its screenshots replace the
	// fake backend's (see realScreenshots).
	real bool
}

// openDashboard opens a new tab at base (the dashboard's URL, ending in /)
// with a 1280×900 viewport, showing the stacks page.
func openDashboard(t *testing.T, browser context.Context, base string) *dashboardPage {
	t.Helper()
	tab, cancelTab := chromedp.NewContext(browser)
	ctx, cancel := context.WithTimeout(tab, 3*time.Minute)
	d := &dashboardPage{t: t, ctx: ctx, base: base}
	// Requests the browser could not complete explain most flaky failures:
	// they are collected here and logged when the test ends.
	var (
		mu     sync.Mutex
		failed []string
		done   = make(chan struct{})
	)
	t.Cleanup(func() {
		d.assertNoPageErrors()
		cancel()
		cancelTab()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		mu.Lock()
		defer mu.Unlock()
		for _, f := range failed {
			t.Logf("browser request failed: %s", f)
		}
	})
	d.do("prepare the tab", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: pageProbe})
		return err
	}), chromedp.EmulateViewport(1280, 900))
	events := chromedp.Events(ctx, network.LoadingFailed)
	go func() {
		defer close(done)
		for ev, err := range events {
			if err != nil {
				return
			}
			if !ev.Canceled {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("%s (%s)", ev.ErrorText, ev.Type))
				mu.Unlock()
			}
		}
	}()
	d.do("load the dashboard", chromedp.Navigate(base+"#/stacks"))
	d.waitReady()
	return d
}

// waitReady waits until app.js has started. A browser request can fail for
// reasons outside the dashboard (Chromium aborts requests when the host's
// network configuration changes, as when Docker creates a network), so one
// failed start is retried with a reload.
func (d *dashboardPage) waitReady() {
	d.t.Helper()
	const ready = `document.documentElement.dataset.ready === 'true'`
	_, err := chromedp.Run(d.ctx, chromedp.Poll[chromedp.Void](ready,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	if err == nil {
		return
	}
	d.t.Logf("the dashboard did not start (%v); reloading once", err)
	d.reload()
	d.waitFor("the dashboard to start", ready, 10*time.Second)
}

// in returns the page for a subtest: failures are reported on t.
func (d *dashboardPage) in(t *testing.T) *dashboardPage {
	c := *d
	c.t = t
	return &c
}

// do runs actions; a failure ends the test, naming the step.
func (d *dashboardPage) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	if err := chromedp.Do(d.ctx, actions...); err != nil {
		d.t.Fatalf("%s: %v\npage text:\n%s", step, err, d.pageText())
	}
}

// pageText is the visible text of the page, for failure messages.
func (d *dashboardPage) pageText() string {
	ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ''`))
	if err != nil {
		return "(unavailable: " + err.Error() + ")"
	}
	return s
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](d *dashboardPage, expr string) T {
	d.t.Helper()
	v, err := chromedp.Run(d.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		d.t.Fatalf("evaluate %.120q: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition every 50 ms until it is truthy and
// returns how long that took; after timeout the test fails, naming what.
func (d *dashboardPage) waitFor(what, cond string, timeout time.Duration) time.Duration {
	d.t.Helper()
	start := time.Now()
	_, err := chromedp.Run(d.ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		d.t.Fatalf("wait %s for %s: %v\npage text:\n%s", timeout, what, err, d.pageText())
	}
	return time.Since(start)
}

// js quotes a Go string as a JavaScript string literal.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// visible is a JavaScript condition: the selector matches a rendered element.
func visible(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.getClientRects().length > 0; })()`, js(sel))
}

// click waits for an element to be visible and clicks it with the mouse.
func (d *dashboardPage) click(sel string) {
	d.t.Helper()
	d.waitFor(sel+" to be visible", visible(sel), 10*time.Second)
	d.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// route switches the dashboard's hash route ("#/stacks/shop/deploy").
func (d *dashboardPage) route(hash string) {
	d.t.Helper()
	eval[chromedp.Void](d, fmt.Sprintf(`void (location.hash = %s)`, js(hash)))
}

// reload reloads the page (the session's token survives in sessionStorage).
func (d *dashboardPage) reload() {
	d.t.Helper()
	d.do("reload", chromedp.Reload())
}

// reloadReady reloads and waits for the dashboard to start again.
func (d *dashboardPage) reloadReady() {
	d.t.Helper()
	d.reload()
	d.waitReady()
}

// setViewport emulates a window width × height CSS pixels.
func (d *dashboardPage) setViewport(width, height int64) {
	d.t.Helper()
	d.do("set the viewport", chromedp.EmulateViewport(width, height))
}

// pressKey sends one key (see package kb) to the focused element.
func (d *dashboardPage) pressKey(key string) {
	d.t.Helper()
	d.do("press a key", chromedp.KeyEvent(key))
}

// focus moves keyboard focus to an element.
func (d *dashboardPage) focus(sel string) {
	d.t.Helper()
	d.do("focus "+sel, chromedp.Focus(chromedp.CSS(sel)))
}

// screenshot saves a full-page PNG as docs/screenshots/name when
// DEVARCH_UPDATE_SCREENSHOTS=1, else in the test's temporary directory. A
// fake-backend page does not overwrite a screenshot the real-backend suite
// takes when that suite can run.
func (d *dashboardPage) screenshot(name string) string {
	d.t.Helper()
	// Move the mouse out of the way so no hover style shows.
	d.do("move the mouse away", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 0, 0))
	png, err := chromedp.Run(d.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		d.t.Fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		d.t.Fatalf("screenshot %s: not a plausible PNG (%d bytes)", name, len(png))
	}
	dir := d.t.TempDir()
	if os.Getenv(envUpdateScreenshots) == "1" {
		if d.real || !realScreenshots[name] || !realBackendConfigured() {
			dir = filepath.Join("..", "docs", "screenshots")
		} else {
			d.t.Logf("docs/screenshots/%s is left to the real-backend suite", name)
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		d.t.Fatalf("save screenshot: %v", err)
	}
	d.t.Logf("screenshot %s", path)
	return path
}

// assertNoPageErrors fails the test on uncaught JavaScript errors and CSP
// violations recorded by pageProbe.
func (d *dashboardPage) assertNoPageErrors() {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
	defer cancel()
	type probe struct {
		Errors []string `json:"errors"`
		CSP    []string `json:"csp"`
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[*probe](`window.__e2e || null`))
	if err != nil || got == nil {
		return // the tab is gone or never loaded; the test failed already
	}
	for _, e := range got.Errors {
		d.t.Errorf("uncaught error in the page: %s", e)
	}
	for _, c := range got.CSP {
		d.t.Errorf("Content-Security-Policy violation: %s", c)
	}
}

// scrollWidth is document.documentElement.scrollWidth: wider than the
// viewport means horizontal scrolling.
func (d *dashboardPage) scrollWidth() int {
	d.t.Helper()
	return eval[int](d, `document.documentElement.scrollWidth`)
}
