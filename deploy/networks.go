package deploy

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// ExternalNetworkError says that a network an instance joins is declared
// external but does not exist: the user must create it (the controller
// never creates or removes an external network).
type ExternalNetworkError struct {
	Network string
}

func (e *ExternalNetworkError) Error() string {
	return fmt.Sprintf("network %q is declared external but does not exist on the engine; create it with `docker network create %s` or remove external: true",
		e.Network, e.Network)
}

// NetworkSettingsError says that a network the stack owns exists with
// settings other than its definition's. The engine cannot change a
// network in place.
type NetworkSettingsError struct {
	Network string
	Differs []string
}

func (e *NetworkSettingsError) Error() string {
	return fmt.Sprintf("network %q exists with other settings than the stack defines (%s); the engine cannot change a network in place: stop the instances that join it (disable them and apply), remove it with `docker network rm %s`, then apply again",
		e.Network, strings.Join(e.Differs, "; "), e.Network)
}

// EnsureStackNetworks makes the stack's other networks (project.Networks)
// ready for compose up: each network the stack owns is created with its
// definition's settings and the stack's labels if missing (an existing one
// must carry the stack's labels, as its own network, and the defined
// settings); each external network must exist. It returns the names of
// the networks it created. External networks are checked first, so a
// missing one fails the apply before anything is created; a later failure
// leaves the networks created so far: they are the stack's, and the next
// apply finds them.
func (r *Runtime) EnsureStackNetworks(ctx context.Context, s spec.Stack, nets []project.StackNetwork, progress func(name, action, status, msg string)) ([]string, error) {
	var created []string
	nets = slices.Clone(nets)
	slices.SortStableFunc(nets, func(a, b project.StackNetwork) int {
		return cmp.Compare(boolRank(!a.External), boolRank(!b.External))
	})
	for _, n := range nets {
		progress(n.Name, "ensure", ProgressWorking, "")
		c, err := r.ensureStackNetwork(ctx, s, n)
		if err != nil {
			progress(n.Name, "ensure", ProgressError, err.Error())
			return created, err
		}
		action := "exists"
		if c {
			action = "created"
			created = append(created, n.Name)
		}
		progress(n.Name, action, ProgressDone, "")
	}
	return created, nil
}

func (r *Runtime) ensureStackNetwork(ctx context.Context, s spec.Stack, n project.StackNetwork) (bool, error) {
	if n.External {
		existing, err := r.networksNamed(ctx, n.Name)
		if err != nil {
			return false, err
		}
		if len(existing) == 0 {
			return false, &ExternalNetworkError{Network: n.Name}
		}
		return false, nil
	}
	labels := maps.Clone(n.Definition.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, NetworkLabels(s))
	return r.ensureNetwork(ctx, n.Name, labels, createOptions(n.Definition), func(have network.Summary) error {
		if differs := networkDiffers(n.Definition, have); len(differs) > 0 {
			return &NetworkSettingsError{Network: n.Name, Differs: differs}
		}
		return nil
	})
}

// createOptions are the engine's settings for a network definition.
func createOptions(d spec.Network) client.NetworkCreateOptions {
	o := client.NetworkCreateOptions{
		Driver:     cmp.Or(d.Driver, "bridge"),
		Options:    maps.Clone(d.DriverOpts),
		Internal:   d.Internal,
		Attachable: d.Attachable,
	}
	if d.EnableIPv6 {
		v := true
		o.EnableIPv6 = &v
	}
	if len(d.Subnets) > 0 {
		o.IPAM = &network.IPAM{Driver: "default"}
		for _, sn := range d.Subnets {
			var c network.IPAMConfig
			c.Subnet, _ = netip.ParsePrefix(sn.Subnet)
			if sn.IPRange != "" {
				c.IPRange, _ = netip.ParsePrefix(sn.IPRange)
			}
			if sn.Gateway != "" {
				c.Gateway, _ = netip.ParseAddr(sn.Gateway)
			}
			o.IPAM.Config = append(o.IPAM.Config, c)
		}
	}
	return o
}

// networkDiffers lists the settings of an existing network that differ
// from its definition: driver, internal, and the subnets when the
// definition names any.
func networkDiffers(d spec.Network, have network.Summary) []string {
	var out []string
	if want := cmp.Or(d.Driver, "bridge"); have.Driver != want {
		out = append(out, fmt.Sprintf("driver %s, defined %s", have.Driver, want))
	}
	if have.Internal != d.Internal {
		out = append(out, fmt.Sprintf("internal %t, defined %t", have.Internal, d.Internal))
	}
	if len(d.Subnets) > 0 {
		var want, got []string
		for _, sn := range d.Subnets {
			want = append(want, sn.Subnet)
		}
		for _, c := range have.IPAM.Config {
			got = append(got, c.Subnet.String())
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			out = append(out, fmt.Sprintf("subnets %s, defined %s", strings.Join(got, ", "), strings.Join(want, ", ")))
		}
	}
	return out
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
