package spec

import (
	"encoding/json"
	"fmt"
	"time"
)

// Source says where an effective value comes from.
type Source string

const (
	// SourceTemplate marks a value inherited from the catalog template.
	SourceTemplate Source = "template"
	// SourceUser marks a value set by an instance override.
	SourceUser Source = "user"
	// SourceWire marks a value injected by a wire between instances
	// (reserved: wires are stored but not applied yet).
	SourceWire Source = "wire"
	// SourceRuntime marks a difference that exists only on the running
	// container: the desired state did not change, the container did.
	SourceRuntime Source = "runtime"
)

// ServiceSpec is the definition of one containerised service: the body of a
// catalog template, and also the shape of an instance's overrides (where an
// empty field means "inherit from the template").
//
// Slices that hold sets (env, ports, volumes, labels, dependencies, config
// files) have a canonical order (see Canonical) so that equal specs
// serialise to equal bytes.
type ServiceSpec struct {
	Image       string       `json:"image,omitempty"`
	Command     []string     `json:"command,omitempty"`
	Entrypoint  []string     `json:"entrypoint,omitempty"`
	WorkingDir  string       `json:"working_dir,omitempty"`
	User        string       `json:"user,omitempty"`
	Privileged  bool         `json:"privileged,omitempty"`
	CapAdd      []string     `json:"cap_add,omitempty"`
	Env         []EnvVar     `json:"env,omitempty"`
	Ports       []Port       `json:"ports,omitempty"`
	Volumes     []Volume     `json:"volumes,omitempty"`
	Labels      []Label      `json:"labels,omitempty"`
	Healthcheck *Healthcheck `json:"healthcheck,omitempty"`
	Restart     string       `json:"restart,omitempty"`
	DependsOn   []Dependency `json:"depends_on,omitempty"`
	ConfigFiles []ConfigFile `json:"config_files,omitempty"`
	// Secrets, Configs and VolumeDefs are the compose secrets, configs
	// and top-level volume declarations the service uses (see files.go).
	Secrets    []FileMount `json:"secrets,omitempty"`
	Configs    []FileMount `json:"configs,omitempty"`
	VolumeDefs []VolumeDef `json:"volume_definitions,omitempty"`
	// Build builds the image (see Build); replaced whole by an override.
	Build *Build `json:"build,omitempty"`
	// Networks are the networks the service joins (compose's service
	// networks); NetworkDefinitions define the keys other than "default"
	// (compose's top-level networks). See Networks and Network.
	Networks           Networks           `json:"networks,omitempty"`
	NetworkDefinitions NetworkDefinitions `json:"network_definitions,omitempty"`
	// Options are the service's other compose keys (hostname, read_only,
	// ulimits, logging...), inline in JSON under their compose names.
	Options
}

// EnvVar is one environment variable. Secret values are never shown: see
// IsSecretName and Redact.
type EnvVar struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Secret bool   `json:"secret,omitempty"`
	Source Source `json:"source,omitempty"`
	// File is the env file the value was read from at import, as written
	// (".env"); empty for a variable of environment:.
	File string `json:"file,omitempty"`
}

// IsSecret reports whether the variable's value must be hidden, because it
// was marked secret or because its name looks like a credential.
func (e EnvVar) IsSecret() bool { return e.Secret || IsSecretName(e.Key) }

// Port publishes a container port on the host. HostPort 0 lets the engine
// pick an ephemeral port.
type Port struct {
	HostIP        string `json:"host_ip,omitempty"`
	HostPort      uint16 `json:"host_port,omitempty"`
	ContainerPort uint16 `json:"container_port"`
	Protocol      string `json:"protocol"`
}

func (p Port) String() string {
	s := fmt.Sprintf("%d/%s", p.ContainerPort, p.Protocol)
	if p.HostPort == 0 && p.HostIP == "" {
		return s
	}
	host := fmt.Sprint(p.HostPort)
	if p.HostIP != "" {
		host = p.HostIP + ":" + host
	}
	return host + "->" + s
}

