package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/spec"
)

// SubnetPoolError says that the controller's subnet pool
// (network.subnet_pool) has no subnet left for the stack's network: apply
// does not create the network with one of the engine's own pools instead.
type SubnetPoolError struct {
	Network string
	// Problem is the stack's spec.Stack.SubnetProblem.
	Problem string
}

func (e *SubnetPoolError) Error() string {
	return fmt.Sprintf("create network %q: %s", e.Network, e.Problem)
}

// SubnetOverlapError says that the engine refused to create the stack's
// network with its allocated subnet because another network on the engine,
// not managed by this controller, overlaps it.
type SubnetOverlapError struct {
	Network string
	Subnet  string
	Err     error
}

func (e *SubnetOverlapError) Error() string {
	return fmt.Sprintf("create network %q with subnet %s: another network on the engine overlaps it (see `docker network inspect` of the engine's networks); "+
		"set network.subnet_pool in the controller's configuration to a range no other network or host route uses (e.g. 10.128.0.0/9 when 10.128.0.0/9 is free), or remove the overlapping network. Engine error: %v",
		e.Network, e.Subnet, e.Err)
}

func (e *SubnetOverlapError) Unwrap() error { return e.Err }

// subnetDriftError is the stack's network found with other subnets than
// the one allocated: ensureOwnNetwork recreates it.
type subnetDriftError struct {
	id   string
	have []string
}

func (e *subnetDriftError) Error() string {
	return fmt.Sprintf("network %s has subnets %s", e.id, strings.Join(e.have, ", "))
}

// recordSubnets keeps the subnets of network n in the snapshot.
func (s *Snapshot) recordSubnets(n network.Summary) {
	if s.NetworkSubnets == nil {
		s.NetworkSubnets = map[string][]string{}
	}
	s.NetworkSubnets[n.Name] = networkSubnets(n.Network)
}

// networkSubnets are a network's subnets, sorted (an empty, non-nil list
// for none).
func networkSubnets(n network.Network) []string {
	out := []string{}
	for _, c := range n.IPAM.Config {
		if c.Subnet.IsValid() {
			out = append(out, c.Subnet.String())
		}
	}
	slices.Sort(out)
	return out
}

// ensureOwnNetwork makes the stack's own network ready: EnsureNetwork
// when the controller manages no subnet for the stack; otherwise the
// network is created with the stack's allocated subnet (spec.Stack.Subnet),
// and an existing one with other subnets is recreated with it (see
// recreateNetwork). A stack whose pool is full (SubnetProblem) keeps an
// existing network as it is, and fails with a *SubnetPoolError when its
// network is missing.
func (r *Runtime) ensureOwnNetwork(ctx context.Context, s spec.Stack) (bool, error) {
	if s.SubnetProblem != "" && s.Subnet == "" {
		// The pool is full: an existing network is used as it is, a
		// missing one is not created with the engine's pools instead.
		existing, err := r.networksNamed(ctx, s.Network())
		if err != nil {
			return false, err
		}
		if len(existing) == 0 {
			return false, &SubnetPoolError{Network: s.Network(), Problem: s.SubnetProblem}
		}
		return r.EnsureNetwork(ctx, s.Network(), NetworkLabels(s))
	}
	if s.Subnet == "" {
		return r.EnsureNetwork(ctx, s.Network(), NetworkLabels(s))
	}
	subnet, err := netip.ParsePrefix(s.Subnet)
	if err != nil {
		return false, fmt.Errorf("ensure network %q: allocated subnet %q: %w", s.Network(), s.Subnet, err)
	}
	create := client.NetworkCreateOptions{Driver: "bridge", IPAM: &network.IPAM{Driver: "default", Config: []network.IPAMConfig{{Subnet: subnet}}}}
	check := func(have network.Summary) error {
		if got := networkSubnets(have.Network); !slices.Equal(got, []string{s.Subnet}) {
			return &subnetDriftError{id: have.ID, have: got}
		}
		return nil
	}
	created, err := r.ensureNetwork(ctx, s.Network(), NetworkLabels(s), create, check)
	if drift, ok := errors.AsType[*subnetDriftError](err); ok {
		if err := r.recreateNetwork(ctx, s, drift.id); err != nil {
			return false, err
		}
		r.log.Info("recreating network with its allocated subnet", zap.String("network", s.Network()), zap.String("stack", s.Name),
			zap.Strings("had", drift.have), zap.String("subnet", s.Subnet))
		created, err = r.ensureNetwork(ctx, s.Network(), NetworkLabels(s), create, check)
	}
	if err != nil && !IsAddressPoolExhausted(err) && strings.Contains(strings.ToLower(err.Error()), "overlaps") {
		return false, &SubnetOverlapError{Network: s.Network(), Subnet: s.Subnet, Err: errors.Unwrap(err)}
	}
	return created, err
}

// recreateNetwork removes the stack's network id so that it can be
// created with another subnet: the engine cannot change a network's
// subnet in place. Running containers attached to it are disconnected
// (compose up then recreates them, as containers not attached to their
// network, keeping their anonymous volumes); stopped containers of the
// stack attached to it are removed (compose up creates them again), other
// stopped ones disconnected.
func (r *Runtime) recreateNetwork(ctx context.Context, s spec.Stack, id string) error {
	select {
	case r.networkTurn <- struct{}{}:
		defer func() { <-r.networkTurn }()
	case <-ctx.Done():
		return fmt.Errorf("recreate network %q: %w", s.Network(), context.Cause(ctx))
	}
	res, err := r.cli.NetworkInspect(ctx, id, client.NetworkInspectOptions{})
	if err != nil {
		return fmt.Errorf("recreate network %q: inspect: %w", s.Network(), err)
	}
	stackID := NetworkLabels(s)[spec.LabelStackID]
	for cid := range res.Network.Containers {
		c, err := r.cli.ContainerInspect(ctx, cid, client.ContainerInspectOptions{})
		if containerGone(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("recreate network %q: inspect container %s: %w", s.Network(), shortContainerID(cid), err)
		}
		ours := c.Container.Config != nil && c.Container.Config.Labels[spec.LabelStackID] == stackID
		if ours && c.Container.State != nil && c.Container.State.Status != container.StateRunning {
			if _, err := r.cli.ContainerRemove(ctx, cid, client.ContainerRemoveOptions{Force: true}); err != nil && !containerGone(err) {
				return fmt.Errorf("recreate network %q: remove stopped container %s: %w", s.Network(), c.Container.Name, err)
			}
			continue
		}
		if _, err := r.cli.NetworkDisconnect(ctx, id, client.NetworkDisconnectOptions{Container: cid, Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("recreate network %q: disconnect container %s: %w", s.Network(), c.Container.Name, err)
		}
	}
	if _, err := r.cli.NetworkRemove(ctx, id, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("recreate network %q: remove: %w", s.Network(), err)
	}
	return nil
}
