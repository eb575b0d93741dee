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
	b, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode overrides: %w", err)
	}
	return b, nil
}

func decodeOverrides(b []byte) (spec.Overrides, error) {
	var o spec.Overrides
	if err := json.Unmarshal(b, &o); err != nil {
		return o, fmt.Errorf("decode overrides: %w", err)
	}
	return o, nil
}

// encodeSpec returns the canonical JSON of a template's spec.
func encodeSpec(s spec.ServiceSpec) ([]byte, error) {
	b, err := json.Marshal(canonicalSpec(s))
	if err != nil {
		return nil, fmt.Errorf("encode template spec: %w", err)
	}
	return b, nil
}

func decodeSpec(b []byte) (spec.ServiceSpec, error) {
	var s spec.ServiceSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("decode template spec: %w", err)
	}
	return s, nil
}

func encodeWires(w []spec.Wire) ([]byte, error) {
	if w == nil {
		w = []spec.Wire{}
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode wires: %w", err)
	}
	return b, nil
}

func decodeWires(b []byte) ([]spec.Wire, error) {
	var w []spec.Wire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode wires: %w", err)
	}
	if len(w) == 0 {
		return nil, nil
	}
	return w, nil
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
