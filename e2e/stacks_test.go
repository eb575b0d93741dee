package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The stacks page, its live updates and the token prompt, against the fake API.

func TestStacksPage(t *testing.T) {
	f, d := openFake(t, nil)

	rows := d.openStacks()
	want := map[string]struct{ label, glyph string }{
		"shop":    {"Drifted", "≠"},
		"billing": {"Drifted", "≠"},
		"blog":    {"In sync", "✓"},
		"legacy":  {"Error", "✕"},
		"scratch": {"Not reconciled yet", "○"},
	}
	if len(rows) != len(want) {
		t.Fatalf("stacks page lists %d stacks, want %d: %+v", len(rows), len(want), rows)
	}
	for _, r := range rows {
		w := want[r.Name]
		if r.Label != w.label || r.Glyph != w.glyph {
			t.Errorf("stack %s: status %q with glyph %q, want %q with %q", r.Name, r.Label, r.Glyph, w.label, w.glyph)
		}
	}
	shop := rows[0]
	if shop.Name != "shop" || !strings.Contains(shop.Counts, "+1") || !strings.Contains(shop.Counts, "~1") || !strings.Contains(shop.Counts, "−1") {
		t.Errorf("first row %s shows counts %q, want shop with +1 ~1 −1", shop.Name, shop.Counts)
	}
	if !strings.HasSuffix(shop.Reconcile, " s ago") || shop.TimeTitle == "" {
		t.Errorf("shop's last reconcile shows %q (title %q), want a relative time with the absolute time in its title", shop.Reconcile, shop.TimeTitle)
	}
	if legacy := rows[3]; !strings.Contains(legacy.Message, "Check that dockerd is running") {
		t.Errorf("legacy's error message is %q, want the status message", legacy.Message)
	}
	d.screenshot("stacks.png")

	// The page follows the controller by itself.
	f.setDrift("blog", oneAdd("blog", "comments"))
	took := d.waitStackLabel("blog", "Drifted", within)
	t.Logf("blog showed Drifted %s after the change", took)
	f.setDrift("shop", nil)
	d.waitStackLabel("shop", "In sync", within)
	for _, r := range d.stackRows() {
		if r.Name == "shop" && r.Counts != "No changes" {
			t.Errorf("shop in sync shows counts %q, want %q", r.Counts, "No changes")
		}
	}
}

// TestFirstPassBanner: while the controller's first pass runs, every page
// says so (the statuses may be an earlier process's); the banner goes
// away by itself when the pass is done.
func TestFirstPassBanner(t *testing.T) {
	f, d := openFake(t, nil)
	f.setFirstPass(true)
	d.openStacks()
	const shown = `(() => { const el = document.getElementById('first-pass'); return !el.hidden && el.getBoundingClientRect().height > 0 && el.getAttribute('role') === 'status'; })()`
	d.waitFor("the first-pass banner", shown, within)
	if text := eval[string](d, `document.getElementById('first-pass').textContent`); !strings.Contains(text, "First pass in progress") {
		t.Errorf("banner says %q", text)
	}
	d.openStack("shop", "instances")
	d.waitFor("the banner on a stack's page", shown, within)
	f.setFirstPass(false)
	d.waitFor("the banner to go", `document.getElementById('first-pass').hidden`, within)
}

func TestPollingPausesWhileHidden(t *testing.T) {
	f, d := openFake(t, nil)
	d.openStacks()
	polls := func() int { return len(f.requests("GET /api/v1/stacks")) }

	setVisibility := func(state string) {
		eval[chromedp.Void](d, `void (Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => `+js(state)+`}),
			document.dispatchEvent(new Event('visibilitychange')))`)
	}
	setVisibility("hidden")
	time.Sleep(300 * time.Millisecond) // a poll already in flight may finish
	hidden := polls()
	time.Sleep(2500 * time.Millisecond)
	if n := polls() - hidden; n > 0 {
		t.Errorf("%d polls while the tab was hidden, want none", n)
	}
	f.setDrift("blog", oneAdd("blog", "comments"))
	setVisibility("visible")
	d.waitStackLabel("blog", "Drifted", within)
	if polls() == hidden {
		t.Error("polling did not resume when the tab became visible")
	}
}

func TestTokenRequired(t *testing.T) {
	const token = "s3cret-api-token"
	f, d := openFake(t, func(f *fakeAPI) { f.token = token })

	d.waitFor("the token form", visible("#auth-token"), 5*time.Second)
	if eval[bool](d, `!document.getElementById('main').hidden || document.querySelectorAll('tr.stack-row').length > 0`) {
		t.Error("the page shows content behind the token form")
	}
	if eval[string](d, `document.activeElement.id`) != "auth-token" {
		t.Error("the token field does not have the focus")
	}
	d.enterToken("wrong-token")
	d.waitFor("the rejection", `document.getElementById('auth-error').textContent.includes('not accepted')`, 5*time.Second)
	d.enterToken(token)
	rows := d.openStacks()
	if len(rows) != 5 {
		t.Fatalf("%d stacks after the token, want 5", len(rows))
	}
	if got := eval[string](d, `sessionStorage.getItem('devarch.token')`); got != token {
		t.Errorf("sessionStorage holds %q", got)
	}
	if eval[string](d, `localStorage.length + document.cookie`) != "0" {
		t.Error("the token leaked into localStorage or a cookie")
	}

	d.reloadReady()
	d.openStacks()
	if eval[bool](d, `!document.getElementById('auth').hidden`) {
		t.Error("the token form is shown again after a reload in the same tab")
	}

	// Streaming works with the token too (fetch, not EventSource).
	d.openStack("shop", "deploy")
	d.generatePlan()
	d.apply()
	if res := d.waitResult(10 * time.Second); res.Title != "Apply succeeded" || res.Note != "" {
		t.Errorf("outcome %+v, want success over the stream", res)
	}
	streams := f.requests("GET /api/v1/approvals/{id}/events")
	if len(streams) == 0 || streams[0].Get("Authorization") != "Bearer "+token || streams[0].Get("Accept") != "text/event-stream" {
		t.Errorf("event stream requests: %v", streams)
	}
	posts := f.requests("POST /api/v1/stacks/{name}/apply")
	if len(posts) != 1 || !strings.HasPrefix(posts[0].Get("Content-Type"), "application/json") || posts[0].Get("Cookie") != "" ||
		posts[0].Get("X-Devarch-User") != "dashboard" {
		t.Errorf("apply requests: %v", posts)
	}

	d.click("#forget-token")
	d.waitFor("the token form after Forget token", visible("#auth-token"), 5*time.Second)
}
