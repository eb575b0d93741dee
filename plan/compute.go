package plan

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/docker/compose/v5/pkg/api"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// Desired is the desired side of one stack: its live instances with
// effective specs, and the installation settings apply builds it with
// (part of what compose hashes): where host-side files go and the
// installation keys that make the staleness token and every digest of a
// secret in labels. The caller reads them (state.Store.Installation); the
// planner never does.
type Desired struct {
	Stack spec.Stack
	Paths project.Options
}

// Compute returns the plan that converges the observed containers to the
// desired stack. Containers are matched to instances by their id labels,
// never by name. It is pure and deterministic for given inputs and now.
//
// Every text of the plan is redacted here, once: secret env values are
// shown as digests and a secret value embedded in any other value, reason
// or warning is scrubbed (see scrub). Callers never redact again.
func Compute(d Desired, o Observed, now time.Time) (*Plan, error) {
	return ComputeCached(d, o, now, nil)
}

// ComputeCached is Compute with compose's config hashes memoized in
// hashes (nil: none). The planner keeps one HashCache for the process.
func ComputeCached(d Desired, o Observed, now time.Time, hashes *HashCache) (*Plan, error) {
	s := d.Stack
	p := &Plan{
		FormatVersion: FormatVersion,
		StackID:       s.ID,
		Stack:         s.Name,
		Token:         Token(d),
		GeneratedAt:   now.UTC(),
		Changes:       []Change{},
		Warnings:      []string{},
		Notices:       []Notice{},
	}
	records := &stackRecords{d: d}
	byInstance := make(map[int64][]spec.Container, len(s.Instances))
	for _, c := range o.Containers {
		if c.StackID != s.ID {
			continue
		}
		byInstance[c.InstanceID] = append(byInstance[c.InstanceID], c)
	}
	known := make(map[int64]bool, len(s.Instances))
	enabled := make(map[string]bool, len(s.Instances))
	ids := make(map[string]string, len(s.Instances))
	for i := range s.Instances {
		inst := &s.Instances[i] // not a copy: an instance is kilobytes
		enabled[inst.Name] = s.Enabled && inst.Enabled
		if cs := newestFirst(byInstance[inst.ID]); len(cs) > 0 && enabled[inst.Name] {
			ids[inst.Name] = cs[0].ID
		}
	}
	for i := range s.Instances {
		inst := &s.Instances[i]
		known[inst.ID] = true
		containers := newestFirst(byInstance[inst.ID])
		if !s.Enabled || !inst.Enabled {
			for _, c := range containers {
				p.Changes = append(p.Changes, disabledRemoval(s, *inst, c))
			}
			continue
		}
		for _, c := range containersAfterFirst(containers) {
			p.Changes = append(p.Changes, removal(inst.Name, inst.ID, c, "another container of this instance is kept; the duplicate is removed"))
		}
		ch, warnings, err := instanceChange(d, hashes, p.Token, inst, containers, o, enabled, ids, records)
		if err != nil {
			return nil, err
		}
		p.Warnings = append(p.Warnings, warnings...)
		if ch != nil {
			p.Changes = append(p.Changes, *ch)
		}
	}
	for id, containers := range byInstance {
		if known[id] {
			continue
		}
		for _, c := range containers {
			reason := "its instance no longer exists (deleted or never in this stack)"
			if id == 0 {
				reason = "it carries this stack's labels but no valid instance id"
			}
			p.Changes = append(p.Changes, removal(cmp.Or(c.InstanceName, c.Service, c.Name), id, c, reason))
		}
	}
	cascadeShared(p, s, enabled, ids)
	p.Warnings = append(p.Warnings, unsupportedWarnings(s)...)
	p.Warnings = append(p.Warnings, networkWarnings(s, enabled)...)
	notices, err := VolumeNotices(s, o.Volumes)
	if err != nil {
		return nil, err
	}
	p.Notices = append(p.Notices, notices...)
	addRemoval(p, s, o)
	addSubnet(p, s, o)
	if len(p.Changes) > 0 || len(p.Warnings) > 0 {
		scrub(p, records.scrubber())
	}
	finish(p)
	return p, nil
}

