package spec

import (
	"cmp"
	"slices"
)

// Canonical returns a copy of s whose sets are in canonical order: env
// and labels by key, ports by ComparePorts, volumes by target,
// dependencies by name, config files by path (stable sorts, so entries
// with equal keys keep their order). Equal sets then serialise to equal
// bytes, whatever order they were written in. s is not modified.
func (s ServiceSpec) Canonical() ServiceSpec {
	s.Env = slices.Clone(s.Env)
	slices.SortStableFunc(s.Env, func(a, b EnvVar) int { return cmp.Compare(a.Key, b.Key) })
	s.Labels = slices.Clone(s.Labels)
	slices.SortStableFunc(s.Labels, func(a, b Label) int { return cmp.Compare(a.Key, b.Key) })
	s.Ports = slices.Clone(s.Ports)
	slices.SortStableFunc(s.Ports, ComparePorts)
	s.Volumes = slices.Clone(s.Volumes)
	slices.SortStableFunc(s.Volumes, func(a, b Volume) int { return cmp.Compare(a.Target, b.Target) })
	s.DependsOn = slices.Clone(s.DependsOn)
	slices.SortStableFunc(s.DependsOn, func(a, b Dependency) int { return cmp.Compare(a.Name, b.Name) })
	s.ConfigFiles = slices.Clone(s.ConfigFiles)
	slices.SortStableFunc(s.ConfigFiles, func(a, b ConfigFile) int { return cmp.Compare(a.Path, b.Path) })
	s.Options = s.Options.Canonical()
	canonicalFiles(&s)
	s.Build = s.Build.Canonical()
	s.Networks = s.Networks.Canonical()
	s.NetworkDefinitions = s.NetworkDefinitions.Canonical()
	return s
}
