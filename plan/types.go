package plan

import (
	"time"

	"github.com/devarch/devarch-controller/spec"
)

// FormatVersion is the version of the plan's JSON format.
const FormatVersion = 1

// Action is what apply will do to an instance's container.
type Action string

// Actions.
const (
	ActionAdd    Action = "add"
	ActionModify Action = "modify"
	ActionRemove Action = "remove"
)

// Symbol is the action's one-character marker: +, ~ or -.
func (a Action) Symbol() string {
	switch a {
	case ActionAdd:
		return "+"
	case ActionModify:
		return "~"
	case ActionRemove:
		return "-"
	}
	return "?"
}

// Plan is what apply would do to one stack, and the token that approves it.
type Plan struct {
	FormatVersion int       `json:"format_version"`
	StackID       int64     `json:"stack_id"`
	Stack         string    `json:"stack"`
	Token         string    `json:"token"`
	GeneratedAt   time.Time `json:"generated_at"`
	Summary       Summary   `json:"summary"`
	Changes       []Change  `json:"changes"`
	Warnings      []string  `json:"warnings"`
	// Notices are things on the engine that apply leaves as they are
	// although compose would not expect them (see Notice).
	Notices []Notice `json:"notices"`
	// Resources are the stack's networks and named volumes that the
	// removal of a deleted stack removes or keeps (see Resource).
	Resources []Resource `json:"resources,omitempty"`
	// Engine names the engine the plan's changes are on, when the
	// controller has several (docs/engines.md); empty otherwise.
	Engine string `json:"engine,omitempty"`
}

// Summary counts changes per action.
type Summary struct {
	Add    int `json:"add"`
	Modify int `json:"modify"`
	Remove int `json:"remove"`
}

// Total is the number of changes.
func (s Summary) Total() int { return s.Add + s.Modify + s.Remove }

// Empty reports whether the stack is converged.
func (p *Plan) Empty() bool {
	return len(p.Changes) == 0 && !p.removesResources() && !p.recreatesNetwork()
}

// Change is one instance whose container apply will create, recreate,
// start or remove.
type Change struct {
	Action     Action `json:"action"`
	Instance   string `json:"instance"`
	InstanceID int64  `json:"instance_id,omitempty"`
	Template   string `json:"template,omitempty"`
	// Container is the name of the container apply acts on (the existing
	// one for modify and remove, the one it will create for add).
	Container   string `json:"container"`
	ContainerID string `json:"container_id,omitempty"`
	// Recreate is true when apply replaces the container (compose's config
	// hash differs, the image moved, or it left its network); a modify
	// without it only starts or restarts the container.
	Recreate bool          `json:"recreate"`
	Reason   string        `json:"reason"`
	Fields   []FieldChange `json:"fields"`
	// Engine names the engine the change is on when that is not the
	// plan's (the removal of a moved stack's containers from its previous
	// engine, see MovedRemovals); empty otherwise.
	Engine string `json:"engine,omitempty"`
}

// FieldChange is one field that differs. Old is nil when the field is
// added, New is nil when it is removed. Sensitive values are replaced by
// spec.RedactedValue.
type FieldChange struct {
	Path      string      `json:"path"`
	Old       *string     `json:"old"`
	New       *string     `json:"new"`
	Source    spec.Source `json:"source"`
	Sensitive bool        `json:"sensitive,omitempty"`
	Reason    string      `json:"reason,omitempty"`
	// From names where a desired value was read at import, beyond its
	// source: "env_file .env" for a variable of an env file.
	From string `json:"from,omitempty"`
	// Variables name the stack variables the template's value of the
	// field comes from (${UID}); set only when Source is template.
	Variables []string `json:"variables,omitempty"`
}

// Observed is the runtime side of one stack.
type Observed struct {
	// Containers are the containers whose devarch.stack_id label is the
	// stack's id, in any state.
	Containers []spec.Container
	// ImageIDs maps image references to the id of the local image they
	// name now. Nil disables image drift detection; a missing entry means
	// the image is not present locally.
	ImageIDs map[string]string
	// NetworkID is the id of the stack's network, "" when it is missing.
	NetworkID string
	// NetworkIDs maps the names of the stack's other networks to their
	// ids, where known; a network without one is matched by name.
	NetworkIDs map[string]string
	// Volumes are the engine's volumes by name; only those the stack's
	// compose project would use matter. Nil disables the volume checks.
	Volumes map[string]Volume
	// Engine describes the engine, for the keys it cannot apply; the zero
	// Engine checks nothing.
	Engine Engine
	// OwnedNetworks are the names of the networks labeled with the
	// stack's id (the networks it created; never external ones).
	OwnedNetworks []string
	// NetworkSubnets are the subnets of the stack's network (sorted), nil
	// when it is missing or they were not observed.
	NetworkSubnets []string
}

// Volume is a volume on the engine.
type Volume struct {
	Name   string
	Driver string
	Labels map[string]string
}
