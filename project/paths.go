package project

import (
	"path/filepath"
	"strings"
)

// ConfigDir is the folder holding every materialized config file of a stack.
func ConfigDir(stateDir, stack string) string {
	return filepath.Join(stateDir, "stacks", stack)
}

// ConfigPath is the host path a config file of an instance is written to
// and bind-mounted from. path must already be validated
// (spec.ValidateConfigPath).
func ConfigPath(stateDir, stack, instance, path string) string {
	return filepath.Join(ConfigDir(stateDir, stack), instance, filepath.FromSlash(path))
}

// BindSource resolves a bind mount source. Absolute paths are used as they
// are. A relative source is resolved the way it would be in a devarch
// checkout rooted at workspaceDir: relative to the template's folder
// services/<category>/<template>, or to stacks/<stack>/<instance> for an
// instance without a template.
func BindSource(workspaceDir, category, template, stack, instance, source string) string {
	if filepath.IsAbs(source) {
		return filepath.Clean(source)
	}
	base := filepath.Join(workspaceDir, "stacks", stack, instance)
	if template != "" {
		base = filepath.Join(workspaceDir, "services", category, template)
	}
	return filepath.Join(base, filepath.FromSlash(strings.TrimPrefix(source, "./")))
}
