package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/spec"
)

// testRealDelete deletes a deployed stack from the dashboard: the Delete
// button opens a dialog whose Delete stays disabled until the stack's
// exact name is typed; the stack then shows as deleting, its removal plan
// removes every container and its network, and once applied nothing
// labeled with the stack is left and the stack disappears.
func testRealDelete(t *testing.T, b *realBackend, browser context.Context) {
	name := b.newStackName("delete-")
	b.importStack(t, newStackFile(name, map[string]instanceFile{"web": demoWeb("Hello before the delete"), "cache": demoCache()}))
	b.deploy(t, name)
	id := b.stackID(t, name)

	d := openReal(t, browser, b)
	d.openStack(name, "instances")
	d.waitFor("Delete offered once the stack's status is known", `!document.querySelector('#delete-stack').disabled`, 10*time.Second)
	d.click("#delete-stack")
	d.waitFor("the delete dialog", `document.querySelector('#delete-dialog').open`, 5*time.Second)
	if !eval[bool](d, `document.querySelector('#delete-confirm').disabled`) {
		t.Error("Delete is enabled before the stack's name was typed")
	}
	d.do("type a wrong name", chromedp.SendKeys(chromedp.CSS("#delete-confirm-name"), name[:len(name)-1]))
	if !eval[bool](d, `document.querySelector('#delete-confirm').disabled`) {
		t.Error("Delete is enabled with a name that is not the stack's")
	}
	d.do("cancel", chromedp.Click(chromedp.CSS("#delete-cancel")))
	d.waitFor("the dialog closed", `!document.querySelector('#delete-dialog').open`, 5*time.Second)
	var live struct {
		Lifecycle string `json:"lifecycle"`
	}
	b.getJSON(t, "api/v1/stacks/"+name, &live)
	if live.Lifecycle != "active" {
		t.Fatalf("after a cancelled delete the stack is %q, want active", live.Lifecycle)
	}

	d.click("#delete-stack")
	d.waitFor("the delete dialog", `document.querySelector('#delete-dialog').open`, 5*time.Second)
	d.do("type the name", chromedp.SendKeys(chromedp.CSS("#delete-confirm-name"), name))
	d.waitFor("Delete enabled by the exact name", `!document.querySelector('#delete-confirm').disabled`, 5*time.Second)
	d.do("confirm", chromedp.Click(chromedp.CSS("#delete-confirm")))
	d.waitFor("the Deploy tab", `document.querySelector('#tab-deploy')?.getAttribute('aria-selected') === 'true'`, 10*time.Second)
	d.waitFor("the deleting note", `(document.querySelector('.lifecycle-note')?.textContent || '').includes('Deleting')`, 10*time.Second)

	d.openStacks()
	d.waitFor("the deleting tag", fmt.Sprintf(`document.querySelector('tr[data-stack=%s][data-lifecycle="deleting"] .tag-deleting')?.textContent === 'deleting'`, js(name)), 10*time.Second)

	d.openStack(name, "deploy")
	p := d.generatePlan()
	if len(p.Cards) != 2 {
		t.Fatalf("removal plan cards %+v, want the two containers", p.Cards)
	}
	for _, c := range p.Cards {
		if c.Action != "remove" || !strings.Contains(c.Text, "the stack is deleted") {
			t.Errorf("card %s %s, want a removal because the stack is deleted: %s", c.Action, c.Instance, c.Text)
		}
	}
	resources := eval[[]string](d, `[...document.querySelectorAll('#panel-deploy .resource')].map((r) => r.dataset.kind + ' ' + r.dataset.name + ' ' + r.dataset.action)`)
	wantNet := "network " + spec.Stack{Name: name}.Network() + " remove"
	if !strings.Contains(strings.Join(resources, "\n"), wantNet) {
		t.Errorf("removal plan resources %q, want %q", resources, wantNet)
	}
	d.apply()
	if res := d.waitResult(60 * time.Second); res.Tone != "ok" || !strings.Contains(res.Message, "2 removed") {
		t.Errorf("outcome %+v, want success removing 2 containers", res)
	}

	d.openStacks()
	d.waitFor("the removed stack gone from the list", fmt.Sprintf(`!document.querySelector('tr[data-stack=%s]')`, js(name)), 20*time.Second)
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+strconv.FormatInt(id, 10))
	cs, err := b.docker.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := b.docker.NetworkList(t.Context(), client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs.Items) != 0 || len(ns.Items) != 0 {
		t.Errorf("after the removal %d containers and %d networks still carry the stack's id", len(cs.Items), len(ns.Items))
	}
	d.assertNoSecret()
}
