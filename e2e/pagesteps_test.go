package e2e

import (
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Page-level steps: reading and working the stacks page, the stack tabs,
// the plan, an apply's progress and outcome, the history and the token
// form. Like steps_test.go they know only the DOM, never a backend.

// --- stacks page ---

type stackRow struct {
	Name      string `json:"name"`
	Condition string `json:"condition"` // data-condition: InSync, Drifted, ...
	Label     string `json:"label"`     // the status badge's text label
	Glyph     string `json:"glyph"`
	Counts    string `json:"counts"`
	Message   string `json:"message"`
	Reconcile string `json:"reconcile"`
	TimeTitle string `json:"timeTitle"` // absolute time in the title attribute
}

// openStacks shows the stacks page and waits for the first poll.
func (d *dashboardPage) openStacks() []stackRow {
	d.t.Helper()
	d.route("#/stacks")
	d.waitFor("the stacks list", `document.querySelectorAll('tr.stack-row').length > 0 || (document.querySelector('.page-stacks .empty') && !document.querySelector('.page-stacks .empty').hidden)`, 10*time.Second)
	return d.stackRows()
}

func (d *dashboardPage) stackRows() []stackRow {
	d.t.Helper()
	return eval[[]stackRow](d, `[...document.querySelectorAll('tr.stack-row')].map((r) => ({
		name: r.dataset.stack,
		condition: r.dataset.condition,
		label: r.querySelector('.badge-condition').dataset.label,
		glyph: r.querySelector('.badge-condition .glyph').textContent,
		counts: r.querySelector('.cell-changes').textContent,
		message: r.querySelector('.status-message')?.textContent || '',
		reconcile: r.querySelector('.cell-reconciled').textContent,
		timeTitle: r.querySelector('.cell-reconciled time')?.title || '',
	}))`)
}

// waitStackLabel waits until the stack's row shows the status label and
// returns how long it took.
func (d *dashboardPage) waitStackLabel(stack, label string, timeout time.Duration) time.Duration {
	d.t.Helper()
	return d.waitFor(fmt.Sprintf("stack %s to show %q", stack, label), fmt.Sprintf(
		`[...document.querySelectorAll('tr.stack-row')].some((r) => r.dataset.stack === %s && r.querySelector('.badge-condition').dataset.label === %s)`,
		js(stack), js(label)), timeout)
}

// --- stack page ---

// openStack shows a stack's tab: instances, deploy or history.
func (d *dashboardPage) openStack(stack, tab string) {
	d.t.Helper()
	d.route("#/stacks/" + stack + "/" + tab)
	d.waitFor(tab+" tab", fmt.Sprintf(`document.querySelector('#tab-%s')?.getAttribute('aria-selected') === 'true'`, tab), 10*time.Second)
	// The header (status, facts, lifecycle buttons) fills in at the
	// stacks poller's first answer and moves the tab panel down: a click
	// aimed before that lands where the button used to be.
	d.waitFor("the stack header", `!!document.querySelector('.page-stack .stack-status .badge-condition') || document.querySelector('.page-stack .stack-missing')?.hidden === false`, 10*time.Second)
}

type planField struct {
	Path      string `json:"path"`
	Text      string `json:"text"`
	Source    string `json:"source"`
	Sensitive bool   `json:"sensitive"`
	Visible   bool   `json:"visible"`
}

type planCard struct {
	Action   string      `json:"action"`
	Instance string      `json:"instance"`
	Glyph    string      `json:"glyph"`
	Label    string      `json:"label"`
	Border   string      `json:"border"`   // computed left border colour
	Expanded string      `json:"expanded"` // the disclosure's aria-expanded, "" without fields
	Text     string      `json:"text"`
	Fields   []planField `json:"fields"`
}

type renderedPlan struct {
	Summary      string     `json:"summary"`
	Empty        string     `json:"empty"`
	Cards        []planCard `json:"cards"`
	Notices      []string   `json:"notices"`
	ApplyVisible bool       `json:"applyVisible"`
}

// textOf is a JavaScript function: an element's text without the parts
// matching drop (screen-reader-only text, glyphs, badges).
const textOf = `((el, drop) => { if (!el) return ''; const c = el.cloneNode(true); c.querySelectorAll(drop).forEach((x) => x.remove()); return c.textContent.trim(); })`

const readPlanJS = `((textOf, root) => root ? ({
	summary: root.querySelector('.plan-summary')?.textContent || '',
	empty: root.querySelector('.plan-empty')?.textContent || '',
	applyVisible: !!document.querySelector('#apply-plan') && document.querySelector('#apply-plan').getClientRects().length > 0,
	notices: [...root.querySelectorAll('.plan-notices li')].map((n) => textOf(n, '.glyph')),
	cards: [...root.querySelectorAll('.change')].map((c) => ({
		action: c.dataset.action, instance: c.dataset.instance,
		glyph: c.querySelector('.change-glyph').textContent, label: c.querySelector('.change-action').textContent,
		border: getComputedStyle(c).borderLeftColor,
		expanded: c.querySelector('.disclosure')?.getAttribute('aria-expanded') || '',
		text: c.textContent,
		fields: [...c.querySelectorAll('.field')].map((f) => ({
			path: f.dataset.path, text: textOf(f.querySelector('dd'), '.sr-only, .source, .field-reason'), source: f.querySelector('.source')?.textContent || '',
			sensitive: f.dataset.sensitive === 'true', visible: f.getClientRects().length > 0 || f.querySelector('dd').getClientRects().length > 0,
		})),
	})),
}) : null)(` + textOf + `, document.querySelector('#panel-deploy .plan-box .plan'))`

// generatePlan clicks "Generate Plan" on the Deploy tab and returns the
// plan as rendered.
func (d *dashboardPage) generatePlan() renderedPlan {
	d.t.Helper()
	d.click("#generate-plan")
	d.waitFor("the plan", `!!document.querySelector('#panel-deploy .plan-box .plan') && !document.querySelector('#generate-plan').disabled`, 15*time.Second)
	return d.plan()
}

func (d *dashboardPage) plan() renderedPlan {
	d.t.Helper()
	return eval[renderedPlan](d, readPlanJS)
}

// expandChanges opens every collapsed change card of the Deploy tab by
// clicking its disclosure button.
func (d *dashboardPage) expandChanges() {
	d.t.Helper()
	n := eval[int](d, `document.querySelectorAll('#panel-deploy .change .disclosure').length`)
	for i := 1; i <= n; i++ {
		sel := fmt.Sprintf(`#panel-deploy .changes > li:nth-child(%d) .disclosure[aria-expanded="false"]`, i)
		if eval[bool](d, fmt.Sprintf(`!!document.querySelector(%s)`, js(sel))) {
			d.click(sel)
		}
	}
}

// apply clicks Apply.
func (d *dashboardPage) apply() {
	d.t.Helper()
	d.click("#apply-plan")
}

type progressRow struct {
	Container string `json:"container"`
	Status    string `json:"status"`
	Text      string `json:"text"`
}

// waitProgress waits until the progress list satisfies cond (a JavaScript
// predicate over rows [{container, status}]) and returns the rows.
func (d *dashboardPage) waitProgress(what, cond string, timeout time.Duration) []progressRow {
	d.t.Helper()
	rows := `[...document.querySelectorAll('#panel-deploy .progress-row')].map((r) => ({container: r.dataset.container, status: r.dataset.status, text: r.textContent}))`
	d.waitFor(what, fmt.Sprintf(`((rows) => (%s))(%s)`, cond, rows), timeout)
	return eval[[]progressRow](d, rows)
}

type applyResult struct {
	Tone          string `json:"tone"` // ok, warn, error
	Title         string `json:"title"`
	Message       string `json:"message"`
	ComposeOutput string `json:"composeOutput"`
	Regenerate    bool   `json:"regenerate"` // a "Regenerate plan" button is offered
	Note          string `json:"note"`       // the progress view's note (polling fallback)
	// Mismatches are "kind/field: text" of each difference the check
	// after the apply found.
	Mismatches []string `json:"mismatches"`
}

// waitResult waits for the Deploy tab's outcome and returns it.
func (d *dashboardPage) waitResult(timeout time.Duration) applyResult {
	d.t.Helper()
	d.waitFor("the apply's outcome", visible("#panel-deploy .result"), timeout)
	return eval[applyResult](d, `((textOf, r) => ({
		tone: ['ok', 'warn', 'error'].find((t) => r.classList.contains('result-' + t)) || '',
		title: textOf(r.querySelector('.result-title'), '.glyph'),
		message: r.querySelector('.result-message')?.textContent || '',
		composeOutput: r.querySelector('pre.compose-output')?.textContent || '',
		mismatches: [...r.querySelectorAll('.mismatch')].map((m) => m.dataset.kind + '/' + m.dataset.field + ': ' + m.textContent),
		regenerate: !!r.querySelector('button[data-action="regenerate"]'),
		note: document.querySelector('#panel-deploy .progress-note:not([hidden])')?.textContent || '',
	}))(`+textOf+`, document.querySelector('#panel-deploy .result'))`)
}

// regenerate clicks "Regenerate plan" in the outcome and waits for the plan.
func (d *dashboardPage) regenerate() renderedPlan {
	d.t.Helper()
	d.click(`#panel-deploy .result button[data-action="regenerate"]`)
	d.waitFor("the regenerated plan", `!document.querySelector('#panel-deploy .result') && !!document.querySelector('#panel-deploy .plan-box .plan') && !document.querySelector('#generate-plan').disabled`, 15*time.Second)
	return d.plan()
}

// --- history ---

type historyEntry struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	Label    string `json:"label"`
	Who      string `json:"who"`
	When     string `json:"when"`
	Duration string `json:"duration"`
	Message  string `json:"message"`
	Output   string `json:"output"`
	// Mismatches are "kind/field: text" of each difference listed.
	Mismatches []string `json:"mismatches"`
}

