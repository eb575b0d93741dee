package serve

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// promqlKeywords are identifiers in PromQL that are not metric names when
// they are not followed by "(": aggregation operators (which may be
// followed by by/without), set and modifier keywords, and literals.
var promqlKeywords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
	"and": true, "or": true, "unless": true, "atan2": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true,
}

// groupingKeywords are followed by a parenthesized list of label names.
var groupingKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// metricNames returns the metric names a PromQL expression selects, in
// order of appearance without duplicates. It is a scanner, not a parser:
// enough for the dashboard's and the alerts' expressions, whose syntax
// promtool checks separately. It skips strings, label matchers ({...}),
// ranges ([...]), numbers and durations, function calls, keywords and the
// label lists of grouping clauses.
func metricNames(expr string) []string {
	var names []string
	depth := 0 // inside {} or []
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(expr, i)
		case c == '{' || c == '[':
			depth++
			i++
		case c == '}' || c == ']':
			depth--
			i++
		case isDigit(c) || (c == '.' && i+1 < len(expr) && isDigit(expr[i+1])):
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c) && (i == 0 || expr[i-1] != '$'):
			j := i
			for j < len(expr) && isIdentChar(expr[j]) {
				j++
			}
			ident, next := expr[i:j], nextNonSpace(expr, j)
			i = j
			switch {
			case depth > 0:
			case groupingKeywords[ident] && next < len(expr) && expr[next] == '(':
				i = skipParens(expr, next)
			case next < len(expr) && expr[next] == '(', promqlKeywords[ident]:
			case !slices.Contains(names, ident):
				names = append(names, ident)
			}
		default:
			i++
		}
	}
	return names
}

func skipString(s string, i int) int {
	quote := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quote != '`':
			i++
		case s[i] == quote:
			return i + 1
		}
	}
	return i
}

func skipParens(s string, i int) int {
	if end := strings.IndexByte(s[i:], ')'); end >= 0 {
		return i + end + 1
	}
	return len(s)
}

func nextNonSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n') {
		i++
	}
	return i
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`devarch_stack_drifted == 1`, []string{"devarch_stack_drifted"}},
		{`max by (stack, condition) (devarch_stack_condition{stack=~"$stack"}) == 1`, []string{"devarch_stack_condition"}},
		{`histogram_quantile(0.95, sum by (le, phase) (rate(devarch_apply_duration_seconds_bucket[$__rate_interval])))`,
			[]string{"devarch_apply_duration_seconds_bucket"}},
		{`up{job="devarch-controller"} == 0 or absent(up{job="devarch-controller"})`, []string{"up"}},
		{`sum without (instance) (a) / on (job) group_left b`, []string{"a", "b"}},
		{`time() - max by (stack) (x{stack=~"$stack"} > 0)`, []string{"x"}},
		{`rate(foo[5m] offset 1h) * 1e3 + bar{l="sum(baz)"}`, []string{"foo", "bar"}},
		{`sum(increase(devarch_lock_conflicts_total[$__range]))`, []string{"devarch_lock_conflicts_total"}},
		{`topk(3, x) and bool y unless z`, []string{"x", "y", "z"}},
		{`60 * sum by (result) (rate(devarch_apply_total[$__rate_interval]))`, []string{"devarch_apply_total"}},
		{`vector(1)`, nil},
	}
	for _, tc := range tests {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

// queryableNames returns the names a PromQL query can select from what
// reg exports: every family name, plus _bucket, _sum and _count for
// histograms, plus "up", which Prometheus records for every scrape target.
func queryableNames(t *testing.T, reg prometheus.Gatherer) map[string]bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{"up": true}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[mf.GetName()+suffix] = true
			}
		}
	}
	return names
}

// exportedNames returns the metric names a PromQL expression selects and
// reports (as where) an expression that selects none, or one that known
// (see queryableNames) lacks.
func exportedNames(t *testing.T, known map[string]bool, where, expr string) []string {
	t.Helper()
	names := metricNames(expr)
	if len(names) == 0 {
		t.Errorf("%s: no metric found in %q", where, expr)
	}
	for _, n := range names {
		if !known[n] {
			t.Errorf("%s uses %s, which /metrics does not export", where, n)
		}
	}
	return names
}

// familyOf maps a queryable name back to its family (strips histogram
// suffixes that are not families themselves).
func familyOf(name string, families []string) string {
	if slices.Contains(families, name) {
		return name
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && slices.Contains(families, base) {
			return base
		}
	}
	return name
}
