package stackfile

import (
	"fmt"
	"maps"
	"slices"
)

// checkFileMounts reports the entries of an instance's secrets or configs
// (key) whose long form gives a field no value ({source: a, target: }):
// compose's loader cannot read them (it panics on a null target), so they
// are refused first, naming the entry and the field.
func (b *builder) checkFileMounts(prefix, key string, entries []any) bool {
	ok := true
	for i, e := range entries {
		m, isMap := e.(map[string]any)
		if !isMap {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if m[k] == nil {
				b.fail(fmt.Sprintf("%s.%s[%d].%s", prefix, key, i, k), "%s has no value; give one, or leave the field out", k)
				ok = false
			}
		}
	}
	return ok
}
