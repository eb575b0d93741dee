package spec

import (
	"fmt"
	"slices"
	"strings"
)

// CheckEngine returns an error when stack stackName names an
// engine that is not configured: a full sentence naming the engine and
// the configured ones. An empty name (the default engine) is fine.
func CheckEngine(stackName, engine string, names []string) error {
	if engine == "" || slices.Contains(names, engine) {
		return nil
	}
	return fmt.Errorf("stack %q names engine %q, which is not configured; the engines are %s. Set stack.engine to one of them, or add engine %q to the controller's engines configuration",
		stackName, engine, strings.Join(names, ", "), engine)
}
