package deploy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/plan"
)

// Podman serves a Docker-compatible API whose answers differ from
// Docker's in a few places; the functions of this file read the engine so
// that both look the same to the rest of the controller. Each difference
// is listed in docs/runtime.md (Podman).

// restartingContainers lists the containers of filter f in state
// "restarting". Podman's container list refuses that state as a filter
// ("unknown container state: restarting"), so the state is selected here.
func (r *Runtime) restartingContainers(ctx context.Context, f client.Filters) ([]container.Summary, error) {
	list, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return nil, err
	}
	var out []container.Summary
	for _, c := range list.Items {
		if c.State == container.StateRestarting {
			out = append(out, c)
		}
	}
	return out, nil
}

// podmanNetworkNames reports whether an inspected container has an
// endpoint whose NetworkID is the network's name: Podman (4.3) reports
// NetworkSettings.Networks[NAME].NetworkID as NAME, where Docker gives the
// network's id (Podman's own network inspect and list give a hex id).
func podmanNetworkNames(in *container.InspectResponse) bool {
	if in == nil || in.NetworkSettings == nil {
		return false
	}
	for name, ep := range in.NetworkSettings.Networks {
		if ep != nil && ep.NetworkID == name {
			return true
		}
	}
	return false
}

// resolveNetworkIDs replaces, in the endpoints of in, a NetworkID that is
// the network's name by the network's id from ids (name → id, as the
// engine's network list gives them). A network missing from ids keeps
// the name as id: it was removed since, and the container is detached
// from it whatever the id says.
func resolveNetworkIDs(in *container.InspectResponse, ids map[string]string) {
	if in == nil || in.NetworkSettings == nil {
		return
	}
	for name, ep := range in.NetworkSettings.Networks {
		if ep == nil || ep.NetworkID != name {
			continue
		}
		if id, ok := ids[name]; ok {
			ep.NetworkID = id
		}
	}
}

// networkIDsByName lists the engine's networks (all of them: a container
// may join an external network) by name.
func (r *Runtime) networkIDsByName(ctx context.Context) (map[string]string, error) {
	res, err := r.cli.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	ids := make(map[string]string, len(res.Items))
	for _, n := range res.Items {
		ids[n.Name] = n.ID
	}
	return ids, nil
}

// engineKind asks the engine what it is: Podman names its component
// "Podman Engine" in the version it reports.
func (r *Runtime) engineKind(ctx context.Context) (string, error) {
	v, err := r.cli.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("ask engine version: %w", err)
	}
	for _, c := range v.Components {
		if strings.HasPrefix(c.Name, "Podman") {
			return plan.EnginePodman, nil
		}
	}
	return plan.EngineDocker, nil
}

// composeClient returns the client compose runs with on this engine: nil
// (compose's own) on Docker, a podmanClient on Podman.
func (r *Runtime) composeClient(ctx context.Context) (client.APIClient, error) {
	e, err := r.Engine(ctx)
	if err != nil {
		return nil, err
	}
	if e.Kind != plan.EnginePodman {
		return nil, nil
	}
	return podmanClient{APIClient: r.cli, rt: r}, nil
}

// podmanClient is the engine client compose uses on Podman: its container
// list and inspect answer with network ids where Podman gives names.
// Compose recreates a running container that is not attached to each of
// its networks by id: without this, every compose up on Podman would
// recreate every container.
type podmanClient struct {
	client.APIClient
	rt *Runtime
}

func (c podmanClient) ContainerList(ctx context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	res, err := c.APIClient.ContainerList(ctx, o)
	if err != nil || !slices.ContainsFunc(res.Items, summaryNetworkNames) {
		return res, err
	}
	ids, err := c.rt.networkIDsByName(ctx)
	if err != nil {
		return res, err
	}
	for i := range res.Items {
		resolveSummaryNetworkIDs(&res.Items[i], ids)
	}
	return res, nil
}

func (c podmanClient) ContainerInspect(ctx context.Context, id string, o client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	res, err := c.APIClient.ContainerInspect(ctx, id, o)
	if err != nil || !podmanNetworkNames(&res.Container) {
		return res, podmanNotFound(err)
	}
	ids, err := c.rt.networkIDsByName(ctx)
	if err != nil {
		return res, err
	}
	resolveNetworkIDs(&res.Container, ids)
	return res, nil
}

// ContainerStop and ContainerRemove answer "not found" for a container
// that Podman lost while it answered (see podmanNotFound), as Docker does.
func (c podmanClient) ContainerStop(ctx context.Context, id string, o client.ContainerStopOptions) (client.ContainerStopResult, error) {
	res, err := c.APIClient.ContainerStop(ctx, id, o)
	return res, podmanNotFound(err)
}

func (c podmanClient) ContainerRemove(ctx context.Context, id string, o client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	res, err := c.APIClient.ContainerRemove(ctx, id, o)
	return res, podmanNotFound(err)
}

// summaryNetworkNames is podmanNetworkNames for a container list entry.
func summaryNetworkNames(s container.Summary) bool {
	if s.NetworkSettings == nil {
		return false
	}
	for name, ep := range s.NetworkSettings.Networks {
		if ep != nil && ep.NetworkID == name {
			return true
		}
	}
	return false
}

// resolveSummaryNetworkIDs is resolveNetworkIDs for a container list entry.
func resolveSummaryNetworkIDs(s *container.Summary, ids map[string]string) {
	if s.NetworkSettings == nil {
		return
	}
	for name, ep := range s.NetworkSettings.Networks {
		if ep == nil || ep.NetworkID != name {
			continue
		}
		if id, ok := ids[name]; ok {
			ep.NetworkID = id
		}
	}
}

// familiarImage is an image reference as the user wrote it in its short
// form: Podman reports Config.Image fully qualified
// ("docker.io/library/redis:7" for "redis:7"), Docker as given. A
// reference that does not parse is returned unchanged.
func familiarImage(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarString(named)
}

// podmanLocalImages adds to images (normalized reference → id) the images
// Podman names localhost/NAME: those built or tagged locally without a
// registry ("podman tag", a build's tag). Podman resolves a short name to
// localhost/NAME first, before the search registries, so such an image
// is the one a service's "NAME" runs and wins over docker.io/NAME.
func podmanLocalImages(images map[string]string, list []image.Summary) {
	for _, img := range list {
		for _, tag := range img.RepoTags {
			if short, ok := strings.CutPrefix(tag, "localhost/"); ok {
				images[NormalizeImageRef(short)] = img.ID
			}
		}
	}
}

// containerGone reports whether err says the container does not exist
// (any more); see podmanNotFound.
func containerGone(err error) bool {
	return cerrdefs.IsNotFound(podmanNotFound(err))
}

// podmanNotFound makes a Podman "no such container" answer a not-found
// error. Docker answers 404 for a container that does not exist. Podman
// answers 500 with cause "no such container" when the container is removed
// while it handles an inspect, stop or remove (it found the name, then
// lost the container); a full pass that races a removal by someone else
// meets it.
func podmanNotFound(err error) error {
	if err != nil && !cerrdefs.IsNotFound(err) && strings.Contains(err.Error(), "no such container") {
		return fmt.Errorf("%w: %w", cerrdefs.ErrNotFound, err)
	}
	return err
}
