package state

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/devarch/devarch-controller/spec"
)

// encodeOverrides returns the canonical JSON of an instance's overrides:
// set-like lists (env, labels, ports, volumes, dependencies, config files)
// sorted by key, so that the same overrides written in another order store
// the same bytes and a re-import changes nothing. Sorting is stable, so for
// a key given twice the last entry still wins in spec.Merge. Lists whose
// order matters (command, entrypoint, capabilities) are kept as given.
func encodeOverrides(o spec.Overrides) ([]byte, error) {
	o.ServiceSpec = canonicalSpec(o.ServiceSpec)
	return encodeJSON("overrides", o)
}

func decodeOverrides(b []byte) (spec.Overrides, error) {
	return decodeJSON[spec.Overrides]("overrides", b)
}

// encodeSpec returns the canonical JSON of a template's spec.
func encodeSpec(s spec.ServiceSpec) ([]byte, error) {
	return encodeJSON("template spec", canonicalSpec(s))
}

func decodeSpec(b []byte) (spec.ServiceSpec, error) {
	return decodeJSON[spec.ServiceSpec]("template spec", b)
}

// encodeWires stores no wires as [], not null.
func encodeWires(w []spec.Wire) ([]byte, error) {
	if w == nil {
		w = []spec.Wire{}
	}
	return encodeJSON("wires", w)
}

// decodeWires reads [] as nil.
func decodeWires(b []byte) ([]spec.Wire, error) {
	w, err := decodeJSON[[]spec.Wire]("wires", b)
	if err != nil || len(w) == 0 {
		return nil, err
	}
	return w, nil
}

// encodeJSON marshals v; the error names what it is.
func encodeJSON(what string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", what, err)
	}
	return b, nil
}

// decodeJSON unmarshals b into a T; the error names what it is.
func decodeJSON[T any](what string, b []byte) (T, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

// canonicalSpec returns s with its set-like lists copied and sorted.
func canonicalSpec(s spec.ServiceSpec) spec.ServiceSpec {
	s.Env = sortedCopy(s.Env, func(a, b spec.EnvVar) int { return cmp.Compare(a.Key, b.Key) })
	s.Labels = sortedCopy(s.Labels, func(a, b spec.Label) int { return cmp.Compare(a.Key, b.Key) })
	s.Ports = sortedCopy(s.Ports, spec.ComparePorts)
	s.Volumes = sortedCopy(s.Volumes, func(a, b spec.Volume) int { return cmp.Compare(a.Target, b.Target) })
	s.DependsOn = sortedCopy(s.DependsOn, func(a, b spec.Dependency) int { return cmp.Compare(a.Name, b.Name) })
	s.ConfigFiles = sortedCopy(s.ConfigFiles, func(a, b spec.ConfigFile) int { return cmp.Compare(a.Path, b.Path) })
	return s
}

func sortedCopy[T any](s []T, cmpFn func(a, b T) int) []T {
	if len(s) == 0 {
		return nil
	}
	c := slices.Clone(s)
	slices.SortStableFunc(c, cmpFn)
	return c
}

// encodeVariables stores a stack's variables sorted by name; none as [].
func encodeVariables(v []spec.Variable) ([]byte, error) {
	c := sortedCopy(v, func(a, b spec.Variable) int { return cmp.Compare(a.Name, b.Name) })
	if c == nil {
		c = []spec.Variable{}
	}
	return encodeJSON("variables", c)
}

// decodeVariables reads [] as nil.
func decodeVariables(b []byte) ([]spec.Variable, error) {
	v, err := decodeJSON[[]spec.Variable]("variables", b)
	if err != nil || len(v) == 0 {
		return nil, err
	}
	return v, nil
}
