package spec

import (
	"cmp"
	"slices"
)

// Value is one effective scalar or replace-all field with its provenance.
type Value[T any] struct {
	Value  T      `json:"value"`
	Source Source `json:"source"`
}

// Effective is an instance's merged spec: what apply hands to compose. Every
// field says where it comes from. Keyed collections (env, labels, config
// files) carry a source per entry. Collections are always in canonical order.
type Effective struct {
	Image       Value[string]       `json:"image"`
	Command     Value[[]string]     `json:"command"`
	Entrypoint  Value[[]string]     `json:"entrypoint"`
	WorkingDir  Value[string]       `json:"working_dir"`
	User        Value[string]       `json:"user"`
	Privileged  Value[bool]         `json:"privileged"`
	CapAdd      Value[[]string]     `json:"cap_add"`
	Env         []EnvVar            `json:"env"`
	Ports       Value[[]Port]       `json:"ports"`
	Volumes     Value[[]Volume]     `json:"volumes"`
	Labels      []Label             `json:"labels"`
	Healthcheck Value[*Healthcheck] `json:"healthcheck"`
	Restart     Value[string]       `json:"restart"`
	DependsOn   Value[[]Dependency] `json:"depends_on"`
	ConfigFiles []ConfigFile        `json:"config_files"`
	Secrets     []FileMount         `json:"secrets"`
	Configs     []FileMount         `json:"configs"`
	VolumeDefs  []VolumeDef         `json:"volume_definitions"`
	// Build is the build section; an override's replaces the template's.
	Build Value[*Build] `json:"build"`
	// Networks are the attachments (replace-all); NetworkDefinitions the
	// definitions of their keys, merged by key.
	Networks           Value[Networks]    `json:"networks"`
	NetworkDefinitions NetworkDefinitions `json:"network_definitions,omitempty"`
	// Options are the merged options, for apply. OptionFields are the
	// same flattened into leaves with their sources, for everything that
	// shows or compares them.
	Options      Options       `json:"-"`
	OptionFields []OptionField `json:"options"`
	// Variables name the fields whose template value came from the
	// stack's variables (set by the state read path, not by Merge).
	Variables []VariableUse `json:"variables,omitempty"`
}

// Merge computes the effective spec of an instance from its template (nil
// when the instance carries a full spec) and its overrides, following
// devarch's rules:
//   - scalars (image, working dir, user, restart) and the command,
//     entrypoint and capability lists: the override wins when set;
//   - ports, volumes and dependencies: replace-all when the override sets any;
//   - env, labels and config files: merged by key, the override winning;
//   - healthcheck: replaced whole;
//   - networks: replace-all when the override sets any; network
//     definitions merged by key, the override winning;
//   - options (hostname, ulimits, logging...): each key the override sets
//     replaces the template's, except the maps (sysctls, ulimits,
//     annotations, storage_opt), merged by entry like env.
//
// The inputs are not modified.
func Merge(tmpl *ServiceSpec, o Overrides) Effective {
	var t ServiceSpec
	if tmpl != nil {
		t = *tmpl
	}
	u := o.ServiceSpec
	e := Effective{
		Image:       pickScalar(t.Image, u.Image),
		Command:     pickList(t.Command, u.Command),
		Entrypoint:  pickList(t.Entrypoint, u.Entrypoint),
		WorkingDir:  pickScalar(t.WorkingDir, u.WorkingDir),
		User:        pickScalar(t.User, u.User),
		CapAdd:      pickList(t.CapAdd, u.CapAdd),
		Ports:       pickList(t.Ports, u.Ports),
		Volumes:     pickList(t.Volumes, u.Volumes),
		DependsOn:   pickList(t.DependsOn, u.DependsOn),
		Restart:     pickScalar(t.Restart, u.Restart),
		Privileged:  Value[bool]{Value: t.Privileged, Source: SourceTemplate},
		Healthcheck: Value[*Healthcheck]{Value: cloneHealthcheck(t.Healthcheck), Source: SourceTemplate},
	}
	if u.Privileged {
		e.Privileged = Value[bool]{Value: true, Source: SourceUser}
	}
	if u.Healthcheck != nil {
		e.Healthcheck = Value[*Healthcheck]{Value: cloneHealthcheck(u.Healthcheck), Source: SourceUser}
	}
	e.Build = Value[*Build]{Value: t.Build.Canonical(), Source: SourceTemplate}
	if u.Build != nil {
		e.Build = Value[*Build]{Value: u.Build.Canonical(), Source: SourceUser}
	}
	e.Env = mergeKeyed(t.Env, u.Env, func(v EnvVar) string { return v.Key }, func(v *EnvVar, s Source) { v.Source = s })
	e.Labels = mergeKeyed(t.Labels, u.Labels, func(v Label) string { return v.Key }, func(v *Label, s Source) { v.Source = s })
	e.Networks, e.NetworkDefinitions = mergeNetworks(t, u)
	e.ConfigFiles = mergeKeyed(t.ConfigFiles, u.ConfigFiles, func(v ConfigFile) string { return v.Path }, func(v *ConfigFile, s Source) { v.Source = s })
	e.mergeFiles(t, u)
	var fromUser map[string]bool
	e.Options, fromUser = mergeOptions(t.Options.Canonical(), u.Options.Canonical())
	e.OptionFields = e.Options.Fields(fromUser)
	e.normalize()
	return e
}

