package serve

// Tests of contrib/grafana/devarch.json: the dashboard parses, is laid out
// sanely, queries only metrics /metrics exports (so it cannot drift
// from the code), shows every one of them, and every query is valid PromQL
// (promtool parses them as recording rules).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var dashboardPath = filepath.Join("..", "contrib", "grafana", "devarch.json")

type grafanaDashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int        `json:"id"`
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	Datasource datasource `json:"datasource"`
	GridPos    struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string     `json:"refId"`
		Expr       string     `json:"expr"`
		Datasource datasource `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource datasource      `json:"datasource"`
}

// query returns a query variable's query, stored by Grafana either as a
// string or as {"query": "..."}.
func (v variable) query(t *testing.T) string {
	t.Helper()
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var obj struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &obj); err != nil {
		t.Fatalf("variable %s: query is neither a string nor an object: %v", v.Name, err)
	}
	return obj.Query
}

func loadDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("parse %s: %v", dashboardPath, err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// dashboardQuery is one PromQL query of the dashboard and where it is.
type dashboardQuery struct{ where, expr string }

func dashboardQueries(t *testing.T, d grafanaDashboard) []dashboardQuery {
	t.Helper()
	var qs []dashboardQuery
	for _, p := range allPanels(d.Panels) {
		for _, tg := range p.Targets {
			qs = append(qs, dashboardQuery{fmt.Sprintf("panel %q target %s", p.Title, tg.RefID), tg.Expr})
		}
	}
	return qs
}

var labelValuesRE = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

func TestDashboardStructure(t *testing.T) {
	d := loadDashboard(t)
	if d.UID != "devarch-controller" || d.SchemaVersion < 36 {
		t.Errorf("uid %q schemaVersion %d, want devarch-controller and >= 36", d.UID, d.SchemaVersion)
	}
	want := datasource{Type: "prometheus", UID: "${DS_PROMETHEUS}"}
	ids := map[int]string{}
	var cells [][2]int // occupied (x, y) grid cells
	for _, p := range allPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if slices.Contains(cells, [2]int{x, y}) {
					t.Errorf("panel %q overlaps another panel at (%d,%d)", p.Title, x, y)
				}
				cells = append(cells, [2]int{x, y})
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource != want {
			t.Errorf("panel %q: datasource %+v, want %+v", p.Title, p.Datasource, want)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] || tg.RefID == "" {
				t.Errorf("panel %q: refId %q missing or repeated", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource != want {
				t.Errorf("panel %q target %s: datasource %+v, want %+v", p.Title, tg.RefID, tg.Datasource, want)
			}
		}
	}

	vars := map[string]variable{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v := vars["DS_PROMETHEUS"]; v.Type != "datasource" || v.query(t) != "prometheus" {
		t.Errorf("variable DS_PROMETHEUS = %+v, want a prometheus datasource variable", v)
	}
	stack := vars["stack"]
	if m := labelValuesRE.FindStringSubmatch(stack.query(t)); stack.Type != "query" || m == nil ||
		m[1] != "devarch_stack_drifted" || m[2] != "stack" || stack.Datasource != want {
		t.Errorf("variable stack = %+v (query %q), want label_values(devarch_stack_drifted, stack) on ${DS_PROMETHEUS}", stack, stack.query(t))
	}
}

// checkDashboardUsesExportedMetrics checks that every dashboard query
// selects only metrics reg (the registry /metrics serves) exports, and
// that some panel shows each of the controller's families.
func checkDashboardUsesExportedMetrics(t *testing.T, reg prometheus.Gatherer) {
	known := queryableNames(t, reg)
	d := loadDashboard(t)

	shown := map[string]bool{}
	for _, q := range dashboardQueries(t, d) {
		for _, n := range exportedNames(t, known, q.where, q.expr) {
			shown[familyOf(n, allFamilies)] = true
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := v.query(t)
		sub := labelValuesRE.FindStringSubmatch(q)
		if sub == nil {
			t.Errorf("variable %s: query %q is not label_values(metric, label)", v.Name, q)
			continue
		}
		if !known[sub[1]] {
			t.Errorf("variable %s uses %s, which /metrics does not export", v.Name, sub[1])
		}
	}
	for _, f := range allFamilies {
		if !shown[f] {
			t.Errorf("no dashboard panel shows %s", f)
		}
	}
}

// grafanaVars are the dashboard variables with a value that keeps the
// query valid PromQL.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$__range", "1h",
	"$stack", ".*",
)

// TestDashboardPromQL has promtool parse every dashboard query, as a
// recording rule, after substituting the Grafana variables.
func TestDashboardPromQL(t *testing.T) {
	d := loadDashboard(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range dashboardQueries(t, d) {
		expr := grafanaVars.Replace(q.expr)
		if strings.Contains(expr, "$") {
			t.Errorf("%s: unknown variable left in %q", q.where, expr)
		}
		quoted, err := json.Marshal(expr) // a JSON string is a YAML string
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, quoted)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, nil, "check", "rules", path)
}
