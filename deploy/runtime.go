// Package deploy is the Docker side of the controller. It owns everything
// that touches the container engine or the state directory: observing the
// containers that carry devarch labels (list, inspect, events, image default
// env), ensuring a stack's network, materializing config files atomically,
// and running compose up/down.
//
// It must not read or write PostgreSQL, decide what should change (that is
// package plan, which is pure), or take locks: callers hold the per-stack
// advisory lock around anything that mutates a stack. It never pulls images
// and never talks to container addresses.
package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/plan"
)

// Runtime is a connection to one container engine. It is safe for
// concurrent use. Create it with NewRuntime and Close it when done.
type Runtime struct {
	cli    *client.Client
	ep     endpoint // how cli and compose reach the engine
	lister *containerLister
	log    *zap.Logger
	calls  callCounter

	imagesMu sync.Mutex
	images   map[string]imageDefaults // by image ID

	engineMu sync.Mutex
	engine   plan.Engine // see Engine
	engineAt time.Time

	// networkTurn is a one-slot semaphore: EnsureNetwork calls take turns,
	// and a call waiting for its turn still ends with its context.
	networkTurn chan struct{}

	// streams counts the event streams open (Events); streamGen changes
	// whenever one opens or ends, when events may have been lost. An
	// Observer trusts its cache kept by events only while the generation
	// it listed at is current (see Observer.cacheCurrent).
	streams   atomic.Int64
	streamGen atomic.Uint64

	// applies counts the applies (and removals) that ended: after an
	// apply, a stack's observation lists its containers again, whatever
	// events have arrived by then.
	applies atomic.Uint64

	// ctx ends when the Runtime is closed: background work (see
	// Observer.HandleEvent) stops with it.
	ctx    context.Context
	cancel context.CancelFunc
}

// NewRuntime connects to the engine at host, for example
// "unix:///var/run/docker.sock"; an empty host uses DOCKER_HOST and the
// other DOCKER_* variables, or the default socket. The API version is
// negotiated with the engine on the first request (Ping forces it), unless
// DOCKER_API_VERSION pins one. NewRuntime does no I/O. A nil log discards
// log output. The compose library's log lines, which it writes through
// logrus's process-wide logger, go to log from then on (see composeLogs).
func NewRuntime(host string, log *zap.Logger) (*Runtime, error) {
	return newRuntime(endpoint{host: host}, log)
}

// newRuntime is NewRuntime at an endpoint (a Fleet engine's host and TLS
// files), whose options apply after the environment's.
func newRuntime(ep endpoint, log *zap.Logger) (*Runtime, error) {
	extra, err := ep.clientOpts()
	if err != nil {
		return nil, err
	}
	cli, err := client.New(append([]client.Opt{client.FromEnv}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("create docker client: %w", err)
	}
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runtime{
		cli:         cli,
		ep:          ep,
		lister:      newContainerLister(cli),
		log:         log.With(zap.String("component", "deploy")),
		images:      map[string]imageDefaults{},
		networkTurn: make(chan struct{}, 1),
		ctx:         ctx,
		cancel:      cancel,
	}
	routeComposeLogs(r.log)
	return r, nil
}

// Client returns the underlying engine client, for compose and tests. Calls
// made through it are not counted by Calls.
func (r *Runtime) Client() *client.Client { return r.cli }

// Ping checks that the engine answers and negotiates the API version.
func (r *Runtime) Ping(ctx context.Context) error {
	if _, err := r.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("ping docker engine: %w", err)
	}
	return nil
}

// APIAtLeast reports whether the engine speaks API version v ("1.44") or
// later, once Ping negotiated the version.
func (r *Runtime) APIAtLeast(v string) bool {
	return plan.Engine{APIVersion: r.cli.ClientVersion()}.APIAtLeast(v)
}

// Close releases the client's idle connections. Compose's log lines
// logged outside an apply no longer go to the runtime's log.
func (r *Runtime) Close() error {
	r.cancel()
	composeLogs.forgetFallback(r.log)
	if err := r.cli.Close(); err != nil {
		return fmt.Errorf("close docker client: %w", err)
	}
	return nil
}

