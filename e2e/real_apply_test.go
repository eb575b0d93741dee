package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/spec"
)

// Real-backend scenarios of applies that do not simply succeed (stale
// plan, lock held, compose failure), a slow apply followed live, and the
// stacks page over every stack of the run.

// 4. The desired state changes after the plan was generated: Apply is
// refused as stale, and "Regenerate plan" shows the new plan.
func testRealStalePlan(t *testing.T, b *realBackend, browser context.Context) {
	name := b.newStackName("stale-")
	instances := map[string]instanceFile{"web": demoWeb("first message"), "cache": demoCache()}
	b.importStack(t, newStackFile(name, instances))
	d := openReal(t, browser, b)
	d.openStack(name, "deploy")
	before := d.generatePlan()
	oldToken := d.planToken()
	if before.Summary != "2 changes: 2 to add, 0 to modify, 0 to remove" {
		t.Errorf("summary %q", before.Summary)
	}

	instances["web"] = demoWeb("second message")
	b.importStack(t, newStackFile(name, instances))
	took := d.waitFor("the stale-plan hint", visible("#panel-deploy .stale-hint"), 5*time.Second)
	t.Logf("the Deploy tab warned of the stale plan %s after the re-import", took.Round(time.Millisecond))

	d.apply()
	res := d.waitResult(10 * time.Second)
	if res.Tone != "warn" || res.Title != "Plan is stale" || res.Message != "Plan is stale: the stack changed since the plan was generated. Generate a new plan." || !res.Regenerate {
		t.Errorf("outcome %+v, want the stale message and a Regenerate button", res)
	}
	if d.plan().ApplyVisible {
		t.Error("Apply is still offered for the stale plan")
	}
	var approvals struct {
		Approvals []struct{} `json:"approvals"`
	}
	b.getJSON(t, "api/v1/approvals?stack="+name, &approvals)
	if len(approvals.Approvals) != 0 {
		t.Errorf("%d approvals filed for a stale plan, want none", len(approvals.Approvals))
	}

	after := d.regenerate()
	if newToken := d.planToken(); newToken == "" || newToken == oldToken {
		t.Errorf("regenerated plan's token %q, want a new one (old %q)", newToken, oldToken)
	}
	if !after.ApplyVisible || after.Summary != before.Summary {
		t.Errorf("regenerated plan %q (apply offered %v)", after.Summary, after.ApplyVisible)
	}
	wantField(t, card(t, after, "web"), "env.SLEEPER_MESSAGE", "(not set) → second message", "user")
	if d.contains("The stack has changed since this plan") {
		t.Error("the stale hint stays after regenerating")
	}
}