// history opens the History tab and returns its approvals, newest first,
// once at least min are listed.
func (d *dashboardPage) history(stack string, min int) []historyEntry {
	d.t.Helper()
	d.openStack(stack, "history")
	d.waitFor(fmt.Sprintf("%d approvals in the history", min), fmt.Sprintf(`document.querySelectorAll('#panel-history .approval').length >= %d`, min), 10*time.Second)
	return eval[[]historyEntry](d, `[...document.querySelectorAll('#panel-history .approval')].map((a) => ({
		id: a.dataset.approval, status: a.dataset.status,
		label: a.querySelector('.badge-approval').dataset.label,
		who: a.querySelector('.approval-who').textContent,
		when: a.querySelector('.approval-when').textContent,
		duration: a.querySelector('.approval-duration').textContent,
		message: a.querySelector('.approval-message')?.textContent || '',
		output: a.querySelector('.approval-output pre')?.textContent || '',
		mismatches: [...a.querySelectorAll('.mismatch')].map((m) => m.dataset.kind + '/' + m.dataset.field + ': ' + m.textContent),
	}))`)
}

// --- token ---

// enterToken waits for the token form, types the token and submits it.
func (d *dashboardPage) enterToken(token string) {
	d.t.Helper()
	d.waitFor("the token form", visible("#auth-token"), 10*time.Second)
	d.do("type the token", chromedp.SendKeys(chromedp.ID("auth-token"), token+kb.Enter))
}

// bodyText is the page's visible text.
func (d *dashboardPage) bodyText() string {
	d.t.Helper()
	return eval[string](d, `document.body.innerText`)
}

// contains reports whether the page's visible text contains s.
func (d *dashboardPage) contains(s string) bool {
	return strings.Contains(d.bodyText(), s)
}
