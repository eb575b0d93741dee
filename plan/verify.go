package plan

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

// MismatchKind says how what the engine reports after an apply differs
// from what the apply's plan predicted.
type MismatchKind string

// Mismatch kinds.
const (
	// MismatchNotApplied: a change of the plan was not carried out (the
	// container is missing, still there, not running, or a field still
	// differs).
	MismatchNotApplied MismatchKind = "not_applied"
	// MismatchUnplanned: an instance the plan did not touch changed: its
	// container was replaced or is gone.
	MismatchUnplanned MismatchKind = "unplanned"
	// MismatchNotConverged: a fresh plan after the apply has a change for
	// an instance the plan did not touch (something the plan did not
	// foresee, or a change made while the apply ran).
	MismatchNotConverged MismatchKind = "not_converged"
)

// MismatchKinds returns every kind.
func MismatchKinds() []MismatchKind {
	return []MismatchKind{MismatchNotApplied, MismatchUnplanned, MismatchNotConverged}
}

// Mismatch is one difference between what an apply's plan predicted and
// what the engine reports after it. Field names the field that differs
// ("env.DB_HOST", "state", "networks", or "container" when the container
// itself is missing or left behind); Detail says it in a sentence. Values
// come from redacted plans, so a mismatch shows no secret.
type Mismatch struct {
	Kind     MismatchKind `json:"kind"`
	Instance string       `json:"instance"`
	Field    string       `json:"field"`
	Detail   string       `json:"detail"`
}

func (m Mismatch) String() string { return m.Instance + ": " + m.Detail }

// Verify compares an apply's prediction with the engine after it:
// predicted is d's plan computed under the stack's lock right before the
// apply against before; fresh is d's plan computed against after, the
// engine right after the apply. It returns nothing when every change of
// predicted was carried out (each container the plan creates, recreates
// or starts exists, runs and publishes its ports, and a fresh plan has no
// field left to change; each container it removes is gone), every other
// container of the stack is the one it was, and fresh is empty; otherwise
// one Mismatch per difference, sorted by instance, kind and field.
func Verify(d Desired, predicted *Plan, before, after Observed, fresh *Plan) []Mismatch {
	var out []Mismatch
	planned := map[int64]Change{}
	removed := map[string]bool{} // short ids of containers the plan removes
	for _, c := range predicted.Changes {
		if c.Action == ActionRemove {
			removed[c.ContainerID] = true
			continue
		}
		planned[c.InstanceID] = c
	}
	afterByID := map[string]spec.Container{}
	afterByInstance := map[int64][]spec.Container{}
	for _, c := range after.Containers {
		afterByID[shortID(c.ID)] = c
		afterByInstance[c.InstanceID] = append(afterByInstance[c.InstanceID], c)
	}
	freshByInstance := map[string][]Change{}
	for _, c := range fresh.Changes {
		freshByInstance[c.Instance] = append(freshByInstance[c.Instance], c)
	}
	explained := map[string]bool{} // instances whose fresh changes a mismatch names

	for _, c := range predicted.Changes {
		switch {
		case c.Action == ActionRemove:
			if left, ok := afterByID[c.ContainerID]; ok {
				out = append(out, Mismatch{Kind: MismatchNotApplied, Instance: c.Instance, Field: "container",
					Detail: fmt.Sprintf("the plan removed container %s (%s); it is still there (%s)", c.ContainerID, strings.TrimPrefix(c.Container, "/"), left.State)})
				explained[c.Instance] = true
			}
		case len(afterByInstance[c.InstanceID]) == 0:
			out = append(out, Mismatch{Kind: MismatchNotApplied, Instance: c.Instance, Field: "container",
				Detail: fmt.Sprintf("the plan %s container %s; no container of the instance exists after the apply", verb(c), strings.TrimPrefix(c.Container, "/"))})
			explained[c.Instance] = true
		default:
			for _, f := range freshChangesOf(freshByInstance[c.Instance], c.InstanceID) {
				out = append(out, fieldMismatch(MismatchNotApplied, c.Instance, f))
			}
			if inst, ok := instanceByID(d.Stack, c.InstanceID); ok {
				for _, ct := range afterByInstance[c.InstanceID] {
					if missing := unpublished(inst.Effective.Ports.Value, ct); len(missing) > 0 && ct.State == spec.StateRunning {
						out = append(out, Mismatch{Kind: MismatchNotApplied, Instance: c.Instance, Field: "ports",
							Detail: fmt.Sprintf("container %s runs but does not publish %s", shortID(ct.ID), strings.Join(missing, ", "))})
					}
				}
			}
			explained[c.Instance] = true
		}
	}

	for _, b := range before.Containers {
		short := shortID(b.ID)
		if _, ok := planned[b.InstanceID]; ok || removed[short] {
			continue
		}
		name := cmp.Or(b.InstanceName, b.Service, strings.TrimPrefix(b.Name, "/"))
		if _, ok := afterByID[short]; ok {
			continue
		}
		detail := fmt.Sprintf("the plan left container %s alone; it is gone after the apply", short)
		if now := afterByInstance[b.InstanceID]; len(now) > 0 && b.InstanceID != 0 {
			detail = fmt.Sprintf("the plan left container %s alone; the apply replaced it with %s", short, shortID(now[0].ID))
		}
		out = append(out, Mismatch{Kind: MismatchUnplanned, Instance: name, Field: "container", Detail: detail})
		explained[name] = true
	}

	for _, c := range fresh.Changes {
		if explained[c.Instance] {
			continue
		}
		if len(c.Fields) == 0 {
			out = append(out, Mismatch{Kind: MismatchNotConverged, Instance: c.Instance, Field: "container",
				Detail: "a plan right after the apply " + wouldDo(c) + " container " + strings.TrimPrefix(c.Container, "/") + ": " + c.Reason})
			continue
		}
		for _, f := range c.Fields {
			out = append(out, fieldMismatch(MismatchNotConverged, c.Instance, f))
		}
	}
	slices.SortStableFunc(out, func(a, b Mismatch) int {
		return cmp.Or(strings.Compare(a.Instance, b.Instance), strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Field, b.Field))
	})
	return out
}

