package deploy

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/devarch/devarch-controller/spec"
)

// inspectParallelism bounds concurrent container inspects in one pass.
const inspectParallelism = 8

// managedFilter selects the containers, networks and events that carry
// devarch.managed_by=devarch.
func managedFilter() client.Filters {
	return make(client.Filters).Add("label", spec.LabelManagedBy+"="+spec.ManagedByValue)
}

// Observe lists every container (running or not) labeled
// devarch.managed_by=devarch, inspects each one and returns them ordered by
// stack id, instance id and name. Containers whose stack id label is
// missing or malformed are skipped (logged at debug level). It is a full
// pass: one list plus one inspect per container; the reconcile loop should
// use an Observer instead.
func (r *Runtime) Observe(ctx context.Context) ([]spec.Container, error) {
	return r.NewObserver().Observe(ctx)
}

// Observer observes incrementally: it remembers the last inspect of every
// container and, on each pass, lists once and inspects only the containers
// that are new or whose list entry changed (state, status annotations such
// as health or exit code, creation time, image, names, networks). It is safe
// for concurrent use; passes are serialized.
//
// The engine's container list is not ordered after its events: when the
// "die" event of a killed container arrives, the list may still show it
// running, while an inspect (which waits for the container's own lock)
// already shows it exited. So a list entry alone cannot tell that a
// container changed. Callers that follow the engine's events tell the
// Observer with Invalidate, and the next pass inspects those containers
// whatever the list says.
type Observer struct {
	rt        *Runtime
	filter    client.Filters
	selectors map[string]string // label key → value every container must carry

	mu      sync.Mutex
	seen    map[string]observed           // container ID → last observation
	byStack map[int64]map[string]struct{} // stack id → the ids of its containers in seen

	dirtyMu sync.Mutex
	dirty   map[string]uint64 // container ID → generation of its last event
	gen     uint64
	// dirtyStack is the stack of each marked container (0 when its event
	// did not say), so that a pass over one stack takes only its marks.
	dirtyStack map[string]int64
	// died holds containers whose last event is a die the engine has not
	// finished handling yet (see HandleEvent).
	died    map[string]death
	settled func(stackID int64)

	// When the cache was last made from a list: of the whole engine
	// (all), of one stack (stacks). See cacheCurrent.
	all    listedAt
	stacks map[int64]listedAt
}

// listedAt is when a list was taken: the Runtime's event stream
// generation and apply count at its start.
type listedAt struct{ streamGen, applies uint64 }

// fromEventsKey marks a context whose stack observations may come from
// the cache kept by events (FromEvents).
type fromEventsKey struct{}

// FromEvents returns a context under which Observer.SnapshotStack may
// observe the stack's containers from its cache kept current by engine
// events, as an informer does, instead of listing them: when events about
// the stack arrived since its last observation, the event stream has been
// open without a break since the cache was last made from a list, and no
// apply ended since. Only the containers those events name are inspected
// (or, for a die the engine is still handling, shown exited at once). The
// engine's container list walks every container the engine holds, even
// filtered by label (tens of milliseconds with thousands of other
// containers); this makes an event's pass independent of them. The
// reconcile loop's status passes use it; plans for the API, and the
// prediction and check around an apply, list.
func FromEvents(ctx context.Context) context.Context {
	return context.WithValue(ctx, fromEventsKey{}, true)
}

// cacheCurrent reports whether the cache of stack id is as current as a
// list would make it, given a continuous event stream: a list (of the
// whole engine, or of the stack) was taken in the current stream
// generation and apply count, and every cached container of the stack was
// inspected (not only listed). Callers hold o.mu.
func (o *Observer) cacheCurrent(id int64, now listedAt) bool {
	if o.rt.streams.Load() == 0 || (o.all != now && o.stacks[id] != now) {
		return false
	}
	for cid := range o.byStack[id] {
		if o.seen[cid].listed {
			return false
		}
	}
	return true
}

// cachedEntries are the list entries a list of stack id would give, as
// the cache has them.
func (o *Observer) cachedEntries(id int64) []listEntry {
	out := make([]listEntry, 0, len(o.byStack[id]))
	for cid := range o.byStack[id] {
		c := o.seen[cid]
		out = append(out, listEntry{ID: cid, Names: []string{"/" + c.container.Name}, State: c.container.State,
			Labels: c.container.Labels, fingerprint: c.fingerprint})
	}
	return out
}

