package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
	"github.com/devarch/devarch-controller/state/statetest"
)

// pagedAPI serves the API over a fresh database filled with stacks
// (statetest.Fill, prefix "s") of perStack instances each.
func pagedAPI(tb testing.TB, stacks, perStack int) (base string, store *state.Store) {
	tb.Helper()
	dbURL := testenv.DatabaseURL(tb)
	ctx := context.Background()
	dir := tb.TempDir()
	if err := state.Migrate(ctx, dbURL, state.WithInitialPaths(project.Options{StateDir: dir, WorkspaceDir: dir})); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	store, err := state.Open(ctx, dbURL, "api-pages")
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(store.Close)
	if err := statetest.Fill(ctx, store, "s", stacks, perStack); err != nil {
		tb.Fatal(err)
	}
	planner := func(_ context.Context, d plan.Desired) (*plan.Plan, error) {
		return plan.Compute(d, plan.Observed{}, time.Now())
	}
	h := New(Deps{Stacks: store, Statuses: store, Approvals: store, Installation: store, Planner: filing.PlannerFunc(planner),
		Locks: lock.New(store.Pool(), nil), Notifications: store, Logger: zap.NewNop(), Pages: store}, Options{})
	srv := newBenchServer(tb, h)
	return srv, store
}

func newBenchServer(tb testing.TB, h http.Handler) string {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL
}

func getJSON(tb testing.TB, c *http.Client, u string, want int, out any) []byte {
	tb.Helper()
	resp, err := c.Get(u)
	if err != nil {
		tb.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != want {
		tb.Fatalf("GET %s: status %d, want %d: %s", u, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			tb.Fatalf("GET %s: %v", u, err)
		}
	}
	return b
}

// Reading the list page by page gives every stack once, in the order and
// with the fields of the whole list; the pages match the documented schema.
func TestIntegrationStackPages(t *testing.T) {
	base, store := pagedAPI(t, 1234, 5)
	doc := loadOpenAPI(t)
	schema, err := doc.resolve("#/components/schemas/StackList")
	if err != nil {
		t.Fatal(err)
	}
	// A deleting stack is listed (lifecycle deleting) in the pages as in
	// the whole list.
	if err := store.DeleteStack(t.Context(), "s-00007"); err != nil {
		t.Fatalf("DeleteStack: %v", err)
	}
	c := http.DefaultClient

	var whole stackList
	getJSON(t, c, base+Base+"/stacks", http.StatusOK, &whole)
	if len(whole.Stacks) != 1234 {
		t.Fatalf("whole list has %d stacks, want 1234", len(whole.Stacks))
	}

	var paged []stackSummary
	cursor, pages := "", 0
	for {
		u := base + Base + "/stacks?limit=100"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		b := getJSON(t, c, u, http.StatusOK, nil)
		if errs := doc.validateJSON(schema, b); len(errs) > 0 {
			t.Fatalf("page %d does not match StackList: %v", pages, errs)
		}
		var p stackPage
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Stacks) > 100 {
			t.Fatalf("page %d has %d stacks, limit 100", pages, len(p.Stacks))
		}
		paged = append(paged, p.Stacks...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
		if pages > 20 {
			t.Fatal("more than 20 pages of 100 for 1234 stacks")
		}
	}
	if pages != 13 {
		t.Errorf("%d pages, want 13", pages)
	}
	if len(paged) != len(whole.Stacks) {
		t.Fatalf("pages hold %d stacks, the whole list %d", len(paged), len(whole.Stacks))
	}
	for i := range paged {
		a, b := paged[i], whole.Stacks[i]
		if a.ID != b.ID || a.Name != b.Name || a.Network != b.Network || a.Enabled != b.Enabled || a.Instances != b.Instances || a.Lifecycle != b.Lifecycle ||
			(a.Status == nil) != (b.Status == nil) || (a.Status != nil && (a.Status.Condition != b.Status.Condition || a.Status.Token != b.Status.Token)) {
			t.Fatalf("stack %d differs: page %+v, whole list %+v", i, a, b)
		}
		if want := map[bool]int{true: 0, false: 5}[a.Name == "s-00007"]; a.Instances != want {
			t.Fatalf("stack %s has %d instances, want %d", a.Name, a.Instances, want)
		}
	}
	if !sort.SliceIsSorted(paged, func(i, j int) bool { return paged[i].Name < paged[j].Name }) {
		t.Error("pages are not in name order")
	}
	if i := slices.IndexFunc(paged, func(s stackSummary) bool { return s.Name == "s-00007" }); i < 0 || paged[i].Lifecycle != "deleting" {
		t.Error("the deleting stack s-00007 is not in a page as deleting")
	}
	withStatus := 0
	for _, s := range paged {
		if s.Status != nil {
			withStatus++
		}
	}
	if withStatus == 0 || withStatus == len(paged) {
		t.Errorf("%d of %d stacks have a status; the fixture gives one to about half", withStatus, len(paged))
	}

	// The last page of an exact multiple has no next cursor.
	var last stackPage
	getJSON(t, c, base+Base+"/stacks?limit=1000&cursor="+url.QueryEscape(encodeStackCursor(state.StackPageKey{Name: paged[233].Name, ID: paged[233].ID})), http.StatusOK, &last)
	if len(last.Stacks) != 1000 || last.NextCursor != "" {
		t.Errorf("page after the 234th stack: %d stacks, next_cursor %q; want 1000 and none", len(last.Stacks), last.NextCursor)
	}
	// cursor alone pages by the default size.
	var def stackPage
	getJSON(t, c, base+Base+"/stacks?cursor="+url.QueryEscape(encodeStackCursor(state.StackPageKey{Name: paged[0].Name, ID: paged[0].ID})), http.StatusOK, &def)
	if len(def.Stacks) != DefaultStackPageSize || def.Stacks[0].Name != paged[1].Name {
		t.Errorf("cursor alone: %d stacks from %q, want %d from %q", len(def.Stacks), def.Stacks[0].Name, DefaultStackPageSize, paged[1].Name)
	}

	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "limit=", "cursor=bm90LWEtY3Vyc29y", "cursor=%25%25", "limit=5&cursor=" + url.QueryEscape(encodeStackCursor(state.StackPageKey{Name: "Not A Name", ID: 3}))} {
		var e errorBody
		getJSON(t, c, base+Base+"/stacks?"+q, http.StatusBadRequest, &e)
		if e.Error.Code != codeInvalidParameter || e.Error.Message == "" {
			t.Errorf("?%s: error %+v, want %s with a message", q, e.Error, codeInvalidParameter)
		}
	}
}

