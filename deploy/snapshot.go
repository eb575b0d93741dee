package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// Snapshot is the runtime state the planner needs for every stack, taken
// with a constant number of engine calls: one container list (plus
// inspects of new or changed containers, through the Observer), one
// network list, one image list and one volume list.
type Snapshot struct {
	// Containers are all labeled containers, grouped by stack id.
	Containers map[int64][]spec.Container
	// Networks maps devarch-managed network names to their ids.
	Networks map[string]string
	// NetworkStacks maps devarch-managed network names to their
	// devarch.stack_id label ("" when missing).
	NetworkStacks map[string]string
	// NetworkSubnets maps devarch-managed network names to their subnets.
	NetworkSubnets map[string][]string
	// Images maps normalized image references ("postgres:18.2",
	// "ghcr.io/org/app:1") to local image ids.
	Images map[string]string
	// Volumes are the volumes named like a stack's compose volume
	// ("devarch-<stack>_<key>"), whoever created them, by compose project
	// ("devarch-<stack>") and name.
	Volumes map[string]map[string]plan.Volume
	// Engine describes the engine (see Runtime.Engine).
	Engine plan.Engine

	// A Fleet's snapshot (see fleet.go) holds one Snapshot per engine
	// that answered (Engines), the errors of those that did not
	// (EngineErrs), every engine's name and the default engine's; the
	// fields above are then empty and For picks the stack's engine.
	Engines       map[string]Snapshot
	EngineErrs    map[string]error
	EngineNames   []string
	DefaultEngine string
}

// EngineOf returns the engine stack st runs on in a Fleet's snapshot
// ("" for a single engine's).
func (s Snapshot) EngineOf(st spec.Stack) string {
	if s.Engines == nil {
		return ""
	}
	if st.Engine == "" {
		return s.DefaultEngine
	}
	return st.Engine
}

// EngineErr returns why the engine of stack st could not be observed:
// nil when it was (or for a single engine's snapshot), ErrUnknownEngine
// when the stack names an engine the Fleet does not have.
func (s Snapshot) EngineErr(st spec.Stack) error {
	if s.Engines == nil {
		return nil
	}
	name := s.EngineOf(st)
	if err, ok := s.EngineErrs[name]; ok {
		return err
	}
	if _, ok := s.Engines[name]; !ok {
		return fmt.Errorf("stack %q names engine %q, which %w (the engines are %s); set the stack's engine to one of them",
			st.Name, name, ErrUnknownEngine, strings.Join(s.EngineNames, ", "))
	}
	return nil
}

// EngineDown returns the error of the named engine in a Fleet's snapshot
// (nil when it answered, or for a single engine's snapshot).
func (s Snapshot) EngineDown(name string) error {
	if s.Engines == nil {
		return nil
	}
	return s.EngineErrs[name]
}

// Snapshot observes the runtime once. The observer keeps container
// inspects between calls, so a steady-state snapshot costs one container
// list, one network list, one image list and one volume list.
func (o *Observer) Snapshot(ctx context.Context) (Snapshot, error) {
	r := o.rt
	containers, err := o.Observe(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	snap := Snapshot{Containers: map[int64][]spec.Container{}, Networks: map[string]string{}, NetworkStacks: map[string]string{}, Images: map[string]string{}}
	for _, c := range containers {
		snap.Containers[c.StackID] = append(snap.Containers[c.StackID], c)
	}
	r.calls.otherLists.Add(1)
	nets, err := r.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", spec.LabelManagedBy+"="+spec.ManagedByValue)})
	if err != nil {
		return Snapshot{}, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets.Items {
		snap.Networks[n.Name] = n.ID
		snap.NetworkStacks[n.Name] = n.Labels[spec.LabelStackID]
		snap.recordSubnets(n)
	}
	if snap.Engine, err = r.Engine(ctx); err != nil {
		return Snapshot{}, err
	}
	r.calls.otherLists.Add(1)
	imgs, err := r.cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return Snapshot{}, fmt.Errorf("list images: %w", err)
	}
	for _, img := range imgs.Items {
		for _, tag := range img.RepoTags {
			snap.Images[NormalizeImageRef(tag)] = img.ID
		}
	}
	if snap.Engine.Kind == plan.EnginePodman {
		podmanLocalImages(snap.Images, imgs.Items)
	}
	r.calls.otherLists.Add(1)
	if snap.Volumes, err = r.projectVolumes(ctx, ""); err != nil {
		return Snapshot{}, err
	}
	return snap, nil
}

// For returns the observed side of one stack's plan.
func (s Snapshot) For(st spec.Stack) plan.Observed {
	if s.Engines != nil {
		return s.Engines[s.EngineOf(st)].For(st)
	}
	o := plan.Observed{Containers: s.Containers[st.ID], ImageIDs: map[string]string{}, NetworkID: s.Networks[st.Network()],
		Volumes: s.Volumes[spec.ProjectName(st.Name)], Engine: s.Engine}
	if o.Volumes == nil {
		o.Volumes = map[string]plan.Volume{} // observed: the project has none
	}
	if nets, _ := project.Networks(st); len(nets) > 0 {
		o.NetworkIDs = map[string]string{}
		for _, n := range nets {
			if id, ok := s.Networks[n.Name]; ok {
				o.NetworkIDs[n.Name] = id
			}
		}
	}
	o.OwnedNetworks = s.ownedNetworks(st.ID)
	o.NetworkSubnets = s.NetworkSubnets[st.Network()]
	for _, inst := range st.Instances {
		ref := project.Image(st, inst)
		if id, ok := s.Images[NormalizeImageRef(ref)]; ok {
			o.ImageIDs[ref] = id
		}
	}
	return o
}

// NormalizeImageRef returns the familiar form of an image reference with
// its default tag ("postgres" → "postgres:latest",
// "docker.io/library/redis:7" → "redis:7"). Invalid references are
// returned unchanged.
func NormalizeImageRef(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarString(reference.TagNameOnly(named))
}