type observed struct {
	fingerprint string
	container   spec.Container
	// listed: not inspected, only what the list entry said (listedOnly).
	listed bool
}

// NewObserver returns an Observer with an empty cache: its first pass
// inspects every container. selectors are extra "key=value" label filters,
// all of which a container must match besides devarch.managed_by=devarch;
// for example spec.LabelStackID+"=7" observes one stack only.
func (r *Runtime) NewObserver(selectors ...string) *Observer {
	f := managedFilter()
	want := map[string]string{spec.LabelManagedBy: spec.ManagedByValue}
	for _, s := range selectors {
		f.Add("label", s)
		k, v, _ := strings.Cut(s, "=")
		want[k] = v
	}
	return &Observer{rt: r, filter: f, selectors: want, seen: map[string]observed{}, byStack: map[int64]map[string]struct{}{},
		dirty: map[string]uint64{}, dirtyStack: map[string]int64{}, died: map[string]death{}}
}

// matches reports whether labels carry every label the Observer selects.
func (o *Observer) matches(labels map[string]string) bool {
	for k, v := range o.selectors {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Observe returns the current labeled containers, like Runtime.Observe, at
// the cost of one list plus one inspect per new or changed container. The
// returned containers are copies: callers may modify them. On error the
// cache is left as it was.
func (o *Observer) Observe(ctx context.Context) ([]spec.Container, error) {
	return o.pass(ctx, scope{})
}

// scope is what one pass of an Observer covers.
type scope struct {
	// stackID > 0: only that stack's containers, through a list the
	// engine filters by the stack's label; the cache of every other
	// stack is left as it is.
	stackID int64
	// want, in a pass over the whole engine: only containers of stacks
	// want accepts are inspected; the others (orphans, another
	// installation's) are kept as their list entry says (listedOnly).
	// nil inspects every container.
	want func(stackID int64) bool
}

func (o *Observer) pass(ctx context.Context, sc scope) ([]spec.Container, error) {
	o.mu.Lock()
	defer o.mu.Unlock()

	dirty, died := o.takeDirty(sc.stackID)
	now := listedAt{streamGen: o.rt.streamGen.Load(), applies: o.rt.applies.Load()}
	var items []listEntry
	fromList := false // the cache is made from a list this time
	if fromEvents, _ := ctx.Value(fromEventsKey{}).(bool); fromEvents && sc.stackID > 0 && len(dirty) > 0 && o.cacheCurrent(sc.stackID, now) {
		o.rt.calls.fromCache.Add(1)
		items = o.cachedEntries(sc.stackID)
	} else {
		filter := o.filter
		if sc.stackID > 0 {
			filter = filter.Clone().Add("label", spec.LabelStackID+"="+strconv.FormatInt(sc.stackID, 10))
		}
		var err error
		if items, err = o.rt.listContainers(ctx, filter); err != nil {
			return nil, err
		}
		fromList = true
	}
	next := make(map[string]observed, len(items))
	var changed []inspectTarget
	listed := make(map[string]bool, len(items))
	for _, it := range items {
		listed[it.ID] = true
		stackID, _, ok := spec.IdentityFromLabels(it.Labels)
		if !ok {
			o.rt.log.Debug("skip container with malformed devarch labels",
				zap.String("container_id", it.ID), zap.Strings("names", it.Names))
			continue
		}
		if sc.stackID > 0 && stackID != sc.stackID {
			continue // the engine's label filter already keeps others out
		}
		if sc.want != nil && !sc.want(stackID) {
			next[it.ID] = listedOnly(it)
			continue
		}
		if c, ok := o.provisional(it.ID, dirty, died); ok {
			next[it.ID] = c
			continue
		}
		fp := it.fingerprint
		if prev, ok := o.seen[it.ID]; ok && !prev.listed && prev.fingerprint == fp && dirty[it.ID] == 0 {
			next[it.ID] = prev
			continue
		}
		changed = append(changed, inspectTarget{id: it.ID, fingerprint: fp})
	}
	// Containers named by an event but absent from the list: the list may
	// not show a container created a moment ago yet. Inspect decides; a
	// container that is gone is left out.
	for _, id := range slices.Sorted(maps.Keys(dirty)) {
		if listed[id] {
			continue
		}
		if c, ok := o.provisional(id, dirty, died); ok {
			next[id] = c
			continue
		}
		changed = append(changed, inspectTarget{id: id, checkLabels: true})
	}
	keep := o.matches
	if sc.stackID > 0 {
		want := strconv.FormatInt(sc.stackID, 10)
		keep = func(labels map[string]string) bool { return o.matches(labels) && labels[spec.LabelStackID] == want }
	}
	fresh, err := o.rt.inspectAll(ctx, changed, keep)
	if err != nil {
		return nil, err
	}
	for id, c := range fresh {
		next[id] = c
	}
	o.commit(sc.stackID, next)
	o.clearDirty(dirty, died)
	switch {
	case fromList && sc.stackID == 0:
		o.all = now
		clear(o.stacks)
	case fromList:
		if o.stacks == nil {
			o.stacks = map[int64]listedAt{}
		}
		o.stacks[sc.stackID] = now
	}

	// The containers share their maps and slices with the cache: nothing
	// writes to an observed container once it is made (a new observation
	// replaces the cache's entry), so a snapshot needs no copy of them.
	out := make([]spec.Container, 0, len(next))
	for _, c := range next {
		out = append(out, c.container)
	}
	slices.SortFunc(out, func(a, b spec.Container) int {
		return cmp.Or(cmp.Compare(a.StackID, b.StackID), cmp.Compare(a.InstanceID, b.InstanceID),
			cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// commit makes next the cache: of the whole engine (stackID 0), or of one
// stack, whose earlier entries it replaces.
func (o *Observer) commit(stackID int64, next map[string]observed) {
	if stackID == 0 {
		o.seen = next
		o.byStack = make(map[int64]map[string]struct{}, len(o.byStack))
		for id, c := range next {
			o.index(id, c.container.StackID)
		}
		return
	}
	for id := range o.byStack[stackID] {
		delete(o.seen, id)
	}
	delete(o.byStack, stackID)
	for id, c := range next {
		o.seen[id] = c
		o.index(id, stackID)
	}
}

func (o *Observer) index(id string, stackID int64) {
	ids := o.byStack[stackID]
	if ids == nil {
		ids = map[string]struct{}{}
		o.byStack[stackID] = ids
	}
	ids[id] = struct{}{}
}

// listedOnly is the observation of a container the pass does not inspect
// (its stack is none of the caller's): what its list entry says, enough to
// name it as an orphan. A later pass that wants it inspects it.
func listedOnly(it listEntry) observed {
	stackID, instanceID, _ := spec.IdentityFromLabels(it.Labels)
	c := spec.Container{ID: it.ID, StackID: stackID, InstanceID: instanceID, State: it.State,
		StackName: it.Labels[spec.LabelStack], InstanceName: it.Labels[spec.LabelInstance]}
	if len(it.Names) > 0 {
		c.Name = strings.TrimPrefix(it.Names[0], "/")
	}
	return observed{container: c, listed: true}
}

func (r *Runtime) listContainers(ctx context.Context, f client.Filters) ([]listEntry, error) {
	r.calls.lists.Add(1)
	items, err := r.lister.list(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	r.calls.listed.Add(int64(len(items)))
	return items, nil
}

// inspectTarget is a container to inspect in a pass: its list entry's
// fingerprint ("" when it was not listed), and whether its labels must be
// checked against the Observer's selectors (the list's filter did not).
type inspectTarget struct {
	id          string
	fingerprint string
	checkLabels bool
}

// inspectAll inspects the given containers in parallel, then resolves the
// default env of their images (one image inspect per image not yet cached)
// and converts them. Containers removed since the list are left out, and so
// are targets with checkLabels whose labels do not satisfy keep or carry no
// valid devarch identity.
//
// Each inspect is converted as it arrives, so that a first pass over
// thousands of containers holds a few engine answers at a time, not all of
// them: an inspect decodes to tens of kilobytes, its conversion to far less.
func (r *Runtime) inspectAll(ctx context.Context, items []inspectTarget, keep func(labels map[string]string) bool) (map[string]observed, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		i  int
		in *container.InspectResponse
	}
	results := make(chan result, inspectParallelism)
	var inspectErr error // written before results is closed
	go func() {
		defer close(results)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(inspectParallelism)
		for i, it := range items {
			g.Go(func() error {
				r.calls.inspects.Add(1)
				res, err := r.cli.ContainerInspect(gctx, it.id, client.ContainerInspectOptions{})
				if containerGone(err) {
					r.log.Debug("container vanished before inspect", zap.String("container_id", it.id))
					return nil
				}
				if err != nil {
					return fmt.Errorf("inspect container %s: %w", shortID(it.id), err)
				}
				if it.checkLabels {
					var labels map[string]string
					if res.Container.Config != nil {
						labels = res.Container.Config.Labels
					}
					if _, _, ok := spec.IdentityFromLabels(labels); !ok || !keep(labels) {
						return nil
					}
				}
				select {
				case results <- result{i: i, in: &res.Container}:
					return nil
				case <-gctx.Done():
					return gctx.Err()
				}
			})
		}
		inspectErr = g.Wait()
	}()
	out := make(map[string]observed, len(items))
	var (
		convertErr error
		netIDs     map[string]string // Podman: network ids by name, listed once when needed
	)
	for res := range results {
		if convertErr != nil {
			continue // draining after a failure
		}
		in := res.in
		if podmanNetworkNames(in) {
			if netIDs == nil {
				r.calls.otherLists.Add(1)
				if netIDs, convertErr = r.networkIDsByName(ctx); convertErr != nil {
					cancel()
					continue
				}
			}
			resolveNetworkIDs(in, netIDs)
		}
		defaults, err := r.imageDefaults(ctx, in.Image)
		if err != nil {
			convertErr = err
			cancel()
			continue
		}
		out[in.ID] = observed{fingerprint: items[res.i].fingerprint, container: toContainer(in, defaults)}
	}
	if convertErr != nil {
		return nil, convertErr
	}
	if inspectErr != nil {
		return nil, inspectErr
	}
	return out, nil
}

// statusNotes matches the parenthesised parts of a list entry's status, such
// as "(healthy)" or "(137)": they change when health or exit code change,
// while the rest ("Up 5 minutes") changes every second and is ignored.
var statusNotes = regexp.MustCompile(`\([^)]*\)`)

// fingerprint summarises what of a list entry can change without the
// container being recreated (which would give it a new ID).
func fingerprint(s container.Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%d|%s|%s|", s.State, s.Created, s.ImageID, strings.Join(s.Names, ","))
	b.WriteString(strings.Join(statusNotes.FindAllString(s.Status, -1), ""))
	if s.Health != nil {
		fmt.Fprintf(&b, "|health=%s", s.Health.Status)
	}
	if s.NetworkSettings != nil {
		for _, name := range slices.Sorted(maps.Keys(s.NetworkSettings.Networks)) {
			id := ""
			if ep := s.NetworkSettings.Networks[name]; ep != nil {
				id = ep.NetworkID
			}
			fmt.Fprintf(&b, "|net=%s:%s", name, id)
		}
	}
	return b.String()
}

// anonymousVolume matches the generated name of an anonymous volume.
var anonymousVolume = regexp.MustCompile(`^[0-9a-f]{64}$`)

// toContainer converts an inspect result. Env entries and labels equal to
// one of the image's defaults are dropped.
func toContainer(in *container.InspectResponse, image imageDefaults) spec.Container {
	c := spec.Container{
		ID:         in.ID,
		Name:       strings.TrimPrefix(in.Name, "/"),
		ImageID:    in.Image,
		Command:    []string{},
		Entrypoint: []string{},
		Env:        map[string]string{},
		Ports:      []spec.Port{},
		Published:  []spec.Port{},
		Mounts:     []spec.Volume{},
		Labels:     map[string]string{},
		Networks:   map[string]string{},
	}
	if t, err := time.Parse(time.RFC3339Nano, in.Created); err == nil {
		c.Created = t.UTC()
	}
	if cfg := in.Config; cfg != nil {
		c.Image = familiarImage(cfg.Image)
		c.Command = append(c.Command, cfg.Cmd...)
		c.Entrypoint = append(c.Entrypoint, cfg.Entrypoint...)
		c.WorkingDir = cfg.WorkingDir
		c.Env = envWithoutDefaults(cfg.Env, image.env)
		for k, v := range cfg.Labels {
			if iv, ok := image.labels[k]; !ok || iv != v {
				c.Labels[k] = v
			}
		}
	}
	c.StackID, c.InstanceID, _ = spec.IdentityFromLabels(c.Labels)
	c.StackName = c.Labels[spec.LabelStack]
	c.InstanceName = c.Labels[spec.LabelInstance]
	c.Project = c.Labels[composeProjectLabel]
	c.Service = c.Labels[composeServiceLabel]
	c.ConfigHash = c.Labels[composeConfigHashLabel]
	c.RestartCount = in.RestartCount
	if st := in.State; st != nil {
		c.State = string(st.Status)
		c.ExitCode = st.ExitCode
		if st.Health != nil && st.Health.Status != container.NoHealthcheck {
			c.Health = string(st.Health.Status)
		}
	}
	if hc := in.HostConfig; hc != nil {
		c.Ports = portBindings(hc.PortBindings)
		c.Restart = restartPolicy(hc.RestartPolicy)
	}
	c.Mounts = mounts(in.Mounts, in.HostConfig)
	if ns := in.NetworkSettings; ns != nil {
		c.Published = portBindings(ns.Ports)
		for name, ep := range ns.Networks {
			if ep != nil {
				c.Networks[name] = ep.NetworkID
			} else {
				c.Networks[name] = ""
			}
		}
	}
	return c
}

// Compose's labels on the containers it creates.
const (
	composeProjectLabel    = "com.docker.compose.project"
	composeServiceLabel    = "com.docker.compose.service"
	composeConfigHashLabel = "com.docker.compose.config-hash"
)

// envWithoutDefaults parses "K=V" entries, dropping those equal to an entry
// of the image's defaults. An entry that overrides a default with another
// value is kept.
func envWithoutDefaults(env, imageEnv []string) map[string]string {
	defaults := make(map[string]bool, len(imageEnv))
	for _, e := range imageEnv {
		defaults[e] = true
	}
	out := make(map[string]string, len(env))
	for _, e := range env {
		if defaults[e] {
			continue
		}
		k, v, _ := strings.Cut(e, "=")
		out[k] = v
	}
	return out
}

// portBindings lists port bindings (the desired ones of HostConfig, or the
// live ones of NetworkSettings), in spec.ComparePorts order.
func portBindings(pm network.PortMap) []spec.Port {
	out := []spec.Port{}
	for p, bindings := range pm {
		for _, b := range bindings {
			sp := spec.Port{ContainerPort: p.Num(), Protocol: string(p.Proto())}
			if b.HostIP.IsValid() {
				sp.HostIP = b.HostIP.String()
			}
			if n, err := strconv.ParseUint(b.HostPort, 10, 16); err == nil {
				sp.HostPort = uint16(n)
			}
			out = append(out, sp)
		}
	}
	slices.SortFunc(out, spec.ComparePorts)
	return out
}

func restartPolicy(p container.RestartPolicy) string {
	switch {
	case p.Name == "":
		return string(container.RestartPolicyDisabled)
	case p.Name == container.RestartPolicyOnFailure && p.MaximumRetryCount > 0:
		return fmt.Sprintf("%s:%d", p.Name, p.MaximumRetryCount)
	default:
		return string(p.Name)
	}
}

// mounts lists volume, bind and tmpfs mounts ordered by target. An
// anonymous volume (generated 64-hex name) gets an empty Source, as in
// spec.Volume. Tmpfs mounts set through HostConfig.Tmpfs are included.
func mounts(mps []container.MountPoint, hc *container.HostConfig) []spec.Volume {
	out := []spec.Volume{}
	targets := map[string]bool{}
	for _, m := range mps {
		v := spec.Volume{Target: m.Destination, ReadOnly: !m.RW}
		switch m.Type {
		case mount.TypeVolume:
			v.Type = spec.VolumeTypeVolume
			if !anonymousVolume.MatchString(m.Name) {
				v.Source = m.Name
			}
		case mount.TypeBind:
			v.Type, v.Source = spec.VolumeTypeBind, m.Source
		case mount.TypeTmpfs:
			v.Type = spec.VolumeTypeTmpfs
		default:
			continue
		}
		targets[v.Target] = true
		out = append(out, v)
	}
	if hc != nil {
		for target, opts := range hc.Tmpfs {
			if targets[target] {
				continue
			}
			ro := slices.Contains(strings.Split(opts, ","), "ro")
			out = append(out, spec.Volume{Type: spec.VolumeTypeTmpfs, Target: target, ReadOnly: ro})
		}
	}
	slices.SortFunc(out, func(a, b spec.Volume) int {
		return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.Type, b.Type), cmp.Compare(a.Source, b.Source))
	})
	return out
}

// Event is one engine event about a labeled container.
type Event struct {
	StackID     int64  `json:"stack_id"`
	InstanceID  int64  `json:"instance_id"`
	ContainerID string `json:"container_id"`
	Action      string `json:"action"`
	// Engine names the engine the event came from (Fleet.Events); empty
	// for a Runtime's own stream.
	Engine string `json:"engine,omitempty"`
	// ExitCode is the exit code a "die" event reports (0 otherwise).
	ExitCode int       `json:"exit_code,omitempty"`
	Time     time.Time `json:"time"`
	// labels are the container's labels, as the engine sent them with the
	// event (nil for an Event made by hand).
	labels map[string]string
}

// ChangesState reports whether the event can change what an observation
// of the container says. A "kill" only sends a signal (a "die" follows if
// the process ends); attach, resize, top, copy, export and commit read or
// use the container without changing it. Such events need no pass: one
// would only delay the pass of the event that follows (the "die" of a
// kill).
func (e Event) ChangesState() bool {
	switch e.Action {
	case "kill", "attach", "detach", "resize", "top", "export", "commit", "copy", "archive-path", "extract-to-dir":
		return false
	}
	return true
}

// Events streams events of containers labeled devarch.managed_by=devarch
// (exec_* events, which healthchecks cause every interval, are dropped).
// Both channels end when the stream does: the error channel then yields
// exactly one error (ctx.Err() after cancellation) and is closed, and the
// event channel is closed. Events that happen while no stream is open are
// lost: reconnecting, and doing a full observe after reconnecting, is the
// caller's job.
func (r *Runtime) Events(ctx context.Context) (<-chan Event, <-chan error) {
	f := managedFilter().Add("type", string(events.ContainerEventType))
	res := r.cli.Events(ctx, client.EventsListOptions{Filters: f})
	out := make(chan Event)
	errs := make(chan error, 1)
	r.streams.Add(1)
	r.streamGen.Add(1)
	go func() {
		defer close(errs)
		defer close(out)
		defer func() {
			r.streams.Add(-1)
			r.streamGen.Add(1) // events from now on are lost
		}()
		for {
			select {
			case m := <-res.Messages:
				ev, ok := toEvent(m)
				if !ok {
					continue
				}
				select {
				case out <- ev:
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				}
			case err := <-res.Err:
				if err == nil {
					err = ctx.Err()
				}
				if ctx.Err() == nil {
					err = fmt.Errorf("stream docker events: %w", err)
				}
				errs <- err
				return
			}
		}
	}()
	return out, errs
}

func toEvent(m events.Message) (Event, bool) {
	if m.Type != events.ContainerEventType || strings.HasPrefix(string(m.Action), "exec_") {
		return Event{}, false
	}
	stackID, instanceID, ok := spec.IdentityFromLabels(m.Actor.Attributes)
	if !ok {
		return Event{}, false
	}
	t := time.Unix(m.Time, 0)
	if m.TimeNano != 0 {
		t = time.Unix(0, m.TimeNano)
	}
	ev := Event{StackID: stackID, InstanceID: instanceID, ContainerID: m.Actor.ID, Action: string(m.Action), Time: t.UTC(), labels: m.Actor.Attributes}
	if code, err := strconv.Atoi(m.Actor.Attributes["exitCode"]); err == nil {
		ev.ExitCode = code
	}
	return ev, true
}