// scrub removes secret values that appear inside non-secret text (a DSN
// in an ordinary env var, a password in a command line) from every value,
// reason and warning of the plan, leaving the names the controller
// generates for the stack alone (see spec.Scrubber). The old value of a
// field whose new value embeds a secret is hidden whole (see below).
func scrub(p *Plan, sc spec.Scrubber) {
	for i := range p.Changes {
		c := &p.Changes[i]
		c.Reason = sc.Scrub(c.Reason)
		for j := range c.Fields {
			f := &c.Fields[j]
			f.Reason = sc.Scrub(f.Reason)
			if f.New != nil {
				if scrubbed := sc.Scrub(*f.New); scrubbed != *f.New {
					*f.New = scrubbed
					// The value embeds a secret, so its old value most likely
					// embedded that secret's previous value: after a rotation
					// that value is no longer among the stack's secrets and
					// cannot be scrubbed by value. Hide the old value whole,
					// unless it comes from a record that already replaced
					// the secret with a digest (shown as RedactedValue).
					if f.Old != nil && !strings.Contains(*f.Old, spec.RedactedValue) {
						f.Old = str(spec.RedactedValue)
					}
				}
			}
			if f.Old != nil {
				*f.Old = sc.Scrub(*f.Old)
			}
		}
	}
	for i, w := range p.Warnings {
		p.Warnings[i] = sc.Scrub(w)
	}
}

func newestFirst(cs []spec.Container) []spec.Container {
	if len(cs) < 2 {
		return cs
	}
	cs = slices.Clone(cs)
	slices.SortStableFunc(cs, func(a, b spec.Container) int {
		return cmp.Or(b.Created.Compare(a.Created), cmp.Compare(a.ID, b.ID))
	})
	return cs
}

func containersAfterFirst(cs []spec.Container) []spec.Container {
	if len(cs) <= 1 {
		return nil
	}
	return cs[1:]
}