// Calls counts the engine API calls made by Observe, Observer.Observe and
// ImageIDs since the Runtime was created. Subtract two snapshots to count the
// calls of one pass.
type Calls struct {
	ContainerLists    int64 `json:"container_lists"`
	ContainerInspects int64 `json:"container_inspects"`
	ImageInspects     int64 `json:"image_inspects"`
	// ImageLookups counts the images a stack's observation looks up by
	// reference (SnapshotStack on Docker).
	ImageLookups int64 `json:"image_lookups"`
	// FromCache counts the stack observations whose containers came from
	// the cache kept by events (FromEvents) instead of a list; it is not an
	// engine call.
	FromCache int64 `json:"from_cache"`
	// OtherLists counts the network, image and volume lists of
	// Observer.Snapshot, and on Podman the network lists that resolve
	// the network names its inspect gives (see podman.go).
	OtherLists int64 `json:"other_lists"`
}

// Total is the number of calls of every kind.
func (c Calls) Total() int64 {
	return c.ContainerLists + c.ContainerInspects + c.ImageInspects + c.ImageLookups + c.OtherLists
}

// Sub returns the calls made between prev and c.
func (c Calls) Sub(prev Calls) Calls {
	return Calls{
		ContainerLists:    c.ContainerLists - prev.ContainerLists,
		ContainerInspects: c.ContainerInspects - prev.ContainerInspects,
		ImageInspects:     c.ImageInspects - prev.ImageInspects,
		ImageLookups:      c.ImageLookups - prev.ImageLookups,
		FromCache:         c.FromCache - prev.FromCache,
		OtherLists:        c.OtherLists - prev.OtherLists,
	}
}

// Calls returns a snapshot of the observe call counters.
func (r *Runtime) Calls() Calls {
	return Calls{
		ContainerLists:    r.calls.lists.Load(),
		ContainerInspects: r.calls.inspects.Load(),
		ImageInspects:     r.calls.images.Load(),
		ImageLookups:      r.calls.imageLookups.Load(),
		FromCache:         r.calls.fromCache.Load(),
		OtherLists:        r.calls.otherLists.Load(),
	}
}

type callCounter struct {
	lists, inspects, images, imageLookups, otherLists atomic.Int64
	// fromCache counts the stack observations made from the cache kept by
	// events (FromEvents): no engine call.
	fromCache atomic.Int64
	// listed counts the containers the container lists returned: what a
	// pass costs besides its calls (see listedContainers).
	listed atomic.Int64
}

// listedContainers is how many containers the engine's container lists
// have returned since the Runtime was created.
func (r *Runtime) listedContainers() int64 { return r.calls.listed.Load() }

// imageDefaults is what a container inherits from its image without asking.
type imageDefaults struct {
	env    []string // "K=V"
	labels map[string]string
}

// imageDefaults returns the default env and labels of an image, cached by
// image ID (an ID names immutable content, so entries never go stale). A
// missing image yields no defaults and is not cached.
func (r *Runtime) imageDefaults(ctx context.Context, imageID string) (imageDefaults, error) {
	if imageID == "" {
		return imageDefaults{}, nil
	}
	r.imagesMu.Lock()
	d, ok := r.images[imageID]
	r.imagesMu.Unlock()
	if ok {
		return d, nil
	}
	r.calls.images.Add(1)
	res, err := r.cli.ImageInspect(ctx, imageID)
	if cerrdefs.IsNotFound(err) {
		r.log.Debug("image of container not found; keeping its whole env and labels", zap.String("image_id", imageID))
		return imageDefaults{}, nil
	}
	if err != nil {
		return imageDefaults{}, fmt.Errorf("inspect image %s: %w", shortID(imageID), err)
	}
	if res.Config != nil {
		d = imageDefaults{env: slices.Clone(res.Config.Env), labels: maps.Clone(res.Config.Labels)}
	}
	r.imagesMu.Lock()
	r.images[imageID] = d
	r.imagesMu.Unlock()
	return d, nil
}

// ImageIDs returns the local image ID of each image reference. References
// with no local image are absent from the map; that is not an error.
func (r *Runtime) ImageIDs(ctx context.Context, refs []string) (map[string]string, error) {
	ids := make(map[string]string, len(refs))
	seen := make(map[string]bool, len(refs))
	for _, ref := range refs {
		if seen[ref] || ref == "" {
			continue
		}
		seen[ref] = true
		r.calls.images.Add(1)
		res, err := r.cli.ImageInspect(ctx, ref)
		if cerrdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("inspect image %q: %w", ref, err)
		}
		ids[ref] = res.ID
	}
	return ids, nil
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
