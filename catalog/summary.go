package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

// Summary counts, over the files of one import, the templates loaded and
// the compose service keys they use, the controller ignores, and the
// controller refuses (the file is then not imported).
type Summary struct {
	Files    int
	Services int
	Failed   int
	// Used, Ignored and Refused count files by service key ("hostname",
	// "build", "deploy").
	Used, Ignored, Refused map[string]int
}

// Summarize builds the summary of LoadPaths' results.
func Summarize(results []FileResult) Summary {
	s := Summary{Used: map[string]int{}, Ignored: map[string]int{}, Refused: map[string]int{}}
	for _, r := range results {
		s.Files++
		if r.Err != nil {
			s.Failed++
			var ve *spec.ValidationError
			if errors.As(r.Err, &ve) {
				for _, k := range distinct(ve.Problems, func(p spec.Problem) string { return serviceKey(p.Field) }) {
					s.Refused[k]++
				}
			}
			continue
		}
		s.Services++
		for _, k := range r.Keys {
			s.Used[k]++
		}
		ignored := slices.DeleteFunc(slices.Clone(r.Warnings), func(w Warning) bool { return !w.Ignored })
		for _, k := range distinct(ignored, func(w Warning) string { return serviceKey(w.Key) }) {
			s.Ignored[k]++
		}
	}
	return s
}

// serviceKey returns the service key of a compose path:
// "services.app.deploy.replicas" → "deploy", "services.app.ports[0]" →
// "ports". Paths outside a service give "".
func serviceKey(path string) string {
	rest, ok := strings.CutPrefix(path, "services.")
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	end := strings.IndexAny(rest, ".[")
	if end >= 0 {
		rest = rest[:end]
	}
	return rest
}

func distinct[T any](items []T, key func(T) string) []string {
	seen := map[string]bool{}
	for _, it := range items {
		if k := key(it); k != "" {
			seen[k] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// String writes the summary as three lines, keys by decreasing count.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d services in %d files (%d refused).\n", s.Services, s.Files, s.Failed)
	fmt.Fprintf(&b, "Keys used: %s.\n", counts(s.Used))
	fmt.Fprintf(&b, "Keys ignored: %s.\n", counts(s.Ignored))
	fmt.Fprintf(&b, "Keys refused: %s.\n", counts(s.Refused))
	return b.String()
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
