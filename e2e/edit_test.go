package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/api"
	"github.com/devarch/devarch-controller/api/dashboard"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/planner"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// editSecret is the stack's secret: the editor must never show it, and a
// save must keep it.
const editSecret = "edit-e2e-s3cret-value"

// serveEditBackend serves the dashboard and the real API over a migrated
// database of its own holding stack "shop" (instance db, template
// postgres). Plans are computed against no containers: the editor changes
// only the desired state, which needs no engine.
func serveEditBackend(t *testing.T) (*state.Store, string) {
	t.Helper()
	url := testenv.DatabaseURL(t)
	ctx := t.Context()
	dir := t.TempDir()
	if err := state.Migrate(ctx, url, state.WithInitialPaths(project.Options{StateDir: dir, WorkspaceDir: dir})); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	store, err := state.Open(ctx, url, "e2e-edit")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	tmpl := spec.Template{Name: "postgres", Spec: spec.ServiceSpec{Image: "postgres:16", Env: []spec.EnvVar{{Key: "POSTGRES_USER", Value: "app"}}}}
	if _, err := store.UpsertTemplate(ctx, tmpl, "digest-postgres"); err != nil {
		t.Fatal(err)
	}
	st := spec.Stack{Name: "shop", Enabled: true, Instances: []spec.Instance{{Name: "db", Enabled: true, Template: &spec.Template{Name: "postgres"},
		Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{Env: []spec.EnvVar{
			{Key: "POSTGRES_PASSWORD", Value: editSecret}, {Key: "POSTGRES_DB", Value: "shop"}}}}}}}
	if _, err := store.ImportStack(state.WithAuthor(ctx, "seed"), st); err != nil {
		t.Fatal(err)
	}
	plans := planner.New(store, noContainers{}, planner.Options{})
	h := api.New(api.Deps{Stacks: store, Statuses: store, Approvals: store, Installation: store, Planner: plans,
		Locks: lock.New(store.Pool(), nil), Notifications: store, Edits: store}, api.Options{})
	mux := http.NewServeMux()
	mux.Handle(api.Base+"/", h)
	mux.Handle("/", dashboard.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return store, srv.URL + "/"
}

// noContainers is an engine with nothing on it.
type noContainers struct{}

func (noContainers) Snapshot(context.Context) (deploy.Snapshot, error) { return deploy.Snapshot{}, nil }

// editorPreview is what the editor shows after Preview or Save.
type editorPreview struct {
	Heading string   `json:"heading"`
	Fields  []string `json:"fields"`
	Saved   string   `json:"saved"`
	Error   string   `json:"error"`
	Save    bool     `json:"saveEnabled"`
}

const readEditorJS = `(() => { const ed = document.querySelector('#panel-instances .instance[data-instance="db"] .instance-editor');
  const r = ed.querySelector('.edit-result');
  return { heading: r.querySelector('.edit-heading')?.textContent || '',
    fields: [...r.querySelectorAll('.field')].map((f) => f.dataset.path + ' ' + f.querySelector('dd').textContent.trim()),
    saved: r.querySelector('.edit-saved')?.textContent || '', error: r.querySelector('.edit-error')?.textContent || '',
    saveEnabled: !ed.querySelector('.edit-save').disabled }; })()`