// 5. Another session holds the stack's advisory lock: Apply says so; once
// it is released the same stack applies.
func testRealLockHeld(t *testing.T, b *realBackend, browser context.Context) {
	name := b.newStackName("locked-")
	b.importStack(t, newStackFile(name, map[string]instanceFile{"cache": demoCache()}))
	id := b.stackID(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := pgxpool.New(ctx, b.dbURL)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	defer pool.Close()
	lease, err := lock.New(pool, zap.NewNop()).TryLock(ctx, id)
	if err != nil {
		t.Fatalf("take the lock of stack %s: %v", name, err)
	}
	held := true
	defer func() {
		if held {
			_ = lease.Unlock(context.Background())
		}
	}()

	d := openReal(t, browser, b)
	d.openStack(name, "deploy")
	d.generatePlan()
	d.apply()
	res := d.waitResult(10 * time.Second)
	if res.Tone != "warn" || res.Title != "Stack is being applied by another session." || !res.Regenerate {
		t.Errorf("outcome %+v, want the lock message and a Regenerate button", res)
	}

	if err := lease.Unlock(ctx); err != nil {
		t.Fatalf("release the lock: %v", err)
	}
	held = false
	d.regenerate()
	d.apply()
	if res := d.waitResult(60 * time.Second); res.Title != "Apply succeeded" {
		t.Errorf("outcome after the lock was released: %+v, want success", res)
	}
}

// 6. Compose fails (an image that is not local, with --pull-policy never):
// the Deploy tab shows the failure with compose's error text.
func testRealApplyFailure(t *testing.T, b *realBackend, browser context.Context) {
	name := b.newStackName("broken-")
	missing := testenv.UniqueName("devarch-e2e/missing-") + ":1"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := b.docker.ImageInspect(ctx, missing); !cerrdefs.IsNotFound(err) {
		t.Fatalf("image %s must not exist for this test (inspect: %v)", missing, err)
	}
	web := demoWeb("never starts")
	web.Image = missing
	b.importStack(t, newStackFile(name, map[string]instanceFile{"web": web, "cache": demoCache()}))

	d := openReal(t, browser, b)
	d.openStack(name, "deploy")
	p := d.generatePlan()
	wantField(t, card(t, p, "web"), "image", "(not set) → "+missing, "user")
	d.apply()
	res := d.waitResult(60 * time.Second)
	noImage := "No such image: " + missing
	if res.Tone != "error" || res.Title != "Apply failed" || !strings.Contains(res.Message, "compose phase") || !strings.Contains(res.Message, noImage) {
		t.Errorf("outcome %+v, want the compose failure", res)
	}
	if !strings.Contains(res.ComposeOutput, noImage) {
		t.Errorf("compose output %q, want it to contain %q", res.ComposeOutput, noImage)
	}
	d.waitProgress("the failed service", fmt.Sprintf(`rows.some((r) => r.status === 'error' && r.text.includes(%s))`, js(noImage)), 5*time.Second)
	// Compose reports nothing more on the containers it was creating: their
	// rows must stop "working" once the apply has failed.
	d.waitProgress("no row still working", fmt.Sprintf(`rows.every((r) => r.status !== 'working') && rows.some((r) => %s(r) && (r.status === 'unfinished' || r.status === 'error'))`,
		containerRow(name, "web")), time.Second)
	// The controller plans the stack again after the failure: the header
	// leaves Applying (the cache container exists now, web does not).
	d.waitFor("the Drifted status in the header", `document.querySelector('.stack-status .badge-condition')?.dataset.label === 'Drifted'`, 3*time.Second)
	d.screenshot("apply-failure.png")

	h := d.history(name, 1)
	if h[0].Label != "Failed" || !strings.Contains(h[0].Output, noImage) {
		t.Errorf("history entry %+v, want Failed with compose's output", h[0])
	}
}

// 7. A slow apply (web waits for api's first healthcheck, 3 s) followed
// live: rows change while events arrive, in the order compose sent them.
func testRealApplyProgress(t *testing.T, b *realBackend, browser context.Context) {
	name := b.newStackName("progress-")
	api := demoAPI()
	api.Healthcheck = &healthcheckFile{Test: "CMD-SHELL wget --spider -q http://localhost:8080/", Interval: "3s", Timeout: "2s", Retries: 3}
	b.importStack(t, newStackFile(name, map[string]instanceFile{"web": {Template: "e2e-waiter"}, "api": api, "cache": demoCache()}))

	d := openReal(t, browser, b)
	d.openStack(name, "deploy")
	p := d.generatePlan()
	wantField(t, card(t, p, "web"), "depends_on", "(not set) → api (healthy)", "template")
	d.apply()
	waiting := fmt.Sprintf(`rows.some((r) => %s(r) && r.status === 'working' && r.text.includes('Waiting'))`, containerRow(name, "api"))
	d.waitProgress("api waiting to become healthy", waiting, 30*time.Second)
	if eval[bool](d, `!!document.querySelector('#panel-deploy .result')`) {
		t.Error("the outcome shows while compose still waits for api")
	}
	d.waitFor("the Applying status in the header", `document.querySelector('.stack-status .badge-condition')?.dataset.label === 'Applying'`, 2*time.Second)
	d.screenshot("apply-progress.png")
	if !eval[bool](d, fmt.Sprintf(`((rows) => (%s))([...document.querySelectorAll('#panel-deploy .progress-row')].map((r) => ({container: r.dataset.container, status: r.dataset.status, text: r.textContent})))`, waiting)) {
		t.Log("note: api became healthy before the screenshot was taken; apply-progress.png may show a later moment")
	}

	res := d.waitResult(60 * time.Second)
	if res.Title != "Apply succeeded" {
		t.Fatalf("outcome %+v, want success", res)
	}
	d.click(`#panel-deploy .progress > .disclosure`)
	log := eval[[]string](d, `[...document.querySelectorAll('#panel-deploy .event-log li')].map((li) => li.textContent)`)
	healthy := slices.IndexFunc(log, func(s string) bool { return strings.Contains(s, spec.ContainerName(name, "api")+" Healthy") })
	webStarted := slices.IndexFunc(log, func(s string) bool { return strings.Contains(s, spec.ContainerName(name, "web")+" Started") })
	if healthy < 0 || webStarted < 0 || healthy > webStarted {
		t.Errorf("event log: api Healthy at %d, web Started at %d, want api healthy first:\n%s", healthy, webStarted, strings.Join(log, "\n"))
	}
}

// 8. The stacks page over every stack of the run, for the screenshot.
func testRealStacksPage(t *testing.T, b *realBackend, browser context.Context) {
	name := b.newStackName("blog-")
	b.importStack(t, newStackFile(name, map[string]instanceFile{"web": demoWeb("Hello from the blog")}))
	b.mu.Lock()
	stacks := slices.Clone(b.stacks)
	b.mu.Unlock()

	d := openReal(t, browser, b)
	d.openStacks()
	d.waitFor("every stack planned and none applying", fmt.Sprintf(`((names) => { const rows = [...document.querySelectorAll('tr.stack-row')];
		return names.every((n) => rows.some((r) => r.dataset.stack === n)) && rows.every((r) => r.dataset.condition === 'InSync' || r.dataset.condition === 'Drifted'); })(%s)`, jsList(stacks)), 10*time.Second)
	rows := d.stackRows()
	if len(rows) != len(stacks) {
		t.Errorf("the stacks page lists %d stacks, want the run's %d", len(rows), len(stacks))
	}
	if !slices.IsSortedFunc(rows, func(a, b stackRow) int { return strings.Compare(a.Name, b.Name) }) {
		t.Error("stacks are not sorted by name")
	}
	for _, r := range rows {
		if (r.Reconcile != "just now" && !strings.HasSuffix(r.Reconcile, " ago")) || r.TimeTitle == "" {
			t.Errorf("stack %s: last reconcile %q (title %q), want a relative time with the absolute one in its title", r.Name, r.Reconcile, r.TimeTitle)
		}
	}
	if r := d.stackRow(name); r.Label != "Drifted" || !strings.Contains(r.Counts, "+1") {
		t.Errorf("the new stack %s shows %q %q, want Drifted with +1", name, r.Label, r.Counts)
	}
	// The engine a stack runs on: the default engine, without an engines
	// section, is "default".
	if got := eval[string](d, fmt.Sprintf(`document.querySelector('tr[data-stack=%s] .cell-engine')?.textContent ?? '(no cell)'`, js(name))); got != "default" {
		t.Errorf("the stacks page shows engine %q for %s, want default", got, name)
	}
	d.screenshot("stacks.png")
	d.openStack(name, "instances")
	d.waitFor("the stack's Engine fact", `[...document.querySelectorAll('.fact')].some((f) => f.querySelector('dt')?.textContent === 'Engine' && f.querySelector('dd')?.textContent === 'default')`, 10*time.Second)
}

// jsList quotes Go strings as a JavaScript array literal.
func jsList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = js(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