func instanceByID(s spec.Stack, id int64) (spec.Instance, bool) {
	for _, inst := range s.Instances {
		if inst.ID == id {
			return inst, true
		}
	}
	return spec.Instance{}, false
}

// unpublished lists the desired ports a running container does not
// publish: a binding to a fixed host port must be published on that port
// (on the desired host address, or any when none is set); one without a
// host port on any (compose publishes every entry of ports, an entry
// without a host port on an ephemeral one).
func unpublished(want []spec.Port, c spec.Container) []string {
	var missing []string
	for _, w := range want {
		found := slices.ContainsFunc(c.Published, func(p spec.Port) bool {
			return p.ContainerPort == w.ContainerPort && cmp.Or(p.Protocol, "tcp") == cmp.Or(w.Protocol, "tcp") &&
				(w.HostPort == 0 || p.HostPort == w.HostPort) && (w.HostIP == "" || p.HostIP == w.HostIP)
		})
		if !found {
			missing = append(missing, w.String())
		}
	}
	return missing
}

// freshChangesOf returns the fields by which the fresh plan still differs
// for an instance, with a field "container" for a change that names none
// (a container that cannot be applied, a duplicate to remove).
func freshChangesOf(changes []Change, instanceID int64) []FieldChange {
	var out []FieldChange
	for _, c := range changes {
		if c.InstanceID != instanceID {
			continue
		}
		if len(c.Fields) == 0 {
			out = append(out, FieldChange{Path: "container", Reason: "a plan right after the apply " + wouldDo(c) + " container " + strings.TrimPrefix(c.Container, "/") + ": " + c.Reason})
			continue
		}
		out = append(out, c.Fields...)
	}
	return out
}

// fieldMismatch names one field a fresh plan still changes.
func fieldMismatch(kind MismatchKind, instance string, f FieldChange) Mismatch {
	if f.Old == nil && f.New == nil {
		return Mismatch{Kind: kind, Instance: instance, Field: f.Path, Detail: f.Path + ": " + f.Reason}
	}
	detail := fmt.Sprintf("%s is %s on the engine, the plan wanted %s", f.Path, quoteOrNone(f.Old), quoteOrNone(f.New))
	if f.Reason != "" {
		detail += " (" + f.Reason + ")"
	}
	return Mismatch{Kind: kind, Instance: instance, Field: f.Path, Detail: detail}
}

func quoteOrNone(v *string) string {
	if v == nil {
		return "unset"
	}
	return fmt.Sprintf("%q", *v)
}

// verb says what a change does to its container, in the past tense.
func verb(c Change) string { return doing(c)[0] }

// wouldDo says what a fresh plan's change would do to its container.
func wouldDo(c Change) string { return "would " + doing(c)[1] }

// doing is what a change does to its container: past tense and infinitive.
func doing(c Change) [2]string {
	switch {
	case c.Action == ActionAdd:
		return [2]string{"created", "create"}
	case c.Action == ActionRemove:
		return [2]string{"removed", "remove"}
	case c.Recreate:
		return [2]string{"recreated", "recreate"}
	}
	return [2]string{"started", "start"}
}

// SummarizeMismatches is the one-line account of mismatches an approval's
// message carries: "applied with differences: " and each mismatch, the
// first three in full.
func SummarizeMismatches(ms []Mismatch) string {
	const shown = 3
	parts := make([]string, 0, shown)
	for i, m := range ms {
		if i == shown {
			parts = append(parts, fmt.Sprintf("and %d more", len(ms)-shown))
			break
		}
		parts = append(parts, m.String())
	}
	return "Applied with differences: " + strings.Join(parts, "; ") + "."
}