func pickScalar[T comparable](tmpl, user T) Value[T] {
	var zero T
	if user != zero {
		return Value[T]{Value: user, Source: SourceUser}
	}
	return Value[T]{Value: tmpl, Source: SourceTemplate}
}

func pickList[T any](tmpl, user []T) Value[[]T] {
	if len(user) > 0 {
		return Value[[]T]{Value: slices.Clone(user), Source: SourceUser}
	}
	return Value[[]T]{Value: slices.Clone(tmpl), Source: SourceTemplate}
}

func mergeKeyed[T any](tmpl, user []T, key func(T) string, setSource func(*T, Source)) []T {
	byKey := make(map[string]T, len(tmpl)+len(user))
	for _, v := range tmpl {
		setSource(&v, SourceTemplate)
		byKey[key(v)] = v
	}
	for _, v := range user {
		setSource(&v, SourceUser)
		byKey[key(v)] = v
	}
	out := make([]T, 0, len(byKey))
	for _, v := range byKey {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return out
}

func cloneHealthcheck(h *Healthcheck) *Healthcheck {
	if h == nil {
		return nil
	}
	c := *h
	c.Test = slices.Clone(h.Test)
	return &c
}

// normalize puts every collection in canonical order and replaces nil
// slices by empty ones, so equal specs serialise identically.
func (e *Effective) normalize() {
	e.Command.Value = nonNil(e.Command.Value)
	e.Entrypoint.Value = nonNil(e.Entrypoint.Value)
	e.CapAdd.Value = nonNil(e.CapAdd.Value)
	e.Ports.Value = nonNil(e.Ports.Value)
	slices.SortStableFunc(e.Ports.Value, ComparePorts)
	e.Volumes.Value = nonNil(e.Volumes.Value)
	slices.SortStableFunc(e.Volumes.Value, func(a, b Volume) int { return cmp.Compare(a.Target, b.Target) })
	e.DependsOn.Value = nonNil(e.DependsOn.Value)
	slices.SortStableFunc(e.DependsOn.Value, func(a, b Dependency) int { return cmp.Compare(a.Name, b.Name) })
	for i := range e.DependsOn.Value {
		if e.DependsOn.Value[i].Condition == "" {
			e.DependsOn.Value[i].Condition = ConditionStarted
		}
	}
	for i := range e.Ports.Value {
		if e.Ports.Value[i].Protocol == "" {
			e.Ports.Value[i].Protocol = "tcp"
		}
	}
	for i := range e.ConfigFiles {
		e.ConfigFiles[i].Mode = e.ConfigFiles[i].FileMode()
	}
	e.Env = nonNil(e.Env)
	e.Labels = nonNil(e.Labels)
	e.ConfigFiles = nonNil(e.ConfigFiles)
	e.OptionFields = nonNil(e.OptionFields)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// ComparePorts orders ports by container port, protocol, host IP, host port.
func ComparePorts(a, b Port) int {
	return cmp.Or(
		cmp.Compare(a.ContainerPort, b.ContainerPort),
		cmp.Compare(a.Protocol, b.Protocol),
		cmp.Compare(a.HostIP, b.HostIP),
		cmp.Compare(a.HostPort, b.HostPort),
	)
}

// EnvMap returns the effective environment as a map of real values. It is
// for apply only: never log or render it.
func (e Effective) EnvMap() map[string]string {
	m := make(map[string]string, len(e.Env))
	for _, v := range e.Env {
		m[v.Key] = v.Value
	}
	return m
}

// Redacted returns a copy whose secret env values are replaced by
// RedactedValue. Use it for everything that leaves the process: API
// responses, CLI output, logs, approval rows.
func (e Effective) Redacted() Effective {
	c := e
	c.Env = make([]EnvVar, len(e.Env))
	for i, v := range e.Env {
		if v.IsSecret() {
			v.Value = RedactedValue
			v.Secret = true
		}
		c.Env[i] = v
	}
	c.OptionFields = make([]OptionField, len(e.OptionFields))
	for i, f := range e.OptionFields {
		if f.Secret {
			f.Value = RedactedValue
		}
		c.OptionFields[i] = f
	}
	c.redactFiles()
	c.Build.Value = e.Build.Value.Redacted()
	return c
}
