package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/plan"
)

// The dashboard against the in-process fake API (fakeapi_test.go). The
// steps (steps_test.go, pagesteps_test.go) take only a base URL, so the same scenarios can
// run against a real `devarch-controller serve`.

// within is how fast the stacks page must reflect a change of state: it
// polls every second.
const within = 2 * time.Second

// openFake starts a browser and the fake API, lets setup (if any) change
// the fake's data before it serves, and opens the dashboard on it.
func openFake(t *testing.T, setup func(f *fakeAPI)) (*fakeAPI, *dashboardPage) {
	t.Helper()
	browser := newBrowser(t)
	f := newFakeAPI(t)
	if setup != nil {
		setup(f)
	}
	return f, openDashboard(t, browser, f.serve())
}

func TestDeployPlanApplySucceeds(t *testing.T) {
	f, d := openFake(t, nil)

	d.openStack("shop", "deploy")
	p := d.generatePlan()
	if p.Summary != "3 changes: 1 to add, 1 to modify, 1 to remove" {
		t.Errorf("summary %q", p.Summary)
	}
	if !p.ApplyVisible {
		t.Error("no Apply button under a plan with changes")
	}
	wantCards := []struct{ action, instance, glyph string }{{"modify", "db", "~"}, {"add", "edge", "+"}, {"remove", "worker", "−"}}
	if len(p.Cards) != len(wantCards) {
		t.Fatalf("%d change cards, want %d", len(p.Cards), len(wantCards))
	}
	borders := map[string]bool{}
	for i, w := range wantCards {
		c := p.Cards[i]
		if c.Action != w.action || c.Instance != w.instance || c.Glyph != w.glyph || c.Label != w.action {
			t.Errorf("card %d: %s %s %q %q, want %s %s %q", i, c.Action, c.Instance, c.Glyph, c.Label, w.action, w.instance, w.glyph)
		}
		borders[c.Border] = true
	}
	if len(borders) != 3 {
		t.Errorf("add, modify and remove cards share colours: %v", borders)
	}
	modify := p.Cards[0]
	if modify.Expanded != "false" || modify.Fields[0].Visible {
		t.Errorf("modify card starts expanded (aria-expanded %q)", modify.Expanded)
	}
	if p.Cards[2].Expanded != "" {
		t.Errorf("remove card without fields has a disclosure (aria-expanded %q)", p.Cards[2].Expanded)
	}

	d.expandChanges()
	p = d.plan()
	modify = p.Cards[0]
	if modify.Expanded != "true" {
		t.Fatalf("modify card after a click: aria-expanded %q, want true", modify.Expanded)
	}
	fields := map[string]planField{}
	for _, fc := range modify.Fields {
		if !fc.Visible {
			t.Errorf("field %s hidden in the expanded card", fc.Path)
		}
		fields[fc.Path] = fc
	}
	if img := fields["image"]; !strings.Contains(img.Text, "postgres:18.2 → postgres:17") || img.Source != "user" {
		t.Errorf("image field shows %q (source %q), want postgres:18.2 → postgres:17 from user", img.Text, img.Source)
	}
	if rt := fields["labels.com.example.owner"]; !strings.Contains(rt.Text, "team-a → (removed)") || rt.Source != "runtime" {
		t.Errorf("runtime field shows %q (source %q)", rt.Text, rt.Source)
	}
	for _, path := range []string{"env.POSTGRES_PASSWORD", "env.APP_KEY"} {
		s := fields[path]
		if !s.Sensitive || !strings.Contains(s.Text, "changed") || strings.Contains(s.Text, "sensitive") || strings.Contains(s.Text, "→") {
			t.Errorf("secret field %s shows %q, want only \"changed\"", path, s.Text)
		}
	}
	if add := p.Cards[1]; !strings.Contains(add.Fields[0].Text, "(not set) → traefik:v3.2") || add.Fields[0].Source != "template" {
		t.Errorf("add card's image field shows %q (source %q)", add.Fields[0].Text, add.Fields[0].Source)
	}
	d.screenshot("plan.png")

	release := f.gate("shop")
	defer release()
	d.apply()
	rows := d.waitProgress("one container done and one working",
		`rows.some((r) => r.status === 'done') && rows.some((r) => r.status === 'working')`, 10*time.Second)
	if rows[0].Container != "devarch-shop-db" || !strings.Contains(rows[0].Text, "Started") {
		t.Errorf("first progress row: %+v, want devarch-shop-db Started", rows[0])
	}
	d.waitFor("the Applying status in the header", `document.querySelector('.stack-status .badge-condition')?.dataset.label === 'Applying'`, within)
	d.screenshot("apply-progress.png")
	release()

	res := d.waitResult(10 * time.Second)
	if res.Tone != "ok" || res.Title != "Apply succeeded" || !strings.Contains(res.Message, "Applied 3 changes") {
		t.Errorf("outcome %+v, want success", res)
	}
	d.waitProgress("every container done", `rows.length === 3 && rows.every((r) => r.status === 'done')`, 5*time.Second)
	if d.plan().ApplyVisible {
		t.Error("Apply is still offered after the plan was applied")
	}

	d.openStacks()
	d.waitStackLabel("shop", "In sync", within)

	h := d.history("shop", 1)
	if h[0].Status != "succeeded" || h[0].Label != "Succeeded" || h[0].Who != "by dashboard" ||
		!strings.HasPrefix(h[0].Duration, "took ") || h[0].When == "" {
		t.Errorf("history entry %+v", h[0])
	}
	d.click(`#panel-history .approval-plan > summary`)
	n := eval[int](d, `document.querySelectorAll('#panel-history .approval-plan[open] .change').length`)
	if n != 3 {
		t.Errorf("the approved plan in the history shows %d cards, want 3", n)
	}
	d.screenshot("history.png")
}

