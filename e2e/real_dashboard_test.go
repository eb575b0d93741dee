package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/spec"
)

// The dashboard against a real `devarch-controller serve` with PostgreSQL
// and Docker (real_env_test.go): one serve process, one browser, and one
// stack per scenario, run in order. Select one scenario with
// -run 'TestRealBackend/drift'.

func TestRealBackend(t *testing.T) {
	t.Parallel() // own database, serve, browser and stacks
	start := time.Now()
	b := startRealBackend(t) // skips (fails with DEVARCH_TEST_REQUIRE=1) without PostgreSQL or Docker
	browser := newBrowser(t)
	for _, sc := range []struct {
		name string
		run  func(t *testing.T, b *realBackend, browser context.Context)
	}{
		{"deploy", testRealDeploy},
		{"drift", testRealDrift},
		{"add_modify_remove", testRealAddModifyRemove},
		{"stale_plan", testRealStalePlan},
		{"lock_held", testRealLockHeld},
		{"apply_failure", testRealApplyFailure},
		{"apply_progress", testRealApplyProgress},
		{"stacks_page", testRealStacksPage},
		{"revert", testRealRevert},
		{"delete", testRealDelete},
	} {
		t.Run(sc.name, func(t *testing.T) {
			begin := time.Now()
			sc.run(t, b, browser)
			t.Logf("scenario %s took %s", sc.name, time.Since(begin).Round(time.Millisecond))
		})
	}
	t.Logf("real-backend suite took %s before cleanup", time.Since(start).Round(time.Millisecond))
}

// openReal opens the dashboard of the real backend in a new tab.
func openReal(t *testing.T, browser context.Context, b *realBackend) *dashboardPage {
	t.Helper()
	d := openDashboard(t, browser, b.base)
	d.real = true
	return d
}

// card returns the plan's card of an instance.
func card(t *testing.T, p renderedPlan, instance string) planCard {
	t.Helper()
	for _, c := range p.Cards {
		if c.Instance == instance {
			return c
		}
	}
	t.Fatalf("the plan has no card for instance %s: %+v", instance, p.Cards)
	return planCard{}
}

func fieldsByPath(c planCard) map[string]planField {
	m := map[string]planField{}
	for _, f := range c.Fields {
		m[f.Path] = f
	}
	return m
}

// wantField checks one field line: its "old → new" text and source badge.
func wantField(t *testing.T, c planCard, path, text, source string) {
	t.Helper()
	f, ok := fieldsByPath(c)[path]
	if !ok {
		t.Errorf("%s card of %s has no field %s", c.Action, c.Instance, path)
		return
	}
	if f.Text != text || f.Source != source {
		t.Errorf("%s card of %s, field %s: %q from %q, want %q from %q", c.Action, c.Instance, path, f.Text, f.Source, text, source)
	}
}

// assertNoSecret fails when the page (text, attributes, hidden parts)
// contains the stacks' secret value.
func (d *dashboardPage) assertNoSecret() {
	d.t.Helper()
	if strings.Contains(eval[string](d, `document.documentElement.outerHTML`), realSecret) {
		d.t.Error("the page contains the secret value of API_TOKEN")
	}
}

// planToken is the token of the plan the Deploy tab shows.
func (d *dashboardPage) planToken() string {
	d.t.Helper()
	return eval[string](d, `document.querySelector('#panel-deploy .plan-meta code')?.title || ''`)
}

// stackRow returns the stacks page's row of a stack.
func (d *dashboardPage) stackRow(name string) stackRow {
	d.t.Helper()
	for _, r := range d.stackRows() {
		if r.Name == name {
			return r
		}
	}
	d.t.Fatalf("the stacks page has no row for %s", name)
	return stackRow{}
}

// containerRow is a JavaScript predicate over a progress row: the row of
// the stack's instance (compose names rows "Container devarch-S-I").
func containerRow(stack, instance string) string {
	return fmt.Sprintf(`((r) => r.container.endsWith(%s))`, js(spec.ContainerName(stack, instance)))
}

