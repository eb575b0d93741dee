package plan

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// Reasons of the changes of a preview.
const (
	previewAddReason    = "the instance is added to the desired state"
	previewModifyReason = "the instance's desired state changes"
	previewRemoveReason = "the instance is removed from the desired state"
)

// Preview returns the change from one desired state of a stack to another
// (an import, an edit, a revert before it is saved) in the plan's format:
// one change per instance that is added (+), changed (~) or removed (-),
// per field with its source, computed with the same field diff as plans
// (the record each side's container would carry). Instances are matched
// by name. before is the zero Stack for a stack that does not exist yet;
// after has no instances for a deleted stack. An instance that is turned
// off (the instance or the stack disabled) shows as a change of "enabled".
//
// Modify changes say Recreate when a field other than enabled changes:
// compose would recreate such a container. The token is the one after's
// desired state will have once saved, so that it can be approved; it is
// empty when after creates the stack or an instance, whose ids (which the
// token covers) are given only when the change is saved. Nothing is
// compared with what runs: the plan of the stack, once the change is
// saved, says what apply would do. Secret values of both sides are
// redacted as in plans. It is pure.
func Preview(before, after spec.Stack, paths project.Options, now time.Time) *Plan {
	p := &Plan{
		FormatVersion: FormatVersion,
		StackID:       cmp.Or(after.ID, before.ID),
		Stack:         cmp.Or(after.Name, before.Name),
		Token:         previewToken(after, paths),
		GeneratedAt:   now.UTC(),
		Changes:       []Change{},
		Warnings:      []string{},
		Notices:       []Notice{},
	}
	old := make(map[string]spec.Instance, len(before.Instances))
	for _, inst := range before.Instances {
		old[inst.Name] = inst
	}
	for _, inst := range after.Instances {
		prev, had := old[inst.Name]
		delete(old, inst.Name)
		if ch, ok := previewChange(before, prev, had, after, inst, paths); ok {
			p.Changes = append(p.Changes, ch)
		}
	}
	gone := make([]string, 0, len(old))
	for name := range old {
		gone = append(gone, name)
	}
	slices.Sort(gone)
	for _, name := range gone {
		inst := old[name]
		p.Changes = append(p.Changes, Change{
			Action: ActionRemove, Instance: name, InstanceID: inst.ID, Template: inst.TemplateName(),
			Container: spec.ContainerName(before.Name, name), Reason: previewRemoveReason, Fields: []FieldChange{},
		})
	}
	scrub(p, before.Scrubber())
	scrub(p, after.Scrubber())
	finish(p)
	return p
}

// previewToken is after's token, or "" when after holds an id not given
// yet (see Preview).
func previewToken(after spec.Stack, paths project.Options) string {
	if after.ID == 0 {
		return ""
	}
	for _, inst := range after.Instances {
		if inst.ID == 0 {
			return ""
		}
	}
	return Token(Desired{Stack: after, Paths: paths})
}

// previewChange is the change of one instance of after (prev is its
// version in before, when had).
func previewChange(before spec.Stack, prev spec.Instance, had bool, after spec.Stack, inst spec.Instance, paths project.Options) (Change, bool) {
	want := project.NewRecord(after, inst, paths)
	on := after.Enabled && inst.Enabled
	ch := Change{Instance: inst.Name, InstanceID: cmp.Or(inst.ID, prev.ID), Template: inst.TemplateName(),
		Container: spec.ContainerName(after.Name, inst.Name)}
	if !had {
		ch.Action, ch.Reason = ActionAdd, previewAddReason
		ch.Fields, _ = diffRecords(project.Record{}, want, inst, paths.Keys)
		if !on {
			ch.Fields = append(ch.Fields, enabledChange(true, false))
		}
		return ch, true
	}
	ch.Action, ch.Reason = ActionModify, previewModifyReason
	ch.Fields, _ = diffRecords(project.NewRecord(before, prev, paths), want, inst, paths.Keys)
	ch.Recreate = len(ch.Fields) > 0
	if was := before.Enabled && prev.Enabled; was != on {
		ch.Fields = append(ch.Fields, enabledChange(was, on))
	}
	return ch, len(ch.Fields) > 0
}

func enabledChange(was, is bool) FieldChange {
	return FieldChange{Path: "enabled", Old: str(strconv.FormatBool(was)), New: str(strconv.FormatBool(is)), Source: spec.SourceUser}
}
