package spec

import (
	"strconv"
	"time"
)

// Container states as reported by the engine.
const (
	StateRunning    = "running"
	StateCreated    = "created"
	StateExited     = "exited"
	StatePaused     = "paused"
	StateRestarting = "restarting"
	StateDead       = "dead"
	StateRemoving   = "removing"
)

// Health states as reported by the engine ("" without a healthcheck).
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Container is the observed state of one labeled container. Env holds only
// the variables the container adds to its image's defaults. Values may hold
// secrets: never render a Container directly. Its maps and slices are
// shared between the observer's cache and every snapshot taken from it:
// read them, never write to them (copy first).
type Container struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	StackID      int64             `json:"stack_id"`
	StackName    string            `json:"stack_name"`
	InstanceID   int64             `json:"instance_id"`
	InstanceName string            `json:"instance_name"`
	Project      string            `json:"project,omitempty"`
	Service      string            `json:"service,omitempty"`
	ConfigHash   string            `json:"config_hash,omitempty"`
	Image        string            `json:"image"`
	ImageID      string            `json:"image_id,omitempty"`
	Command      []string          `json:"command"`
	Entrypoint   []string          `json:"entrypoint"`
	WorkingDir   string            `json:"working_dir,omitempty"`
	Env          map[string]string `json:"env"`
	Ports        []Port            `json:"ports"`
	// Published are the ports the engine publishes now (its live
	// NetworkSettings; empty unless the container runs), where Ports are
	// the bindings it was created with.
	Published []Port            `json:"published,omitempty"`
	Mounts    []Volume          `json:"mounts"`
	Labels    map[string]string `json:"labels"`
	Networks  map[string]string `json:"networks"` // network name → network id
	State     string            `json:"state"`
	Health    string            `json:"health,omitempty"`
	ExitCode  int               `json:"exit_code,omitempty"`
	// RestartCount is how often the engine restarted the container by its
	// restart policy since it was created.
	RestartCount int       `json:"restart_count,omitempty"`
	Restart      string    `json:"restart,omitempty"`
	Created      time.Time `json:"created"`
}

// IdentityFromLabels parses the stack and instance ids of a container's
// labels. ok is false when the container is not managed by devarch or its
// stack id is missing or malformed; instanceID is 0 when that label is
// missing or malformed.
func IdentityFromLabels(labels map[string]string) (stackID, instanceID int64, ok bool) {
	if labels[LabelManagedBy] != ManagedByValue {
		return 0, 0, false
	}
	stackID, err := strconv.ParseInt(labels[LabelStackID], 10, 64)
	if err != nil || stackID <= 0 {
		return 0, 0, false
	}
	instanceID, err = strconv.ParseInt(labels[LabelInstanceID], 10, 64)
	if err != nil || instanceID < 0 {
		instanceID = 0
	}
	return stackID, instanceID, true
}

// Running reports whether the container is up (running, or restarting by
// its own policy).
func (c Container) Running() bool {
	return c.State == StateRunning || c.State == StateRestarting
}