// 1. Generate a plan of a new stack, apply it from the dashboard and follow
// the apply live to success; the stacks page then shows the stack in sync.
func testRealDeploy(t *testing.T, b *realBackend, browser context.Context) {
	name := b.newStackName("deploy-")
	web := demoWeb("Hello from the e2e deploy")
	web.Dependencies = []string{"api"}
	b.importStack(t, newStackFile(name, map[string]instanceFile{"web": web, "api": demoAPI(), "cache": demoCache()}))
	d := openReal(t, browser, b)
	d.openStacks()
	d.waitStackLabel(name, "Drifted", 5*time.Second)
	if c := d.stackRow(name).Counts; !strings.Contains(c, "+3") || !strings.Contains(c, "~0") || !strings.Contains(c, "−0") {
		t.Errorf("the new stack's counts are %q, want +3 ~0 −0", c)
	}

	d.openStack(name, "deploy")
	checkNewStackPlan(t, d, name)
	d.expandChanges()
	d.assertNoSecret()

	d.apply()
	// Progress rows come from the event stream while the apply runs: the
	// first shows before the outcome does.
	d.waitFor("live progress before the outcome", `document.querySelectorAll('#panel-deploy .progress-row').length > 0 && !document.querySelector('#panel-deploy .result')`, 15*time.Second)
	res := d.waitResult(60 * time.Second)
	if res.Tone != "ok" || res.Title != "Apply succeeded" || !strings.Contains(res.Message, "Applied: 3 created") || res.Note != "" {
		t.Errorf("outcome %+v, want success followed over the stream", res)
	}
	for _, inst := range []string{"api", "cache", "web"} {
		d.waitProgress(inst+"'s container done", fmt.Sprintf(`rows.some((r) => %s(r) && r.status === 'done' && r.text.includes('Started'))`, containerRow(name, inst)), 5*time.Second)
	}
	d.waitProgress("every row done", `rows.length >= 5 && rows.every((r) => r.status === 'done')`, 5*time.Second)
	if d.plan().ApplyVisible {
		t.Error("Apply is still offered after the plan was applied")
	}

	d.openStacks()
	took := d.waitStackLabel(name, "In sync", 5*time.Second)
	t.Logf("the stacks page showed %s in sync %s after opening it", name, took.Round(time.Millisecond))
	if c := d.stackRow(name).Counts; c != "No changes" {
		t.Errorf("counts of the stack in sync: %q, want \"No changes\"", c)
	}
	h := d.history(name, 1)
	if h[0].Status != "succeeded" || h[0].Who != "by dashboard" || !strings.HasPrefix(h[0].Duration, "took ") {
		t.Errorf("history entry %+v, want succeeded, requested by the dashboard", h[0])
	}
	d.openStack(name, "instances")
	d.waitFor("the instances", `document.querySelectorAll('#panel-instances .instance').length === 3`, 5*time.Second)
	d.assertNoSecret()
}

// checkNewStackPlan generates the plan of the deploy scenario's new stack
// and checks its summary and its three add cards field by field.
func checkNewStackPlan(t *testing.T, d *dashboardPage, name string) {
	t.Helper()
	p := d.generatePlan()
	if p.Summary != "3 changes: 3 to add, 0 to modify, 0 to remove" {
		t.Errorf("summary %q", p.Summary)
	}
	if !p.ApplyVisible || eval[string](d, `document.querySelector('#apply-plan').textContent`) != "Apply 3 changes" {
		t.Error("no \"Apply 3 changes\" button under the plan")
	}
	if len(p.Cards) != 3 {
		t.Fatalf("%d change cards, want 3: %+v", len(p.Cards), p.Cards)
	}
	for _, c := range p.Cards {
		if c.Action != "add" || c.Glyph != "+" || c.Label != "add" || c.Expanded != "false" {
			t.Errorf("card %s: %s %q %q expanded %q, want a collapsed + add card", c.Instance, c.Action, c.Glyph, c.Label, c.Expanded)
		}
		if !strings.Contains(c.Text, spec.ContainerName(name, c.Instance)+": no container exists; apply creates it") {
			t.Errorf("card %s does not name its container and reason: %q", c.Instance, c.Text)
		}
		wantField(t, c, "image", "(not set) → devarch-demo/"+c.Instance+":1", "template")
	}
	api, webCard, cache := card(t, p, "api"), card(t, p, "web"), card(t, p, "cache")
	wantField(t, api, "ports", "(not set) → 127.0.0.1:0->8080/tcp", "user")
	wantField(t, api, "env.LOG_LEVEL", "(not set) → info", "template")
	wantField(t, api, "volumes", "(not set) → api_data:/data", "template")
	if s := fieldsByPath(api)["env.API_TOKEN"]; !s.Sensitive || s.Text != "changed secret" || s.Source != "user" {
		t.Errorf("secret field env.API_TOKEN shows %q from %q (sensitive %v), want only \"changed\"", s.Text, s.Source, s.Sensitive)
	}
	wantField(t, webCard, "env.SLEEPER_MESSAGE", "(not set) → Hello from the e2e deploy", "user")
	wantField(t, webCard, "depends_on", "(not set) → api", "user")
	if f := fieldsByPath(webCard)["config_files.site.conf"]; !strings.HasPrefix(f.Text, "(not set) → /etc/demo/site.conf mode 0644") || f.Source != "template" {
		t.Errorf("web's config file field shows %q from %q", f.Text, f.Source)
	}
	wantField(t, cache, "command", "(not set) → cache-server --maxmemory 64mb", "template")
}