// instanceChange compares an enabled instance with its container (the
// newest one, if any) and returns nil when they are converged.
func instanceChange(d Desired, hashes *HashCache, token string, inst *spec.Instance, containers []spec.Container, o Observed, enabled map[string]bool, ids map[string]string, records *stackRecords) (*Change, []string, error) {
	s := d.Stack
	var warnings []string
	for _, dep := range inst.Effective.DependsOn.Value {
		if !enabled[dep.Name] {
			warnings = append(warnings, project.IgnoredDependency(inst.Name, dep.Name))
		}
	}
	refusal, engineWarnings := engineChecks(o.Engine, *inst)
	warnings = append(warnings, engineWarnings...)
	var label string // the newest container's record, which a converged one's equals
	if len(containers) > 0 {
		label = containers[0].Labels[spec.LabelSpec]
	}
	want, err := serviceRecord(hashes, records, inst, d.Paths, token, label)
	if err == nil && refusal != "" {
		err = &cannotApplyError{err: errors.New(refusal)}
	}
	if err != nil {
		var ve *cannotApplyError
		if !errors.As(err, &ve) {
			return nil, nil, err
		}
		ch := &Change{Action: ActionAdd, Instance: inst.Name, InstanceID: inst.ID, Template: inst.TemplateName(),
			Container: spec.ContainerName(s.Name, inst.Name), Reason: "cannot be applied: " + ve.Error(), Fields: []FieldChange{}}
		if len(containers) > 0 {
			ch.Action, ch.ContainerID = ActionModify, shortID(containers[0].ID)
		}
		return ch, append(warnings, fmt.Sprintf("Instance %q cannot be applied: %v.", inst.Name, ve)), nil
	}
	if len(containers) == 0 {
		fields, _ := diffRecords(project.Record{}, project.NewRecord(s, *inst, d.Paths), *inst, d.Paths.Keys)
		return &Change{
			Action: ActionAdd, Instance: inst.Name, InstanceID: inst.ID, Template: inst.TemplateName(),
			Container: spec.ContainerName(s.Name, inst.Name), Reason: "no container exists; apply creates it", Fields: fields,
		}, warnings, nil
	}
	c := containers[0]
	ch := &Change{Action: ActionModify, Instance: inst.Name, InstanceID: inst.ID, Template: inst.TemplateName(),
		Container: strings.TrimPrefix(c.Name, "/"), ContainerID: shortID(c.ID), Fields: []FieldChange{}}
	var reasons []string
	converged, resolved := c.Labels[spec.LabelSpec] == want, true
	if !recordDecides(c, *inst) {
		var hash string
		hash, resolved, err = serviceHash(hashes, s, *inst, d.Paths, token, ids)
		if err != nil {
			return nil, nil, err
		}
		converged = resolved && c.ConfigHash == hash
	}
	switch {
	case !resolved:
		// A container it shares volumes or namespaces with is missing;
		// cascadeShared names it when the plan creates that container.
		ch.Recreate = true
		ch.Fields = append(ch.Fields, runtimeField("config", "a container it shares volumes or a namespace with is missing"))
		reasons = append(reasons, "a container it shares volumes or a namespace with is missing")
	case !converged:
		ch.Recreate = true
		reason := "configuration changed"
		var fields []FieldChange
		if had, ok := project.DecodeRecord(c.Labels[spec.LabelSpec]); ok {
			var rekeyed int
			fields, rekeyed = diffRecords(had, project.NewRecord(s, *inst, d.Paths), *inst, d.Paths.Keys)
			if rekeyed > 0 && rekeyed == len(fields) {
				reason = rekeyReason(had.KeyID)
			}
		} else {
			fields = append(fields, runtimeField("config", "the container was not created by this controller from a recorded spec"))
		}
		if len(fields) == 0 {
			fields = append(fields, runtimeField("config", "the container's configuration was changed outside the controller"))
		}
		ch.Fields = append(ch.Fields, fields...)
		reasons = append(reasons, reason)
	}
	if f, ok := imageDrift(c, project.Image(s, *inst), o.ImageIDs); ok && !hasPath(ch.Fields, "image") {
		ch.Recreate = true
		ch.Fields = append(ch.Fields, f)
		reasons = append(reasons, "image updated")
	}
	if f, ok := networkDrift(c, desiredNetworks(s, *inst), func(name string) string { return o.networkID(s, name) }); ok && !changesNetworks(ch.Fields) {
		ch.Recreate = true
		ch.Fields = append(ch.Fields, f)
		reasons = append(reasons, "left its network")
	}
	if f, ok := stateDrift(c); ok {
		ch.Fields = append(ch.Fields, f)
		reasons = append(reasons, f.Reason)
	}
	if len(ch.Fields) == 0 {
		return nil, warnings, nil
	}
	verb := "start"
	switch {
	case ch.Recreate:
		verb = "recreate"
	case c.Running():
		verb = "restart"
	case c.State == spec.StatePaused:
		verb = "unpause"
	}
	ch.Reason = verb + ": " + strings.Join(reasons, ", ")
	return ch, warnings, nil
}