// Without a pager, a paginated request answers 501 and the whole list is
// still served.
func TestStackPagesNotServed(t *testing.T) {
	hs := newHarness(t, Options{})
	if rec := hs.do(t, request{method: http.MethodGet, path: Base + "/stacks?limit=5"}); rec.Code != http.StatusNotImplemented {
		t.Errorf("paginated list without a pager: status %d, want 501: %s", rec.Code, rec.Body)
	}
	if rec := hs.do(t, request{method: http.MethodGet, path: Base + "/stacks"}); rec.Code != http.StatusOK {
		t.Errorf("whole list: status %d, want 200: %s", rec.Code, rec.Body)
	}
}

func TestStackCursorRoundTrip(t *testing.T) {
	for _, k := range []state.StackPageKey{{Name: "a", ID: 1}, {Name: "shop", ID: 42}, {Name: "s-00001", ID: 9_000_000_000}, {Name: "x123-y", ID: 7}} {
		got, ok := decodeStackCursor(encodeStackCursor(k))
		if !ok || got != k {
			t.Errorf("cursor of %+v decodes to %+v, %v", k, got, ok)
		}
	}
	for _, bad := range []state.StackPageKey{{Name: "a", ID: 0}, {Name: "", ID: 3}, {Name: "A", ID: 3}, {Name: "a:b", ID: 3}} {
		if _, ok := decodeStackCursor(encodeStackCursor(bad)); ok {
			t.Errorf("cursor of %+v was accepted", bad)
		}
	}
}

func FuzzStackCursor(f *testing.F) {
	f.Add(encodeStackCursor(state.StackPageKey{Name: "shop", ID: 3}))
	f.Add("")
	f.Add("bjE6")
	f.Fuzz(func(t *testing.T, c string) {
		k, ok := decodeStackCursor(c)
		if !ok {
			return
		}
		// An accepted cursor holds a valid key, which round-trips.
		if k.ID < 1 || spec.ValidateName(k.Name) != nil {
			t.Fatalf("cursor %q decoded to the invalid key %+v", c, k)
		}
		if got, ok := decodeStackCursor(encodeStackCursor(k)); !ok || got != k {
			t.Fatalf("key %+v does not round-trip: %+v, %v", k, got, ok)
		}
	})
}

// BenchmarkStackPage reads pages of 100 stacks of a 10,000-stack × 5
// instance database from the client's side (HTTP round trip included) and
// reports the p50 and p99 of the per-page latency.
func BenchmarkStackPage(b *testing.B) {
	const stacks = 10000
	base, _ := pagedAPI(b, stacks, 5)
	c := &http.Client{}
	var samples []time.Duration
	cursor := ""
	for b.Loop() {
		u := base + Base + "/stacks?limit=100"
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		start := time.Now()
		var p stackPage
		getJSON(b, c, u, http.StatusOK, &p)
		samples = append(samples, time.Since(start))
		if len(p.Stacks) == 0 {
			b.Fatal("empty page")
		}
		cursor = p.NextCursor // "" after the last page: start over
	}
	slices.Sort(samples)
	q := func(p float64) float64 {
		return float64(samples[min(len(samples)-1, int(p*float64(len(samples))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(len(samples)), "pages")
	b.Logf("%d pages of 100 of %s stacks: p50 %.2f ms, p99 %.2f ms", len(samples), strconv.Itoa(stacks), q(0.50), q(0.99))
}