// Volume types.
const (
	VolumeTypeVolume = "volume"
	VolumeTypeBind   = "bind"
	VolumeTypeTmpfs  = "tmpfs"
)

// Volume mounts a named volume, a host path or a tmpfs into the container.
// A volume with an empty Source is anonymous. A relative bind Source is
// resolved by deploy under the controller's workspace directory.
type Volume struct {
	Type     string `json:"type"`
	Source   string `json:"source,omitempty"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

func (v Volume) String() string {
	s := v.Target
	if v.Source != "" {
		s = v.Source + ":" + s
	}
	if v.ReadOnly {
		s += ":ro"
	}
	return s
}

// Label is one container label set by the template or the user.
type Label struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source Source `json:"source,omitempty"`
}

// Healthcheck is replaced whole by an override, never merged.
type Healthcheck struct {
	Test        []string `json:"test,omitempty"`
	Interval    Duration `json:"interval,omitempty"`
	Timeout     Duration `json:"timeout,omitempty"`
	StartPeriod Duration `json:"start_period,omitempty"`
	Retries     int      `json:"retries,omitempty"`
	Disable     bool     `json:"disable,omitempty"`
}

// Dependency conditions, as in compose.
const (
	ConditionStarted   = "service_started"
	ConditionHealthy   = "service_healthy"
	ConditionCompleted = "service_completed_successfully"
)

// Dependency orders start-up after another instance of the same stack.
type Dependency struct {
	Name      string `json:"name"`
	Condition string `json:"condition"`
}

// ConfigFile is a file the controller writes under the state directory and
// bind-mounts read-only into the container at Target. Path is relative to
// the instance's config folder (validated by ValidateConfigPath).
type ConfigFile struct {
	Path    string `json:"path"`
	Target  string `json:"target"`
	Content string `json:"content"`
	Mode    uint32 `json:"mode,omitempty"`
	Source  Source `json:"source,omitempty"`
}

// DefaultFileMode applies to config files that do not set a mode.
const DefaultFileMode = 0o644

// FileMode returns the file's mode, defaulting to DefaultFileMode.
func (c ConfigFile) FileMode() uint32 {
	if c.Mode == 0 {
		return DefaultFileMode
	}
	return c.Mode
}

// Duration is a time.Duration that reads and writes as "10s" in JSON and YAML.
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts a duration string ("10s") or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err2 := json.Unmarshal(b, &n); err2 != nil {
			return fmt.Errorf("duration must be a string such as \"10s\": %w", err)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parse duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

func (d Duration) String() string { return time.Duration(d).String() }

// Template is one catalog entry: a named service definition.
type Template struct {
	ID         int64       `json:"id"`
	Name       string      `json:"name"`
	Category   string      `json:"category,omitempty"`
	SourcePath string      `json:"source_path,omitempty"`
	Spec       ServiceSpec `json:"spec"`
	// Compose is the template's compose file as written, kept only when
	// it references compose variables: each stack resolves it with its
	// own variables (Spec then shows the references unresolved).
	Compose string `json:"compose,omitempty"`
	// ContentDigest is the store's digest of the template's stored
	// content (spec and compose file; see Instance.ContentDigest).
	ContentDigest []byte `json:"-"`
}

// Overrides is what an instance changes relative to its template. Every
// ServiceSpec field left empty inherits from the template. Domains are
// kept from imports but not applied yet; EnvFiles are the env files an
// import could not read (optional ones that did not exist), whose
// variables are therefore not applied (env files that were read became
// Env entries with their File).
type Overrides struct {
	ServiceSpec
	Domains  []Domain `json:"domains,omitempty"`
	EnvFiles []string `json:"env_files,omitempty"`
}

// Domain routes a host name to a port of the instance (kept, not applied).
type Domain struct {
	Domain    string `json:"domain"`
	ProxyPort int    `json:"proxy_port,omitempty"`
}

// Wire connects a consumer instance to a provider instance's contract
// (kept, not applied).
type Wire struct {
	ConsumerInstance string `json:"consumer_instance"`
	ProviderInstance string `json:"provider_instance"`
	ImportContract   string `json:"import_contract,omitempty"`
	ExportContract   string `json:"export_contract,omitempty"`
	Source           string `json:"source,omitempty"`
}

// Stack is a live (not soft-deleted) stack with its live instances.
type Stack struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	NetworkName string     `json:"network_name,omitempty"`
	Enabled     bool       `json:"enabled"`
	Wires       []Wire     `json:"wires,omitempty"`
	Instances   []Instance `json:"instances"`
	// Variables resolve the compose variable references of the
	// instances' templates (see Template.Compose).
	Variables []Variable `json:"variables,omitempty"`
	// ContentDigest is the store's digest of the stack's wires and
	// variables (see Instance.ContentDigest).
	ContentDigest []byte `json:"-"`
	// Engine names the configured engine the stack runs on; empty means
	// the controller's default engine (see config.Config.DefaultEngine).
	Engine string `json:"engine,omitempty"`
	// Deleting is true for a deleted stack whose removal has not been
	// applied yet: it has no instances, and its plan removes its
	// containers and networks (and named volumes with RemoveVolumes).
	Deleting bool `json:"deleting,omitempty"`
	// RemoveVolumes: the removal of a deleting stack removes its named
	// volumes too (stack delete --volumes); otherwise they are kept.
	RemoveVolumes bool `json:"remove_volumes,omitempty"`
	// Subnet is the subnet the controller allocated to the stack's network
	// from network.subnet_pool ("10.128.3.0/24"); empty without a pool.
	// SubnetProblem says why a stack has none although a pool is set (the
	// pool is full): apply refuses to create its network then.
	// Neither is desired state of the stack's own: they are not encoded.
	Subnet        string `json:"-"`
	SubnetProblem string `json:"-"`
}

// Lifecycles of a stack (Lifecycle).
const (
	LifecycleActive   = "active"
	LifecycleDisabled = "disabled"
	LifecycleDeleting = "deleting"
)

// Lifecycle is "deleting" for a deleted stack whose removal is not
// applied yet, "disabled" for a disabled stack, else "active".
func Lifecycle(s Stack) string {
	switch {
	case s.Deleting:
		return LifecycleDeleting
	case !s.Enabled:
		return LifecycleDisabled
	}
	return LifecycleActive
}

// Network returns the Docker network the stack's containers join.
func (s Stack) Network() string {
	if s.NetworkName != "" {
		return s.NetworkName
	}
	return "devarch-" + s.Name + "-net"
}

// Instance is one service of a stack: a template plus overrides. Effective
// holds the merged result (see Merge); Template is nil for an instance that
// carries a full spec of its own.
type Instance struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Enabled   bool      `json:"enabled"`
	Template  *Template `json:"template,omitempty"`
	Overrides Overrides `json:"overrides"`
	Effective Effective `json:"effective"`
	// Problem says why the instance's desired state cannot be built
	// (its template needs a variable the stack does not give); "" when
	// it can. Plans show such an instance as "cannot be applied".
	Problem string `json:"problem,omitempty"`
	// ContentDigest is the store's digest of the instance's stored
	// overrides: set when the instance is read from PostgreSQL (which
	// computes it from the row), nil otherwise. The staleness token uses
	// it instead of encoding the overrides. Code that changes Overrides or
	// Template of an instance read from the store must set it to nil.
	ContentDigest []byte `json:"-"`
}

// TemplateName returns the instance's template name, or "" without one.
func (i Instance) TemplateName() string {
	if i.Template == nil {
		return ""
	}
	return i.Template.Name
}
