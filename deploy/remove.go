package deploy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/spec"
)

// PhaseRemove is the phase of an apply that removes a deleted stack's
// containers, networks and (when asked) named volumes.
const PhaseRemove = "remove"

// defaultStopTimeout is how long a container may take to stop before it is
// killed when ApplyOptions.StopTimeout is not set (compose's default).
const defaultStopTimeout = 10 * time.Second

// Remove carries out the removal of a deleted stack (s.Deleting): it stops
// and removes every container labeled with the stack's id, with its
// anonymous volumes (as docker rm -v), then removes the networks labeled
// with the stack's id, then, when s.RemoveVolumes is set, the named
// volumes compose created for the stack's project. Named volumes are kept
// otherwise, and volumes compose did not create for the project always
// are. External networks are never touched: they do not carry the stack's
// id. The caller holds the stack's advisory lock. A failure returns an
// *ApplyError of PhaseRemove; what was removed before it stays removed.
func (r *Runtime) Remove(ctx context.Context, s spec.Stack, o ApplyOptions, progress ProgressFunc) (Result, error) {
	start := time.Now()
	res := Result{Durations: map[string]time.Duration{}, Created: []string{}, Recreated: []string{}, Started: []string{}, Restarted: []string{}, Removed: []string{}}
	defer func() {
		res.Durations[PhaseRemove] = time.Since(start)
		res.Durations[PhaseTotal] = time.Since(start)
	}()
	emit := func(item, action, status, msg string) {
		if progress != nil {
			progress(Progress{Time: time.Now(), Container: item, Action: action, Status: status, Message: msg})
		}
	}
	if err := o.beforePhase(ctx, PhaseRemove); err != nil {
		return res, err
	}
	removed, err := r.removeStackContainers(ctx, s, o.StopTimeout, func(string) bool { return true }, emit)
	res.Removed = removed
	if err != nil {
		return res, &ApplyError{Phase: PhaseRemove, Err: err}
	}
	if err := r.removeStackNetworks(ctx, s, emit); err != nil {
		return res, &ApplyError{Phase: PhaseRemove, Err: err}
	}
	if s.RemoveVolumes {
		if err := r.removeStackVolumes(ctx, s, emit); err != nil {
			return res, &ApplyError{Phase: PhaseRemove, Err: err}
		}
	}
	r.applyLog(s, o).Info("stack removed", zap.Int("removed", len(res.Removed)))
	return res, nil
}

// removeStackContainers stops and removes the containers labeled with the
// stack's id whose instance id label retire accepts, with their anonymous
// volumes, and returns their names, sorted.
func (r *Runtime) removeStackContainers(ctx context.Context, s spec.Stack, stopTimeout time.Duration, retire func(instanceID string) bool, emit func(item, action, status, msg string)) ([]string, error) {
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+strconv.FormatInt(s.ID, 10))
	list, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, fmt.Errorf("list containers of stack %q: %w", s.Name, err)
	}
	if stopTimeout <= 0 {
		stopTimeout = defaultStopTimeout
	}
	secs := int(stopTimeout.Round(time.Second) / time.Second)
	removed := []string{}
	for _, c := range list.Items {
		if !retire(c.Labels[spec.LabelInstanceID]) {
			continue
		}
		name := strings.TrimPrefix(firstName(c.Names), "/")
		emit(name, "remove", ProgressWorking, "")
		if _, err := r.cli.ContainerStop(ctx, c.ID, client.ContainerStopOptions{Timeout: &secs}); err != nil && !containerGone(err) {
			emit(name, "remove", ProgressError, err.Error())
			return removed, fmt.Errorf("stop container %s: %w", name, err)
		}
		if _, err := r.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !containerGone(err) {
			emit(name, "remove", ProgressError, err.Error())
			return removed, fmt.Errorf("remove container %s: %w", name, err)
		}
		emit(name, "removed", ProgressDone, "")
		removed = append(removed, name)
	}
	slices.Sort(removed)
	return removed, nil
}

// removeStackNetworks removes the networks labeled with the stack's id.
func (r *Runtime) removeStackNetworks(ctx context.Context, s spec.Stack, emit func(item, action, status, msg string)) error {
	f := managedFilter().Add("label", spec.LabelStackID+"="+strconv.FormatInt(s.ID, 10))
	nets, err := r.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list networks of stack %q: %w", s.Name, err)
	}
	for _, n := range nets.Items {
		item := "network " + n.Name
		emit(item, "remove", ProgressWorking, "")
		_, err := r.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
		case cerrdefs.IsConflict(err) || cerrdefs.IsPermissionDenied(err):
			emit(item, "remove", ProgressError, err.Error())
			return fmt.Errorf("remove network %q: %w (containers of another stack or started by hand are attached; disconnect them and apply again): %w", n.Name, ErrNetworkInUse, err)
		case err != nil:
			emit(item, "remove", ProgressError, err.Error())
			return fmt.Errorf("remove network %q: %w", n.Name, err)
		}
		emit(item, "removed", ProgressDone, "")
	}
	return nil
}