func TestEditPreviewThenSave(t *testing.T) {
	t.Parallel()
	store, base := serveEditBackend(t)
	d := openDashboard(t, newBrowser(t), base)
	d.openStack("shop", "instances")
	db := `#panel-instances .instance[data-instance="db"]`
	d.waitFor("the instance", `!!document.querySelector('`+db+`')`, 10*time.Second)
	d.click(db + ` .edit-toggle`)
	d.waitFor("the editor", `!!document.querySelector('`+db+` .edit-form:not([hidden])') && document.querySelector('`+db+` .edit-image').getClientRects().length > 0`, 5*time.Second)
	env := eval[string](d, `document.querySelector('`+db+` .edit-env').value`)
	if !strings.Contains(env, "POSTGRES_PASSWORD=(sensitive)") || !strings.Contains(env, "POSTGRES_DB=shop") || strings.Contains(env, editSecret) {
		t.Fatalf("the editor's environment is %q, want the user's overrides with the secret masked", env)
	}
	// Accessible: every field has a label.
	if n := eval[int](d, `[...document.querySelectorAll('`+db+` .edit-form input, `+db+` .edit-form textarea')].filter((el) => !document.querySelector('label[for="' + el.id + '"]')).length`); n != 0 {
		t.Errorf("%d editor fields have no label", n)
	}

	eval[bool](d, `(() => { const i = document.querySelector('`+db+` .edit-image'); i.value = 'postgres:17'; i.dispatchEvent(new Event('input', { bubbles: true }));
	  const e = document.querySelector('`+db+` .edit-env'); e.value = e.value.replace('POSTGRES_DB=shop', 'POSTGRES_DB=orders'); e.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`)
	d.click(db + ` .edit-preview`)
	d.waitFor("the preview", `document.querySelectorAll('`+db+` .edit-result .field').length > 0`, 10*time.Second)
	p := eval[editorPreview](d, readEditorJS)
	if !strings.HasPrefix(p.Heading, "Preview") || !p.Save || len(p.Fields) != 2 ||
		!strings.Contains(p.Fields[0], "image") || !strings.Contains(p.Fields[0], "postgres:17") || !strings.Contains(p.Fields[1], "env.POSTGRES_DB") {
		t.Fatalf("preview %+v, want exactly image and env.POSTGRES_DB with Save enabled", p)
	}
	if n, err := store.StackRevision(t.Context(), "shop"); err != nil || n != 1 {
		t.Fatalf("the preview wrote: revision %d, %v", n, err)
	}
	d.screenshot("edit-preview.png")

	d.click(db + ` .edit-save`)
	d.waitFor("the save", `!!document.querySelector('`+db+` .edit-saved')`, 10*time.Second)
	p = eval[editorPreview](d, readEditorJS)
	if !strings.Contains(p.Saved, "Saved as revision 2") || !strings.Contains(p.Heading, "plan") {
		t.Errorf("after save: %+v", p)
	}
	st, err := store.Stack(t.Context(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	e := st.Instances[0].Effective
	if e.Image.Value != "postgres:17" {
		t.Errorf("saved image %q", e.Image.Value)
	}
	kept := false
	for _, v := range e.Env {
		kept = kept || (v.Key == "POSTGRES_PASSWORD" && v.Value == editSecret)
	}
	if !kept {
		t.Error("the save lost the stored secret")
	}
	revs, _ := store.Revisions(t.Context(), "shop")
	if len(revs) != 2 || revs[0].Author != "dashboard" || revs[0].Kind != state.RevisionEdit {
		t.Errorf("revisions %+v, want an edit by the dashboard", revs)
	}

	// Someone else changes the stack: the editor's next preview is refused
	// (412) and says what to do.
	o := st.Instances[0].Overrides
	o.Image = "postgres:15"
	if _, err := store.EditInstance(state.WithAuthor(t.Context(), "bob"), "shop", "db", o, state.EditOptions{}); err != nil {
		t.Fatal(err)
	}
	eval[bool](d, `(() => { const i = document.querySelector('`+db+` .edit-image'); i.value = 'postgres:18'; i.dispatchEvent(new Event('input', { bubbles: true })); return true; })()`)
	d.click(db + ` .edit-preview`)
	d.waitFor("the conflict", `!!document.querySelector('`+db+` .edit-error')`, 10*time.Second)
	p = eval[editorPreview](d, readEditorJS)
	if !strings.Contains(p.Error, "changed by someone else") || p.Save {
		t.Errorf("after a concurrent change: %+v, want the conflict and Save disabled", p)
	}

	// The History tab lists the revisions beside the approvals.
	d.openStack("shop", "history")
	d.waitFor("the revisions", `document.querySelectorAll('#panel-history .revision').length === 3`, 10*time.Second)
	kinds := eval[[]string](d, `[...document.querySelectorAll('#panel-history .revision')].map((r) => r.dataset.kind + ' ' + r.querySelector('.revision-who').textContent)`)
	if strings.Join(kinds, ",") != "edit by bob,edit by dashboard,import by seed" {
		t.Errorf("revisions shown: %v", kinds)
	}
	if strings.Contains(d.bodyText(), editSecret) {
		t.Error("the dashboard shows the secret")
	}
}
