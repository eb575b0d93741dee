package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// fakeEdits is an EditStore over the fake store's stacks: every stack is
// at revision fakeRevision, "shop" has revisions 1 and 2, and changes are
// computed (previewed) but not kept.
type fakeEdits struct {
	store *fakeStore
	// failWith makes every call fail.
	failWith error
}

const fakeRevision = 2

func (f *fakeEdits) stack(name string) (spec.Stack, error) {
	if f.failWith != nil {
		return spec.Stack{}, f.failWith
	}
	return f.store.Stack(context.Background(), name)
}

func (f *fakeEdits) check(name string, want *int) error {
	if want != nil && *want != fakeRevision {
		return &state.RevisionMismatchError{Stack: name, Expected: *want, Current: fakeRevision}
	}
	return nil
}

func (f *fakeEdits) StackRevision(_ context.Context, name string) (int, error) {
	if _, err := f.stack(name); err != nil {
		return 0, err
	}
	return fakeRevision, nil
}

func (f *fakeEdits) Revisions(_ context.Context, name string) ([]state.Revision, error) {
	st, err := f.stack(name)
	if err != nil {
		return nil, err
	}
	first, _ := json.Marshal(plan.Preview(spec.Stack{}, st, testInstallation("/tmp"), time.Now()))
	off := st
	off.Enabled = false
	second, _ := json.Marshal(plan.Preview(st, off, testInstallation("/tmp"), time.Now()))
	one := 1
	return []state.Revision{
		{StackID: st.ID, Number: 2, Author: "alice", Kind: state.RevisionRevert, RevertedTo: &one, CreatedAt: time.Now(), Diff: second},
		{StackID: st.ID, Number: 1, Author: "api", Kind: state.RevisionImport, CreatedAt: time.Now(), Diff: first},
	}, nil
}

func (f *fakeEdits) preview(st spec.Stack) (spec.Stack, *plan.Plan) {
	before, err := f.stack(st.Name)
	if err != nil {
		before = spec.Stack{}
	}
	st.ID = before.ID
	for i, inst := range st.Instances {
		st.Instances[i].Effective = spec.Merge(nil, inst.Overrides)
	}
	return before, plan.Preview(before, st, testInstallation("/tmp"), time.Now())
}

func (f *fakeEdits) PreviewImport(_ context.Context, st spec.Stack) (state.ImportPreview, error) {
	if f.failWith != nil {
		return state.ImportPreview{}, f.failWith
	}
	if err := templatesKnown(st); err != nil {
		return state.ImportPreview{}, err
	}
	before, p := f.preview(st)
	rev := 0
	if before.ID != 0 {
		rev = fakeRevision
	}
	return state.ImportPreview{Plan: p, Revision: rev, Create: before.ID == 0}, nil
}

// templatesKnown refuses templates the fake catalog lacks (it has only
// "node").
func templatesKnown(st spec.Stack) error {
	missing := &state.MissingTemplatesError{Stack: st.Name}
	for _, inst := range st.Instances {
		if n := inst.TemplateName(); n != "" && n != "node" {
			missing.Missing = append(missing.Missing, state.MissingTemplate{Instance: inst.Name, Template: n})
		}
	}
	if len(missing.Missing) > 0 {
		return missing
	}
	return nil
}

func (f *fakeEdits) ImportStack(ctx context.Context, st spec.Stack) (state.ImportResult, error) {
	p, err := f.PreviewImport(ctx, st)
	if err != nil {
		return state.ImportResult{}, err
	}
	res := state.ImportResult{StackID: 1, StackAction: state.ActionUpdated, Revision: fakeRevision + 1, Preview: p.Plan}
	if p.Create {
		res.StackID, res.StackAction, res.Revision = 9, state.ActionCreated, 1
	}
	return res, nil
}

func (f *fakeEdits) ImportStackAt(ctx context.Context, st spec.Stack, ifRevision int) (state.ImportResult, error) {
	if _, err := f.stack(st.Name); err == nil {
		if err := f.check(st.Name, &ifRevision); err != nil {
			return state.ImportResult{}, err
		}
	} else if ifRevision != 0 {
		return state.ImportResult{}, &state.RevisionMismatchError{Stack: st.Name, Expected: ifRevision}
	}
	return f.ImportStack(ctx, st)
}

func (f *fakeEdits) EditInstance(_ context.Context, stack, instance string, o spec.Overrides, opts state.EditOptions) (state.EditResult, error) {
	st, err := f.stack(stack)
	if err != nil {
		return state.EditResult{}, err
	}
	if err := f.check(stack, opts.IfRevision); err != nil {
		return state.EditResult{}, err
	}
	i := slices.IndexFunc(st.Instances, func(inst spec.Instance) bool { return inst.Name == instance })
	if i < 0 {
		return state.EditResult{}, fmt.Errorf("instance %q of stack %q %w", instance, stack, state.ErrNotFound)
	}
	after := st
	after.Instances = slices.Clone(st.Instances)
	inst := after.Instances[i]
	inst.Overrides = o
	var base *spec.ServiceSpec
	if inst.Template != nil {
		base = &inst.Template.Spec
	}
	inst.Effective = spec.Merge(base, o)
	after.Instances[i] = inst
	if inst.Effective.Image.Value == "" {
		return state.EditResult{}, &spec.ValidationError{Problems: []spec.Problem{{Field: "instances." + instance + ".image", Message: "an image is required"}}}
	}
	p := plan.Preview(st, after, testInstallation("/tmp"), time.Now())
	res := state.EditResult{Preview: p, Revision: fakeRevision}
	if !opts.DryRun && !p.Empty() {
		res.Revision, res.Changed = fakeRevision+1, true
	}
	return res, nil
}

func (f *fakeEdits) RevertStack(_ context.Context, name string, number int, opts state.EditOptions) (state.EditResult, error) {
	st, err := f.stack(name)
	if err != nil {
		return state.EditResult{}, err
	}
	if number > fakeRevision {
		return state.EditResult{}, &state.RevisionNotFoundError{Stack: name, Number: number}
	}
	if err := f.check(name, opts.IfRevision); err != nil {
		return state.EditResult{}, err
	}
	off := st
	off.Enabled = !st.Enabled
	res := state.EditResult{Preview: plan.Preview(st, off, testInstallation("/tmp"), time.Now()), Revision: fakeRevision}
	if !opts.DryRun {
		res.Revision, res.Changed = fakeRevision+1, true
	}
	return res, nil
}
