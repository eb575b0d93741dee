package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp/kb"
)

// Keyboard use and narrow screens, against the fake API.

func TestKeyboard(t *testing.T) {
	_, d := openFake(t, nil)
	d.openStack("shop", "instances")
	d.focus("#tab-instances")

	selected := func() string {
		return eval[string](d, `document.querySelector('[role=tab][aria-selected=true]').id + ' ' + document.activeElement.id + ' ' + location.hash`)
	}
	for _, step := range []struct{ key, want string }{
		{kb.ArrowRight, "tab-deploy tab-deploy #/stacks/shop/deploy"},
		{kb.ArrowRight, "tab-history tab-history #/stacks/shop/history"},
		{kb.ArrowRight, "tab-compose tab-compose #/stacks/shop/compose"},
		{kb.ArrowRight, "tab-instances tab-instances #/stacks/shop/instances"},
		{kb.ArrowLeft, "tab-compose tab-compose #/stacks/shop/compose"},
		{kb.Home, "tab-instances tab-instances #/stacks/shop/instances"},
		{kb.End, "tab-compose tab-compose #/stacks/shop/compose"},
		{kb.ArrowLeft, "tab-history tab-history #/stacks/shop/history"},
		{kb.ArrowLeft, "tab-deploy tab-deploy #/stacks/shop/deploy"},
	} {
		d.pressKey(step.key)
		if got := selected(); got != step.want {
			t.Fatalf("after a key: selected, focused, hash = %q, want %q", got, step.want)
		}
	}
	if n := eval[int](d, `[...document.querySelectorAll('[role=tab]')].filter((t) => t.tabIndex === 0).length`); n != 1 {
		t.Errorf("%d tabs are in the tab order, want exactly 1 (roving tabindex)", n)
	}
	if outline := eval[string](d, `getComputedStyle(document.activeElement).outlineStyle`); outline == "none" {
		t.Error("the focused tab has no visible focus outline")
	}
	if !eval[bool](d, `!document.getElementById('panel-deploy').hidden && document.getElementById('panel-instances').hidden`) {
		t.Error("the Deploy panel is not the one shown")
	}

	// Tab from the tab list reaches the panel, then Generate Plan; Enter works it.
	d.pressKey(kb.Tab)
	d.pressKey(kb.Tab)
	if id := eval[string](d, `document.activeElement.id`); id != "generate-plan" {
		t.Fatalf("two Tabs after the tab list focus %q, want generate-plan", id)
	}
	d.pressKey(kb.Enter)
	d.waitFor("the plan after Enter", `!!document.querySelector('#panel-deploy .plan-summary')`, 5*time.Second)
	d.focus(`#panel-deploy .change-modify .disclosure`)
	d.pressKey(" ")
	if got := eval[string](d, `document.querySelector('#panel-deploy .change-modify .disclosure').getAttribute('aria-expanded')`); got != "true" {
		t.Errorf("Space on the disclosure: aria-expanded %q, want true", got)
	}
}

func TestNarrowViewport(t *testing.T) {
	_, d := openFake(t, nil)
	d.setViewport(390, 844)

	check := func(page string) {
		t.Helper()
		if w := d.scrollWidth(); w > 390 {
			t.Errorf("%s at 390 px: scrollWidth %d, want ≤ 390 (no horizontal scroll)", page, w)
		}
	}
	d.openStacks()
	check("stacks page")
	d.screenshot("stacks-390.png")
	d.openStack("shop", "instances")
	d.waitFor("the instances", `document.querySelectorAll('#panel-instances .instance').length === 3`, 5*time.Second)
	d.click(`#panel-instances .config-file .disclosure`)
	check("instances tab")
	d.openStack("shop", "deploy")
	d.generatePlan()
	d.expandChanges()
	check("deploy tab with the plan")
	d.screenshot("plan-390.png")
	d.apply()
	d.waitResult(10 * time.Second)
	check("deploy tab after the apply")
	d.history("shop", 1)
	d.click(`#panel-history .approval-plan > summary`)
	check("history tab")
	d.openStack("billing", "deploy")
	d.generatePlan()
	d.apply()
	d.waitResult(10 * time.Second)
	check("deploy tab with compose's output")
}