// cascadeShared recreates, in p, every container that shares volumes
// (volumes_from) or a namespace (ipc, pid: service:NAME) with the
// container of an instance that p creates or recreates: compose resolves
// such a reference to the container's id, so it recreates the dependent
// container with its parent. Chains are followed.
func cascadeShared(p *Plan, s spec.Stack, enabled map[string]bool, ids map[string]string) {
	index := map[string]int{} // instance → its add or modify change
	for i, ch := range p.Changes {
		if ch.Action != ActionRemove {
			index[ch.Instance] = i
		}
	}
	replaced := func(name string) bool {
		i, ok := index[name]
		return ok && (p.Changes[i].Action == ActionAdd || p.Changes[i].Recreate)
	}
	for changed := true; changed; {
		changed = false
		for _, inst := range s.Instances {
			if !enabled[inst.Name] {
				continue
			}
			for _, r := range sharedRefs(inst.Effective.Options) {
				i, has := index[inst.Name]
				if !replaced(r.target) || (has && (p.Changes[i].Action == ActionAdd || hasPath(p.Changes[i].Fields, r.key))) {
					continue
				}
				if !has {
					p.Changes = append(p.Changes, Change{Action: ActionModify, Instance: inst.Name, InstanceID: inst.ID,
						Template: inst.TemplateName(), Container: spec.ContainerName(s.Name, inst.Name),
						ContainerID: shortID(ids[inst.Name]), Fields: []FieldChange{}})
					i = len(p.Changes) - 1
					index[inst.Name] = i
				}
				recreateWith(&p.Changes[i], r)
				changed = true
			}
		}
	}
}

// sharedRef is one reference of a service to another instance's
// container: key is the option that makes it (volumes_from, ipc, pid,
// network_mode).
type sharedRef struct{ key, target string }

// sharedRefs lists the references of project.References, by key.
func sharedRefs(o spec.Options) []sharedRef {
	refs := project.References(o)
	if refs == nil {
		return nil
	}
	var out []sharedRef
	for _, key := range slices.Sorted(maps.Keys(refs)) {
		for _, target := range refs[key] {
			out = append(out, sharedRef{key: key, target: target})
		}
	}
	return out
}

// recreateWith makes ch recreate its container because the container it
// shares r.key with is created or recreated: the field replaces the
// runtime "config" field an unresolvable reference left.
func recreateWith(ch *Change, r sharedRef) {
	reason := fmt.Sprintf("it shares %s with %s, which is created or recreated", r.key, r.target)
	ch.Recreate = true
	ch.Fields = slices.DeleteFunc(ch.Fields, func(f FieldChange) bool { return f.Path == "config" && f.Source == spec.SourceRuntime })
	ch.Fields = append(ch.Fields, runtimeField(r.key, reason))
	if _, rest, ok := strings.Cut(ch.Reason, ": "); ok {
		reason = rest + ", " + reason
	}
	ch.Reason = "recreate: " + reason
}

// rekeyReason is the reason of a recreate whose only cause is that the
// digests in the container's labels were made with another installation
// key than the current one.
func rekeyReason(keyID int64) string {
	if keyID == 0 {
		return "digests of its secrets and config files were made without an installation key (earlier controller version)"
	}
	return fmt.Sprintf("digests of its secrets and config files were made with retired installation key %d", keyID)
}

func hasPath(fs []FieldChange, path string) bool {
	return slices.ContainsFunc(fs, func(f FieldChange) bool { return f.Path == path })
}

func runtimeField(path, reason string) FieldChange {
	return FieldChange{Path: path, Source: spec.SourceRuntime, Reason: reason}
}

// imageDrift reports a container whose image tag now names another image:
// compose recreates it (its com.docker.compose.image label no longer
// matches).
func imageDrift(c spec.Container, image string, ids map[string]string) (FieldChange, bool) {
	if ids == nil {
		return FieldChange{}, false
	}
	now, ok := ids[image]
	had := c.Labels[api.ImageDigestLabel]
	if !ok || had == "" || now == had {
		return FieldChange{}, false
	}
	return FieldChange{
		Path: "image", Old: str(image + "@" + shortDigest(had)), New: str(image + "@" + shortDigest(now)),
		Source: spec.SourceRuntime, Reason: "the tag now names a different image",
	}, true
}

