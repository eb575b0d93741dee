package state

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound reports a stack, instance or template that does not exist
// (or, for stacks and instances, that was deleted). Errors wrap it with the
// name that was looked up; test with errors.Is.
var ErrNotFound = errors.New("not found")

// ErrExists reports a create of a stack whose name a live stack already has.
var ErrExists = errors.New("already exists")

// MissingTemplate is one instance naming a template the catalog lacks.
type MissingTemplate struct {
	Instance string
	Template string
}

// MissingTemplatesError reports every instance of an imported stack whose
// template is not in the catalog. Nothing was written.
type MissingTemplatesError struct {
	Stack   string
	Missing []MissingTemplate
}

func (e *MissingTemplatesError) Error() string {
	lines := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		lines[i] = fmt.Sprintf("instance %q: template %q is not in the catalog; import it first with \"devarch-controller catalog import PATH\"", m.Instance, m.Template)
	}
	return strings.Join(lines, "\n")
}

func stackNotFound(name string) error {
	return fmt.Errorf("stack %q %w; list the stacks with \"devarch-controller stack list\"", name, ErrNotFound)
}

func instanceNotFound(stack, instance string) error {
	return fmt.Errorf("instance %q of stack %q %w", instance, stack, ErrNotFound)
}