// removeStackVolumes removes the named volumes compose created for the
// stack's project (they carry its project label).
func (r *Runtime) removeStackVolumes(ctx context.Context, s spec.Stack, emit func(item, action, status, msg string)) error {
	vols, err := r.projectVolumes(ctx, s.Name)
	if err != nil {
		return err
	}
	projectName := spec.ProjectName(s.Name)
	for _, v := range vols[projectName] {
		if v.Labels[api.ProjectLabel] != projectName {
			continue
		}
		item := "volume " + v.Name
		emit(item, "remove", ProgressWorking, "")
		if _, err := r.cli.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			emit(item, "remove", ProgressError, err.Error())
			return fmt.Errorf("remove volume %q: %w", v.Name, err)
		}
		emit(item, "removed", ProgressDone, "")
	}
	return nil
}

// removeRetired removes, with their anonymous volumes, the stack's
// containers whose instance is not among the stack's enabled instances
// (disabled, deleted, or the whole stack disabled), before compose up:
// compose's own orphan removal would leave their anonymous volumes
// behind.
func (r *Runtime) removeRetired(ctx context.Context, s spec.Stack, stopTimeout time.Duration, bus *eventBus) error {
	keep := map[string]bool{}
	if s.Enabled {
		for _, inst := range s.Instances {
			if inst.Enabled {
				keep[strconv.FormatInt(inst.ID, 10)] = true
			}
		}
	}
	_, err := r.removeStackContainers(ctx, s, stopTimeout, func(id string) bool { return !keep[id] }, func(item, _, status, msg string) {
		res := api.Resource{ID: "Container " + item, Status: api.Working, Text: api.StatusRemoving}
		switch status {
		case ProgressDone:
			res.Status, res.Text = api.Done, api.StatusRemoved
		case ProgressError:
			res.Status, res.Text, res.Details = api.Error, api.StatusError, msg
		}
		bus.On(res)
	})
	return err
}

// adoptOrphanNetwork lets a stack take over the network it wants when
// EnsureNetwork refused it (ensureErr) because it belongs to another stack
// id of this controller, that stack is not in this database (orphan says
// so: another database's, or a removed stack's) and no container is
// attached: the orphan is removed, so that the stack creates its own under
// that name, and adoptOrphanNetwork reports true. Without orphan, or for any
// other refusal, it does nothing. The check costs nothing when the network
// was ensured.
func (r *Runtime) adoptOrphanNetwork(ctx context.Context, s spec.Stack, ensureErr error, orphan func(ctx context.Context, stackID int64) (bool, error), emit func(item, action, status, msg string)) (bool, error) {
	var owned *NetworkOwnershipError
	if orphan == nil || !errors.As(ensureErr, &owned) || owned.OwnerStackID == "" {
		return false, nil
	}
	name := s.Network()
	owner, err := strconv.ParseInt(owned.OwnerStackID, 10, 64)
	if err != nil {
		return false, nil
	}
	isOrphan, err := orphan(ctx, owner)
	if err != nil {
		return false, fmt.Errorf("check owner of network %q: %w", name, err)
	}
	if !isOrphan {
		return false, nil // owned by a stack of this database
	}
	nets, err := r.networksNamed(ctx, name)
	if err != nil {
		return false, err
	}
	adopted := false
	for _, n := range nets {
		if n.Labels[spec.LabelManagedBy] != spec.ManagedByValue || n.Labels[spec.LabelStackID] != owned.OwnerStackID {
			continue
		}
		in, err := r.cli.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
		if err != nil {
			return false, fmt.Errorf("inspect network %q: %w", name, err)
		}
		if len(in.Network.Containers) > 0 {
			return false, nil // in use: EnsureNetwork's refusal stands
		}
		item := "network " + name
		if _, err := r.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			emit(item, "adopt", ProgressError, err.Error())
			return false, fmt.Errorf("adopt orphaned network %q (stack id %s): %w", name, owned.OwnerStackID, err)
		}
		emit(item, "adopt", ProgressDone, fmt.Sprintf("orphaned network of stack id %s (not in this database, no container attached) replaced by this stack's", owned.OwnerStackID))
		r.log.Info("adopted orphaned network", zap.String("network", name), zap.String("stack", s.Name), zap.String("orphan_stack_id", owned.OwnerStackID))
		adopted = true
	}
	return adopted, nil
}

// ownedNetworks returns the names of the networks labeled with stack id.
func (s Snapshot) ownedNetworks(id int64) []string {
	want := strconv.FormatInt(id, 10)
	var out []string
	for name, owner := range s.NetworkStacks {
		if owner == want {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
