package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/api"
	"github.com/devarch/devarch-controller/api/dashboard"
	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/state"
	"github.com/devarch/devarch-controller/state/statetest"
)

// pagedBackend serves the dashboard and the real API over a database
// holding stacks (statetest.Fill: s-00001 …). It records the query of
// every stack list request.
func pagedBackend(t *testing.T, stacks int) (base string, queries func() []string) {
	t.Helper()
	url := testenv.DatabaseURL(t)
	ctx := t.Context()
	dir := t.TempDir()
	if err := state.Migrate(ctx, url, state.WithInitialPaths(project.Options{StateDir: dir, WorkspaceDir: dir})); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	store, err := state.Open(ctx, url, "e2e-pages")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if err := statetest.Fill(ctx, store, "s", stacks, 2); err != nil {
		t.Fatal(err)
	}
	// The stacks page plans nothing.
	planner := func(context.Context, plan.Desired) (*plan.Plan, error) {
		return nil, errors.New("this test plans nothing")
	}
	h := api.New(api.Deps{Stacks: store, Statuses: store, Approvals: store, Installation: store, Planner: filing.PlannerFunc(planner),
		Locks: lock.New(store.Pool(), nil), Notifications: store, Logger: zap.NewNop(), Pages: store}, api.Options{})
	var (
		mu   sync.Mutex
		seen []string
	)
	mux := http.NewServeMux()
	mux.Handle(api.Base+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == api.Base+"/stacks" {
			mu.Lock()
			seen = append(seen, r.URL.RawQuery)
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	mux.Handle("/", dashboard.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// The stacks page shows a large installation a page at a time: it polls
// one page of the list, never the whole list, and Next and Previous walk
// the pages in name order.
func TestStacksPagePaged(t *testing.T) {
	browser := newBrowser(t)
	base, queries := pagedBackend(t, 250)
	d := openDashboard(t, browser, base)

	names := func(from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf("s-%05d", i))
		}
		return out
	}
	rowNames := func() []string {
		var out []string
		for _, r := range d.stackRows() {
			out = append(out, r.Name)
		}
		return out
	}
	waitPage := func(first string, n int, info string) {
		t.Helper()
		d.waitFor(fmt.Sprintf("the page starting at %s", first), fmt.Sprintf(
			`(() => { const r = document.querySelectorAll('tr.stack-row'); return r.length === %d && r[0].dataset.stack === %s && document.querySelector('.pager-info').textContent === %s })()`,
			n, js(first), js(info)), 10*time.Second)
	}

	d.openStacks()
	waitPage("s-00001", 100, "Stacks 1–100")
	if got := rowNames(); !slices.Equal(got, names(1, 100)) {
		t.Fatalf("first page lists %d stacks %v…, want s-00001 … s-00100", len(got), got[:min(3, len(got))])
	}
	if !eval[bool](d, `document.querySelector('.pager-prev').disabled && !document.querySelector('.pager-next').disabled`) {
		t.Error("on the first page, Previous should be disabled and Next enabled")
	}
	if s := eval[string](d, `document.querySelector('.page-summary').textContent`); !strings.HasPrefix(s, "Stacks 1–100 · 100 stacks on this page") {
		t.Errorf("summary %q", s)
	}
	d.screenshot("stacks-paged.png")

	d.click(".pager-next")
	waitPage("s-00101", 100, "Stacks 101–200")
	if got := rowNames(); !slices.Equal(got, names(101, 200)) {
		t.Errorf("second page lists %v…, want s-00101 … s-00200", got[:min(3, len(got))])
	}
	d.click(".pager-next")
	waitPage("s-00201", 50, "Stacks 201–250")
	if !eval[bool](d, `document.querySelector('.pager-next').disabled && !document.querySelector('.pager-prev').disabled`) {
		t.Error("on the last page, Next should be disabled and Previous enabled")
	}
	// The page stays current: a poll after the last click still asks for
	// the last page.
	n := len(queries())
	time.Sleep(1500 * time.Millisecond) // the poller asks every second
	if len(queries()) <= n {
		t.Error("the stacks page stopped polling")
	}
	if rows := d.stackRows(); len(rows) != 50 || rows[0].Name != "s-00201" {
		t.Errorf("after a poll the last page shows %d rows from %s", len(rows), rows[0].Name)
	}
	d.click(".pager-prev")
	waitPage("s-00101", 100, "Stacks 101–200")
	d.click(".pager-prev")
	waitPage("s-00001", 100, "Stacks 1–100")

	for _, q := range queries() {
		if !strings.Contains(q, "limit=100") {
			t.Errorf("the stacks page asked for the list without a page size: ?%s", q)
		}
	}
}
