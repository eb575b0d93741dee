package deploy

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/client"
	"golang.org/x/sync/errgroup"

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
	return o.SnapshotOf(ctx, nil)
}

// SnapshotOf is Snapshot for a caller that plans only the stacks want
// accepts (the reconcile loop's full pass: the stacks of its database).
// Containers of other stacks (orphans, another installation's) are not
// inspected: they appear as their list entry says (id, name, stack,
// instance, state), enough to count and name them as orphans.
func (o *Observer) SnapshotOf(ctx context.Context, want func(stackID int64) bool) (Snapshot, error) {
	r := o.rt
	containers, err := o.pass(ctx, scope{want: want})
	if err != nil {
		return Snapshot{}, err
	}
	snap := newSnapshot()
	// pass sorts by stack: each stack's containers are a run of the list,
	// which the snapshot keeps as a slice of it (capped, so that no append
	// to one stack's slice writes over the next stack's).
	for i := 0; i < len(containers); {
		j := i + 1
		for j < len(containers) && containers[j].StackID == containers[i].StackID {
			j++
		}
		snap.Containers[containers[i].StackID] = containers[i:j:j]
		i = j
	}
	if err := r.listNetworks(ctx, managedFilter(), snap); err != nil {
		return Snapshot{}, err
	}
	if snap.Engine, err = r.Engine(ctx); err != nil {
		return Snapshot{}, err
	}
	if err := r.listImages(ctx, snap.Engine.Kind, nil, snap); err != nil {
		return Snapshot{}, err
	}
	r.calls.otherLists.Add(1)
	if snap.Volumes, err = r.projectVolumes(ctx, ""); err != nil {
		return Snapshot{}, err
	}
	return snap, nil
}

// SnapshotStack observes what one stack's plan needs and nothing more: its
// containers (a list the engine filters by the stack's label, plus
// inspects of new or changed ones), its networks, its images and its
// volumes. Its cost depends on the stack, not on how many other
// containers the engine holds; the reconcile loop takes one at every
// event and every change of the stack. For works on it for st only.
func (o *Observer) SnapshotStack(ctx context.Context, st spec.Stack) (Snapshot, error) {
	r := o.rt
	engine, err := r.Engine(ctx) // cached: no call most of the time
	if err != nil {
		return Snapshot{}, err
	}
	// The five lists are independent: they go to the engine at once, so
	// that an event's pass waits for the slowest, not for their sum.
	var (
		containers   []spec.Container
		named, owned = newSnapshot(), newSnapshot()
		images       = newSnapshot()
		volumes      map[string]map[string]plan.Volume
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		containers, err = o.pass(gctx, scope{stackID: st.ID})
		return err
	})
	g.Go(func() error {
		// The networks the stack names, whoever owns them.
		f := managedFilter().Add("name", st.Network())
		if nets, _ := project.Networks(st); len(nets) > 0 {
			for _, n := range nets {
				f.Add("name", n.Name)
			}
		}
		return r.listNetworks(gctx, f, named)
	})
	g.Go(func() error {
		// The networks that carry its id (ownedNetworks).
		return r.listNetworks(gctx, managedFilter().Add("label", spec.LabelStackID+"="+strconv.FormatInt(st.ID, 10)), owned)
	})
	g.Go(func() error {
		refs := make([]string, 0, len(st.Instances))
		for _, inst := range st.Instances {
			refs = append(refs, project.Image(st, inst))
		}
		return r.listImages(gctx, engine.Kind, refs, images)
	})
	g.Go(func() (err error) {
		r.calls.otherLists.Add(1)
		volumes, err = r.projectVolumes(gctx, st.Name)
		return err
	})
	if err := g.Wait(); err != nil {
		return Snapshot{}, err
	}
	snap := newSnapshot()
	snap.Engine, snap.Images, snap.Volumes = engine, images.Images, volumes
	if len(containers) > 0 {
		snap.Containers[st.ID] = containers
	}
	for _, part := range []Snapshot{named, owned} {
		maps.Copy(snap.Networks, part.Networks)
		maps.Copy(snap.NetworkStacks, part.NetworkStacks)
		maps.Copy(snap.NetworkSubnets, part.NetworkSubnets)
	}
	return snap, nil
}

func newSnapshot() Snapshot {
	return Snapshot{Containers: map[int64][]spec.Container{}, Networks: map[string]string{}, NetworkStacks: map[string]string{},
		NetworkSubnets: map[string][]string{}, Images: map[string]string{}}
}

// listNetworks adds the networks the engine lists with filter f to snap.
// The engine's name filter matches substrings: what it lists besides is
// harmless (For looks networks up by exact name).
func (r *Runtime) listNetworks(ctx context.Context, f client.Filters, snap Snapshot) error {
	r.calls.otherLists.Add(1)
	nets, err := r.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	for _, n := range nets.Items {
		snap.Networks[n.Name] = n.ID
		snap.NetworkStacks[n.Name] = n.Labels[spec.LabelStackID]
		snap.recordSubnets(n)
	}
	return nil
}

// listImages adds local images to snap.Images, by normalized reference:
// every image (refs nil), or those refs name.
func (r *Runtime) listImages(ctx context.Context, kind string, refs []string, snap Snapshot) error {
	var f client.Filters
	if refs != nil {
		if len(refs) == 0 {
			return nil // a stack without instances needs no image
		}
		f = referenceFilter(kind, refs)
		if f != nil {
			return r.lookUpImages(ctx, refs, snap)
		}
	}
	r.calls.otherLists.Add(1)
	imgs, err := r.cli.ImageList(ctx, client.ImageListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list images: %w", err)
	}
	for _, img := range imgs.Items {
		for _, tag := range img.RepoTags {
			snap.Images[NormalizeImageRef(tag)] = img.ID
		}
	}
	if kind == plan.EnginePodman {
		podmanLocalImages(snap.Images, imgs.Items)
	}
	return nil
}

// lookUpImages records the local images refs name, one inspect by
// reference each (at most four at a time): the engine finds an image by
// name directly, where a list, even one filtered by reference, walks every
// image it holds. Each image found is recorded under its tags and under the
// reference that named it; a reference with no local image is left out.
func (r *Runtime) lookUpImages(ctx context.Context, refs []string, snap Snapshot) error {
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	seen := make(map[string]bool, len(refs))
	for _, ref := range refs {
		ref = NormalizeImageRef(ref)
		if seen[ref] {
			continue
		}
		seen[ref] = true
		g.Go(func() error {
			r.calls.imageLookups.Add(1)
			res, err := r.cli.ImageInspect(gctx, ref)
			if cerrdefs.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("inspect image %q: %w", ref, err)
			}
			mu.Lock()
			defer mu.Unlock()
			snap.Images[ref] = res.ID
			for _, tag := range res.RepoTags {
				snap.Images[NormalizeImageRef(tag)] = res.ID
			}
			return nil
		})
	}
	return g.Wait()
}

// referenceFilter is the image list filter for the images refs name: the
// engine matches each tag's familiar form ("redis:7") against the
// normalized references, the key For looks images up by. nil (every
// image) on Podman, whose reference filter resolves short names its own
// way (localhost/), and for a reference that does not parse.
func referenceFilter(kind string, refs []string) client.Filters {
	if kind == plan.EnginePodman {
		return nil
	}
	f := make(client.Filters)
	for _, ref := range refs {
		if _, err := reference.ParseNormalizedNamed(ref); err != nil {
			return nil
		}
		f.Add("reference", NormalizeImageRef(ref))
	}
	return f
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
