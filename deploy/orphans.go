package deploy

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/spec"
)

// Orphans are the labeled containers and networks on the engine whose
// stack is not in the desired state's database: another database's (a
// second installation on the same engine), or a stack removed since.
type Orphans struct {
	Containers []OrphanContainer `json:"containers"`
	Networks   []OrphanNetwork   `json:"networks"`
}

// OrphanContainer is an orphaned container.
type OrphanContainer struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	StackID int64  `json:"stack_id"`
	Stack   string `json:"stack"`
	State   string `json:"state"`
	// Engine names the engine of a Fleet's orphan ("" for a Runtime's).
	Engine string `json:"engine,omitempty"`
}

// OrphanNetwork is an orphaned network.
type OrphanNetwork struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	StackID int64  `json:"stack_id"`
	// Engine names the engine of a Fleet's orphan ("" for a Runtime's).
	Engine string `json:"engine,omitempty"`
}

// setEngine names engine as the engine of every orphan of o.
func (o Orphans) setEngine(engine string) {
	for i := range o.Containers {
		o.Containers[i].Engine = engine
	}
	for i := range o.Networks {
		o.Networks[i].Engine = engine
	}
}

// Empty reports whether there is no orphan.
func (o Orphans) Empty() bool { return len(o.Containers) == 0 && len(o.Networks) == 0 }

// FindOrphans returns the snapshot's containers and networks whose
// devarch.stack_id is not in known, sorted by name. Networks without a
// valid stack id label are not counted: they cannot be told apart.
func FindOrphans(snap Snapshot, known map[int64]bool) Orphans {
	o := Orphans{Containers: []OrphanContainer{}, Networks: []OrphanNetwork{}}
	for _, name := range snap.EngineNames {
		// A Fleet's snapshot: the orphans of every engine that answered.
		if sub, ok := snap.Engines[name]; ok {
			found := FindOrphans(sub, known)
			found.setEngine(name)
			o.Containers = append(o.Containers, found.Containers...)
			o.Networks = append(o.Networks, found.Networks...)
		}
	}
	for id, cs := range snap.Containers {
		if known[id] {
			continue
		}
		for _, c := range cs {
			o.Containers = append(o.Containers, OrphanContainer{ID: shortContainerID(c.ID), Name: strings.TrimPrefix(c.Name, "/"),
				StackID: c.StackID, Stack: c.StackName, State: c.State})
		}
	}
	for name, owner := range snap.NetworkStacks {
		id, err := strconv.ParseInt(owner, 10, 64)
		if err != nil || id <= 0 || known[id] {
			continue
		}
		o.Networks = append(o.Networks, OrphanNetwork{ID: shortContainerID(snap.Networks[name]), Name: name, StackID: id})
	}
	slices.SortFunc(o.Containers, func(a, b OrphanContainer) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	slices.SortFunc(o.Networks, func(a, b OrphanNetwork) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
	return o
}

// RemoveOrphans removes the given orphans, containers first (stopped
// within stopTimeout, with their anonymous volumes), then networks. Each
// one is checked again before it is removed: it must still carry the
// devarch labels and a stack id that known does not hold, so that a stack
// imported meanwhile keeps its objects. It returns the names removed.
func (r *Runtime) RemoveOrphans(ctx context.Context, o Orphans, known func(ctx context.Context, stackID int64) (bool, error), stopTimeout time.Duration) ([]string, error) {
	if stopTimeout <= 0 {
		stopTimeout = defaultStopTimeout
	}
	secs := int(stopTimeout.Round(time.Second) / time.Second)
	var removed []string
	stillOrphan := func(labels map[string]string) (bool, error) {
		id, _, ok := spec.IdentityFromLabels(labels)
		if !ok {
			return false, nil
		}
		isKnown, err := known(ctx, id)
		return !isKnown, err
	}
	for _, c := range o.Containers {
		in, err := r.cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if containerGone(err) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("inspect container %s: %w", c.Name, err)
		}
		if in.Container.Config == nil {
			continue
		}
		if ok, err := stillOrphan(in.Container.Config.Labels); err != nil || !ok {
			if err != nil {
				return removed, fmt.Errorf("check container %s: %w", c.Name, err)
			}
			continue
		}
		if _, err := r.cli.ContainerStop(ctx, in.Container.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil && !containerGone(err) {
			return removed, fmt.Errorf("stop container %s: %w", c.Name, err)
		}
		if _, err := r.cli.ContainerRemove(ctx, in.Container.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !containerGone(err) {
			return removed, fmt.Errorf("remove container %s: %w", c.Name, err)
		}
		removed = append(removed, "container "+c.Name)
	}
	for _, n := range o.Networks {
		in, err := r.cli.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("inspect network %q: %w", n.Name, err)
		}
		labels := in.Network.Labels
		if labels[spec.LabelManagedBy] != spec.ManagedByValue {
			continue
		}
		id, err := strconv.ParseInt(labels[spec.LabelStackID], 10, 64)
		if err != nil {
			continue
		}
		isKnown, err := known(ctx, id)
		if err != nil {
			return removed, fmt.Errorf("check network %q: %w", n.Name, err)
		}
		if isKnown {
			continue
		}
		if _, err := r.cli.NetworkRemove(ctx, in.Network.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return removed, fmt.Errorf("remove network %q: %w", n.Name, err)
		}
		removed = append(removed, "network "+n.Name)
	}
	return removed, nil
}

func shortContainerID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