// stateDrift reports a container that is not running, unhealthy, or in a
// restart loop (its process exited and its restart policy is restarting
// it: between two attempts the engine reports it "restarting").
func stateDrift(c spec.Container) (FieldChange, bool) {
	switch {
	case c.State == spec.StateRunning && c.Health == spec.HealthUnhealthy:
		return FieldChange{Path: "state", Old: str("running (unhealthy)"), New: str("running (healthy)"),
			Source: spec.SourceRuntime, Reason: "container is unhealthy"}, true
	case c.State == spec.StateRestarting:
		return FieldChange{Path: "state", Old: str(fmt.Sprintf("restarting (exit %d, %d restarts)", c.ExitCode, c.RestartCount)),
			New: str(spec.StateRunning), Source: spec.SourceRuntime,
			Reason: "container is in a restart loop: its process keeps exiting and its restart policy restarts it"}, true
	case c.State == spec.StateRunning:
		return FieldChange{}, false
	}
	old := c.State
	if c.State == spec.StateExited {
		old = fmt.Sprintf("exited (%d)", c.ExitCode)
	}
	return FieldChange{Path: "state", Old: str(old), New: str(spec.StateRunning),
		Source: spec.SourceRuntime, Reason: "container is " + c.State}, true
}

func disabledRemoval(s spec.Stack, inst spec.Instance, c spec.Container) Change {
	ch := removal(inst.Name, inst.ID, c, "the instance is disabled")
	path := "enabled"
	if !s.Enabled {
		path, ch.Reason = "stack.enabled", "the stack is disabled"
	}
	ch.Template = inst.TemplateName()
	ch.Fields = []FieldChange{{Path: path, Old: str("true"), New: str("false"), Source: spec.SourceUser}}
	return ch
}

func removal(name string, id int64, c spec.Container, reason string) Change {
	return Change{Action: ActionRemove, Instance: strings.TrimPrefix(name, "/"), InstanceID: id, Container: strings.TrimPrefix(c.Name, "/"),
		ContainerID: shortID(c.ID), Reason: reason, Fields: []FieldChange{}}
}

func unsupportedWarnings(s spec.Stack) []string {
	var ws []string
	if len(s.Wires) > 0 {
		ws = append(ws, fmt.Sprintf("Stack %q has %d wire(s); wires are stored but not applied yet.", s.Name, len(s.Wires)))
	}
	for _, inst := range s.Instances {
		o := inst.Overrides
		if len(o.Domains) > 0 {
			ws = append(ws, fmt.Sprintf("Instance %q has %d domain(s); domains are stored but not applied yet.", inst.Name, len(o.Domains)))
		}
		if len(o.EnvFiles) > 0 {
			ws = append(ws, fmt.Sprintf("Instance %q names env files %s that were not read (they did not exist at import, or were set through the API); their variables are not applied. Create them next to the stack file and import it again.", inst.Name, strings.Join(o.EnvFiles, ", ")))
		}
	}
	return ws
}

var actionOrder = map[Action]int{ActionAdd: 0, ActionModify: 1, ActionRemove: 2}

// finish sorts changes (by instance, then action, then container) and
// counts them.
func finish(p *Plan) {
	slices.SortStableFunc(p.Changes, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Instance, b.Instance), cmp.Compare(actionOrder[a.Action], actionOrder[b.Action]), cmp.Compare(a.ContainerID, b.ContainerID))
	})
	p.Summary = Summary{}
	for _, c := range p.Changes {
		switch c.Action {
		case ActionAdd:
			p.Summary.Add++
		case ActionModify:
			p.Summary.Modify++
		case ActionRemove:
			p.Summary.Remove++
		}
	}
	p.Summary.Remove += p.resourceRemovals()
	p.Summary.Modify += p.networkRecreates()
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// shortDigest is the first 12 hex digits of a digest, without its
// algorithm prefix ("sha256:", "hmac-sha256:").
func shortDigest(d string) string {
	if i := strings.LastIndexByte(d, ':'); i >= 0 {
		d = d[i+1:]
	}
	return shortID(d)
}

func str(s string) *string { return &s }
