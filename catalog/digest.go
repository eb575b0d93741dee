package catalog

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/devarch/devarch-controller/spec"
)

// Digest returns the content hash of a template: the hex SHA-256 of the
// canonical JSON of its name, category and spec. It ignores the id and
// source path, so re-importing an unchanged template from another checkout
// yields the same digest, and it does not depend on the order of set-like
// lists (env, labels, ports, volumes, dependencies, config files).
func Digest(t spec.Template) string {
	s := t.Spec
	s.Env = slices.Clone(s.Env)
	s.Labels = slices.Clone(s.Labels)
	s.Ports = slices.Clone(s.Ports)
	s.Volumes = slices.Clone(s.Volumes)
	s.DependsOn = slices.Clone(s.DependsOn)
	s.ConfigFiles = slices.Clone(s.ConfigFiles)
	canonicalize(&s)
	b, err := json.Marshal(struct {
		Name     string           `json:"name"`
		Category string           `json:"category"`
		Spec     spec.ServiceSpec `json:"spec"`
	}{t.Name, t.Category, s})
	if err != nil {
		// ServiceSpec holds only strings, numbers, bools and slices of them.
		panic("catalog: marshal template: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// canonicalize sorts the set-like lists of s in place, in the same order
// spec.Merge uses for effective specs.
func canonicalize(s *spec.ServiceSpec) {
	slices.SortStableFunc(s.Env, func(a, b spec.EnvVar) int { return cmp.Compare(a.Key, b.Key) })
	slices.SortStableFunc(s.Labels, func(a, b spec.Label) int { return cmp.Compare(a.Key, b.Key) })
	slices.SortStableFunc(s.Ports, spec.ComparePorts)
	slices.SortStableFunc(s.Volumes, func(a, b spec.Volume) int { return cmp.Compare(a.Target, b.Target) })
	slices.SortStableFunc(s.DependsOn, func(a, b spec.Dependency) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortStableFunc(s.ConfigFiles, func(a, b spec.ConfigFile) int { return cmp.Compare(a.Path, b.Path) })
}