// 2. A container stopped behind the controller's back: the stacks page
// shows the stack drifted by itself, and the plan says why (source runtime).
func testRealDrift(t *testing.T, b *realBackend, browser context.Context) {
	name := b.newStackName("drift-")
	b.importStack(t, newStackFile(name, map[string]instanceFile{"web": demoWeb("Hello from the e2e drift"), "cache": demoCache()}))
	b.deploy(t, name)
	d := openReal(t, browser, b)
	d.openStacks()
	d.waitStackLabel(name, "In sync", 5*time.Second)
	eval[bool](d, `window.__e2eSamePage = true`)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.docker.ContainerStop(ctx, spec.ContainerName(name, "cache"), client.ContainerStopOptions{}); err != nil {
		t.Fatalf("docker stop: %v", err)
	}
	stopped := time.Now()
	d.waitStackLabel(name, "Drifted", 5*time.Second)
	latency := time.Since(stopped)
	t.Logf("the stacks page showed %s drifted %s after docker stop returned", name, latency.Round(time.Millisecond))
	if latency > within {
		t.Errorf("drift showed after %s, want within %s", latency.Round(time.Millisecond), within)
	}
	if !eval[bool](d, `window.__e2eSamePage === true`) {
		t.Error("the page was reloaded; drift must show by itself")
	}
	if c := d.stackRow(name).Counts; !strings.Contains(c, "+0") || !strings.Contains(c, "~1") {
		t.Errorf("drifted stack's counts %q, want ~1", c)
	}

	d.openStack(name, "deploy")
	p := d.generatePlan()
	if p.Summary != "1 change: 0 to add, 1 to modify, 0 to remove" || len(p.Cards) != 1 {
		t.Fatalf("plan of the drifted stack: %q with %d cards, want one modify", p.Summary, len(p.Cards))
	}
	c := p.Cards[0]
	if c.Action != "modify" || c.Instance != "cache" || c.Glyph != "~" || !strings.Contains(c.Text, "in place") || !strings.Contains(c.Text, "start: container is exited") {
		t.Errorf("card %+v, want an in-place modify of cache", c)
	}
	wantField(t, c, "state", "exited (0) → running", "runtime")
	d.expandChanges()
	if f := d.plan().Cards[0].Fields[0]; !f.Visible {
		t.Error("the state field is hidden after expanding the card")
	}
}

// 3. One plan with an add, a modify and a remove: a re-import adds an
// instance, drops one and changes an env var of a kept one.
func testRealAddModifyRemove(t *testing.T, b *realBackend, browser context.Context) {
	name := b.newStackName("shop-")
	instances := map[string]instanceFile{"web": demoWeb("Welcome to the shop"), "api": demoAPI(), "cache": demoCache()}
	b.importStack(t, newStackFile(name, instances))
	b.deploy(t, name)
	delete(instances, "cache")
	instances["queue"] = demoCache()
	instances["web"] = demoWeb("Welcome to the new shop")
	out := b.importStack(t, newStackFile(name, instances))
	for _, want := range []string{"instance cache", "deleted", "instance queue", "created", "instance web", "updated"} {
		if !strings.Contains(out, want) {
			t.Fatalf("re-import output lacks %q:\n%s", want, out)
		}
	}

	d := openReal(t, browser, b)
	d.openStack(name, "deploy")
	p := d.generatePlan()
	if p.Summary != "3 changes: 1 to add, 1 to modify, 1 to remove" || len(p.Cards) != 3 {
		t.Fatalf("plan %q with %d cards, want one add, one modify, one remove", p.Summary, len(p.Cards))
	}
	// Light colour scheme: --ok, --warn, --error of app.css.
	for _, w := range []struct{ instance, action, glyph, border string }{
		{"queue", "add", "+", "rgb(26, 127, 55)"},
		{"web", "modify", "~", "rgb(154, 103, 0)"},
		{"cache", "remove", "−", "rgb(207, 34, 46)"},
	} {
		c := card(t, p, w.instance)
		if c.Action != w.action || c.Glyph != w.glyph || c.Border != w.border {
			t.Errorf("card %s: %s %q border %s, want %s %q border %s", w.instance, c.Action, c.Glyph, c.Border, w.action, w.glyph, w.border)
		}
	}
	if rm := card(t, p, "cache"); rm.Expanded != "" || !strings.Contains(rm.Text, "its instance no longer exists") {
		t.Errorf("remove card %+v, want no fields and the reason", rm)
	}

	d.click(`#panel-deploy .change-modify .disclosure`)
	mod := card(t, d.plan(), "web")
	if mod.Expanded != "true" || !strings.Contains(mod.Text, "recreate") {
		t.Errorf("modify card after a click: aria-expanded %q, text %q", mod.Expanded, mod.Text)
	}
	if len(mod.Fields) != 1 || !mod.Fields[0].Visible {
		t.Errorf("modify card shows fields %+v, want only the changed env var, visible", mod.Fields)
	}
	wantField(t, mod, "env.SLEEPER_MESSAGE", "Welcome to the shop → Welcome to the new shop", "user")
	d.expandChanges()
	d.assertNoSecret()
	d.screenshot("plan.png")
}