func TestDeployApplyFails(t *testing.T) {
	_, d := openFake(t, nil)

	d.openStack("billing", "deploy")
	if p := d.generatePlan(); p.Summary != "2 changes: 1 to add, 1 to modify, 0 to remove" {
		t.Errorf("summary %q", p.Summary)
	}
	d.apply()
	res := d.waitResult(10 * time.Second)
	if res.Tone != "error" || res.Title != "Apply failed" || !strings.Contains(res.Message, "Read compose's output") {
		t.Errorf("outcome %+v, want a failure with the approval's message", res)
	}
	if res.ComposeOutput != fakeComposeOutput {
		t.Errorf("compose output %q, want %q", res.ComposeOutput, fakeComposeOutput)
	}
	rows := d.waitProgress("the failed container", `rows.some((r) => r.status === 'error')`, time.Second)
	if last := rows[len(rows)-1]; last.Container != "devarch-billing-api" || !strings.Contains(last.Text, "port is already allocated") {
		t.Errorf("last progress row %+v, want the api's error", last)
	}
	d.screenshot("apply-failure.png")

	h := d.history("billing", 1)
	if h[0].Label != "Failed" || h[0].Output != fakeComposeOutput {
		t.Errorf("history entry %+v, want Failed with compose's output", h[0])
	}
}

// TestAppliedWithDifferences: an apply that succeeded but whose check
// found the engine different from the plan is shown as a warning with each
// difference, in the Deploy tab and in the History.
func TestAppliedWithDifferences(t *testing.T) {
	f, d := openFake(t, nil)
	d.openStack("shop", "deploy")
	f.update("shop", func(s *fakeStack) {
		s.mismatches = []plan.Mismatch{{Kind: plan.MismatchNotApplied, Instance: "web", Field: "state",
			Detail: `state is "exited (0)" on the engine, the plan wanted "running"`}}
	})
	d.generatePlan()
	d.apply()
	res := d.waitResult(10 * time.Second)
	want := `not_applied/state: web state: state is "exited (0)" on the engine, the plan wanted "running"`
	if res.Tone != "warn" || res.Title != "Applied with differences" || !strings.Contains(res.Message, "Applied with differences: web: ") ||
		len(res.Mismatches) != 1 || res.Mismatches[0] != want {
		t.Errorf("outcome %+v, want a warning listing %q", res, want)
	}
	h := d.history("shop", 1)
	if h[0].Label != "Succeeded" || len(h[0].Mismatches) != 1 || h[0].Mismatches[0] != want {
		t.Errorf("history entry %+v, want Succeeded listing the difference", h[0])
	}
}

func TestStalePlan(t *testing.T) {
	f, d := openFake(t, nil)
	d.openStack("shop", "deploy")

	t.Run("refused by the API", func(t *testing.T) {
		d := d.in(t)
		before := d.generatePlan()
		f.edit("shop")
		d.waitFor("the stale-plan hint", visible("#panel-deploy .stale-hint"), within)
		d.apply()
		res := d.waitResult(5 * time.Second)
		if res.Title != "Plan is stale" || res.Message != "Plan is stale: the stack changed since the plan was generated. Generate a new plan." || !res.Regenerate {
			t.Errorf("outcome %+v, want the stale message and a Regenerate button", res)
		}
		after := d.regenerate()
		if after.Summary != before.Summary || !after.ApplyVisible {
			t.Errorf("regenerated plan %q (apply offered %v)", after.Summary, after.ApplyVisible)
		}
		if d.contains("The stack has changed since this plan") {
			t.Error("the stale hint stays after regenerating")
		}
	})
	t.Run("approval found stale", func(t *testing.T) {
		d := d.in(t)
		f.update("shop", func(s *fakeStack) { s.outcome = "stale" })
		d.generatePlan()
		d.apply()
		res := d.waitResult(5 * time.Second)
		if res.Title != "Plan is stale" || !res.Regenerate {
			t.Errorf("outcome %+v, want the stale message and a Regenerate button", res)
		}
	})
}

