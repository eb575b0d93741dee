package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/spec"
)

// NetworkLabels are the labels of a stack's network.
func NetworkLabels(s spec.Stack) map[string]string {
	return map[string]string{
		spec.LabelManagedBy: spec.ManagedByValue,
		spec.LabelStackID:   strconv.FormatInt(s.ID, 10),
		spec.LabelStack:     s.Name,
	}
}

// NetworkOwnershipError says that a network with the wanted name exists but
// belongs to something else: the user must act, retrying will not help.
type NetworkOwnershipError struct {
	Network string
	// OwnerStackID is the devarch stack id on the network, "" when the
	// network is not managed by devarch.
	OwnerStackID string
}

// Error names the network and the label that decided, never the product
// word alone: "devarch" is also a common secret (the catalog's default
// password), and prose made of it would be hidden by the scrubber.
func (e *NetworkOwnershipError) Error() string {
	if e.OwnerStackID == "" {
		return fmt.Sprintf("network %q exists but was not created by this controller (it lacks the label %s=%s); remove or rename it, or set the stack's network_name to another name",
			e.Network, spec.LabelManagedBy, spec.ManagedByValue)
	}
	return fmt.Sprintf("network %q belongs to another stack of this controller (stack id %s); set this stack's network_name to another name", e.Network, e.OwnerStackID)
}

// EnsureNetwork creates the bridge network name with labels (the
// devarch.managed_by label is always set; NetworkLabels gives the rest) if
// no network of that name exists. It is idempotent. An existing network of
// that name that is not managed by devarch, or whose devarch.stack_id
// differs from labels', yields a *NetworkOwnershipError and is left alone.
//
// Engines before API 1.44 accept two networks with the same name (the
// create only returns a warning). Calls on one Runtime take turns, so they
// never race each other; callers in other processes hold the stack's lock.
// If a create from outside slipped in between the check and the create
// anyway, the oldest network is kept and this call removes its own.
func (r *Runtime) EnsureNetwork(ctx context.Context, name string, labels map[string]string) (created bool, err error) {
	return r.ensureNetwork(ctx, name, labels, client.NetworkCreateOptions{Driver: "bridge"}, nil)
}

// ensureNetwork is EnsureNetwork creating the network with create's
// settings (its labels are replaced by labels). check, when set, checks an
// existing network of the name that passed the ownership check.
func (r *Runtime) ensureNetwork(ctx context.Context, name string, labels map[string]string, create client.NetworkCreateOptions, check func(network.Summary) error) (created bool, err error) {
	select {
	case r.networkTurn <- struct{}{}:
		defer func() { <-r.networkTurn }()
	case <-ctx.Done():
		return false, fmt.Errorf("ensure network %q: %w", name, context.Cause(ctx))
	}
	want := maps.Clone(labels)
	if want == nil {
		want = map[string]string{}
	}
	want[spec.LabelManagedBy] = spec.ManagedByValue

	existing, err := r.networksNamed(ctx, name)
	if err != nil {
		return false, err
	}
	if len(existing) > 0 {
		if err := checkOwnership(name, existing, want); err != nil || check == nil {
			return false, err
		}
		return false, check(oldestNetwork(existing))
	}
	create.Labels = want
	res, err := r.cli.NetworkCreate(ctx, name, create)
	if err != nil {
		return false, networkCreateError(name, err)
	}
	all, err := r.networksNamed(ctx, name)
	if err != nil {
		return true, err
	}
	if keep := oldestNetwork(all); keep.ID != "" && keep.ID != res.ID {
		// Another create of the same name raced ours and the engine
		// accepted both: every racer keeps the oldest and removes its own.
		if _, err := r.cli.NetworkRemove(ctx, res.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			return true, fmt.Errorf("remove duplicate network %q: %w", name, err)
		}
		r.log.Debug("removed own duplicate of a network created concurrently", zap.String("network", name))
		return false, checkOwnership(name, []network.Summary{keep}, want)
	}
	r.log.Info("created network", zap.String("network", name), zap.String("stack", want[spec.LabelStack]))
	return true, nil
}

// oldestNetwork returns the network created first (ties broken by ID), or
// a zero Summary for none.
func oldestNetwork(nets []network.Summary) network.Summary {
	var keep network.Summary
	for _, n := range nets {
		if keep.ID == "" || n.Created.Before(keep.Created) || (n.Created.Equal(keep.Created) && n.ID < keep.ID) {
			keep = n
		}
	}
	return keep
}

// networksNamed lists the networks named exactly name (the engine's name
// filter also matches substrings).
func (r *Runtime) networksNamed(ctx context.Context, name string) ([]network.Summary, error) {
	res, err := r.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		return nil, fmt.Errorf("list networks named %q: %w", name, err)
	}
	var out []network.Summary
	for _, n := range res.Items {
		if n.Name == name {
			out = append(out, n)
		}
	}
	return out, nil
}

func checkOwnership(name string, nets []network.Summary, want map[string]string) error {
	for _, n := range nets {
		if n.Labels[spec.LabelManagedBy] != spec.ManagedByValue {
			return &NetworkOwnershipError{Network: name}
		}
		if id, ok := want[spec.LabelStackID]; ok && n.Labels[spec.LabelStackID] != id {
			return &NetworkOwnershipError{Network: name, OwnerStackID: n.Labels[spec.LabelStackID]}
		}
	}
	return nil
}

// ErrNetworkInUse is returned by RemoveNetwork when containers are still
// attached to the network.
var ErrNetworkInUse = errors.New("network still has containers attached")

// RemoveNetwork removes every devarch-managed network named name. A missing
// network is not an error; a network not managed by devarch is refused with
// a *NetworkOwnershipError.
func (r *Runtime) RemoveNetwork(ctx context.Context, name string) error {
	nets, err := r.networksNamed(ctx, name)
	if err != nil {
		return err
	}
	for _, n := range nets {
		if n.Labels[spec.LabelManagedBy] != spec.ManagedByValue {
			return &NetworkOwnershipError{Network: name}
		}
	}
	for _, n := range nets {
		_, err := r.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
		case cerrdefs.IsConflict(err) || cerrdefs.IsPermissionDenied(err):
			return fmt.Errorf("remove network %q: %w: %w", name, ErrNetworkInUse, err)
		case err != nil:
			return fmt.Errorf("remove network %q: %w", name, err)
		}
	}
	return nil
}