func TestLockHeld(t *testing.T) {
	f, d := openFake(t, nil)
	d.openStack("shop", "deploy")

	for _, tc := range []struct {
		name  string
		setup func(s *fakeStack)
	}{
		{"refused by the API", func(s *fakeStack) { s.locked = true }},
		{"approval in conflict", func(s *fakeStack) { s.locked, s.outcome = false, "conflict" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := d.in(t)
			f.update("shop", tc.setup)
			d.generatePlan()
			d.apply()
			res := d.waitResult(5 * time.Second)
			if res.Tone != "warn" || res.Title != "Stack is being applied by another session." {
				t.Errorf("outcome %+v, want the lock message", res)
			}
		})
	}
}

func TestUpToDate(t *testing.T) {
	_, d := openFake(t, nil)
	d.openStack("blog", "deploy")
	p := d.generatePlan()
	if p.Empty != "✓Stack is up to date — no changes needed" || len(p.Cards) != 0 || p.ApplyVisible || len(p.Notices) != 0 {
		t.Errorf("plan of a stack in sync: %+v", p)
	}
}

// TestPlanNotices: a stack in sync whose volume exists with other labels
// shows the notice (summary and sentence) above the up-to-date line.
func TestPlanNotices(t *testing.T) {
	const summary = "volume devarch-blog_data exists with other labels: kept"
	_, d := openFake(t, func(f *fakeAPI) {
		f.update("blog", func(s *fakeStack) {
			s.notices = []plan.Notice{{Kind: plan.NoticeVolume, Name: "devarch-blog_data", Condition: plan.NoticeOtherLabels,
				Action: plan.NoticeKeep, Instances: []string{"ghost"}, Summary: summary,
				Message: "Volume \"devarch-blog_data\" exists but was not created by compose for this stack; apply keeps its data."}}
		})
	})
	d.openStack("blog", "deploy")
	p := d.generatePlan()
	if p.Empty != "✓Stack is up to date — no changes needed" || p.ApplyVisible {
		t.Errorf("plan of a stack in sync with a notice: %+v", p)
	}
	if len(p.Notices) != 1 || !strings.HasPrefix(p.Notices[0], summary) || !strings.Contains(p.Notices[0], "apply keeps its data") {
		t.Errorf("notices shown: %q, want one starting with %q and carrying its sentence", p.Notices, summary)
	}
}

func TestStreamFallsBackToPolling(t *testing.T) {
	_, d := openFake(t, func(f *fakeAPI) { f.breakStreams = true })
	d.openStack("shop", "deploy")
	d.generatePlan()
	d.apply()
	res := d.waitResult(10 * time.Second)
	if res.Title != "Apply succeeded" || !strings.Contains(res.Note, "checking the approval every second") {
		t.Errorf("outcome %+v, want success found by polling", res)
	}
}

func TestInstancesTab(t *testing.T) {
	_, d := openFake(t, func(f *fakeAPI) { f.leakSecretValue = "leaked-by-a-buggy-api" })
	d.openStack("shop", "instances")
	d.waitFor("the instances", `document.querySelectorAll('#panel-instances .instance').length === 3`, 5*time.Second)

	type specRow struct {
		Key    string `json:"key"`
		Value  string `json:"value"`
		Source string `json:"source"`
	}
	rows := eval[[]specRow](d, `[...document.querySelectorAll('#panel-instances .instance[data-instance="db"] .spec-row')].map((r) => ({
		key: r.dataset.key, value: r.querySelector('dd').firstChild.textContent, source: r.querySelector('.source').textContent }))`)
	got := map[string]specRow{}
	for _, r := range rows {
		got[r.Key] = r
	}
	for key, want := range map[string]specRow{
		"image":         {Value: "postgres:17", Source: "user"},
		"restart":       {Value: "unless-stopped", Source: "template"},
		"POSTGRES_DB":   {Value: "shop_production", Source: "user"},
		"POSTGRES_USER": {Value: "shop", Source: "template"},
		"ports":         {Value: "127.0.0.1:5432->5432/tcp", Source: "template"},
		// container options: one row per leaf, each with its source
		"hostname":                 {Value: "db-1", Source: "user"},
		"shm_size":                 {Value: "256MiB", Source: "template"},
		"ulimits.nofile.soft":      {Value: "65536", Source: "template"},
		"logging.options.max-size": {Value: "10m", Source: "user"},
	} {
		if g := got[key]; g.Value != want.Value || g.Source != want.Source {
			t.Errorf("db %s: %q from %q, want %q from %q", key, g.Value, g.Source, want.Value, want.Source)
		}
	}
	for _, key := range []string{"APP_KEY", "POSTGRES_PASSWORD", "logging.options.auth-token"} {
		if g := got[key]; !strings.Contains(g.Value, "••••••") {
			t.Errorf("secret %s shows %q, want it masked", key, g.Value)
		}
	}
	d.click(`#panel-instances .config-file .disclosure`)
	text := d.bodyText()
	for _, secret := range []string{secretTemplatePassword, secretAppKey, secretLogToken, "leaked-by-a-buggy-api"} {
		if strings.Contains(text, secret) {
			t.Errorf("the Instances tab shows the secret %q", secret)
		}
	}
	if !strings.Contains(text, "address: \":80\"") {
		t.Error("the expanded config file's content is not shown")
	}
	d.screenshot("instances.png")
}
