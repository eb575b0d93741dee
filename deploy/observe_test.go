package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

const anonName = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestToContainer(t *testing.T) {
	labels := managedLabels(7, 11, "shop", "db")
	labels[composeProjectLabel] = "devarch-shop"
	labels[composeServiceLabel] = "db"
	labels[composeConfigHashLabel] = "abc123"
	in := &container.InspectResponse{
		ID:      "c1",
		Name:    "/devarch-shop-db",
		Created: "2026-03-01T10:00:00.123456789+01:00",
		Image:   "sha256:img",
		State: &container.State{Status: container.StateExited, ExitCode: 3,
			Health: &container.Health{Status: container.Unhealthy}},
		Config: &container.Config{
			Image:      "postgres:16",
			Cmd:        []string{"postgres", "-c", "x=1"},
			Entrypoint: []string{"docker-entrypoint.sh"},
			WorkingDir: "/var/lib",
			Env:        []string{"PATH=/usr/bin", "PGDATA=/custom", "POSTGRES_PASSWORD=s3cret", "EMPTY=", "NOEQUALS"},
			Labels:     labels,
		},
		HostConfig: &container.HostConfig{
			PortBindings: network.PortMap{
				network.MustParsePort("5432/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "15432"}, {HostPort: ""}},
				network.MustParsePort("53/udp"):   {{HostPort: "5353"}},
				network.MustParsePort("9000/tcp"): {},
			},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 5},
			Tmpfs:         map[string]string{"/run": "rw,size=64m", "/ro": "ro"},
		},
		Mounts: []container.MountPoint{
			{Type: mount.TypeVolume, Name: "devarch-shop_pgdata", Source: "/var/lib/docker/volumes/devarch-shop_pgdata/_data", Destination: "/var/lib/postgresql/data", RW: true},
			{Type: mount.TypeVolume, Name: anonName, Source: "/var/lib/docker/volumes/" + anonName + "/_data", Destination: "/anon", RW: true},
			{Type: mount.TypeBind, Source: "/state/stacks/shop/db/pg.conf", Destination: "/etc/pg.conf", RW: false},
			{Type: mount.TypeTmpfs, Destination: "/scratch", RW: true},
			{Type: mount.TypeNamedPipe, Source: `\\.\pipe\x`, Destination: "/pipe"},
		},
		NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{
			"devarch-shop-net": {NetworkID: "n1"},
			"created-only":     nil,
		}, Ports: network.PortMap{
			// What the engine publishes now (an exited container publishes
			// nothing; the input is synthetic): the live bindings.
			network.MustParsePort("5432/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: "15432"}},
			network.MustParsePort("53/udp"):   {{HostIP: netip.MustParseAddr("0.0.0.0"), HostPort: "5353"}},
		}},
	}
	labels["org.opencontainers.image.title"] = "postgres"
	labels["maintainer"] = "me"
	got := toContainer(in, imageDefaults{
		env:    []string{"PATH=/usr/bin", "PGDATA=/var/lib/postgresql/data", "LANG=C"},
		labels: map[string]string{"org.opencontainers.image.title": "postgres", "maintainer": "them"},
	})
	// The image's title label is dropped; maintainer overrides it: kept.
	delete(labels, "org.opencontainers.image.title")
	want := spec.Container{
		ID: "c1", Name: "devarch-shop-db",
		StackID: 7, StackName: "shop", InstanceID: 11, InstanceName: "db",
		Project: "devarch-shop", Service: "db", ConfigHash: "abc123",
		Image: "postgres:16", ImageID: "sha256:img",
		Command: []string{"postgres", "-c", "x=1"}, Entrypoint: []string{"docker-entrypoint.sh"}, WorkingDir: "/var/lib",
		// PATH equals the image default: dropped. PGDATA overrides it: kept.
		Env: map[string]string{"PGDATA": "/custom", "POSTGRES_PASSWORD": "s3cret", "EMPTY": "", "NOEQUALS": ""},
		Ports: []spec.Port{
			{HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
			{ContainerPort: 5432, Protocol: "tcp"},
			{HostIP: "127.0.0.1", HostPort: 15432, ContainerPort: 5432, Protocol: "tcp"},
		},
		Published: []spec.Port{
			{HostIP: "0.0.0.0", HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
			{HostIP: "127.0.0.1", HostPort: 15432, ContainerPort: 5432, Protocol: "tcp"},
		},
		Mounts: []spec.Volume{
			{Type: "volume", Target: "/anon"},
			{Type: "bind", Source: "/state/stacks/shop/db/pg.conf", Target: "/etc/pg.conf", ReadOnly: true},
			{Type: "tmpfs", Target: "/ro", ReadOnly: true},
			{Type: "tmpfs", Target: "/run"},
			{Type: "tmpfs", Target: "/scratch"},
			{Type: "volume", Source: "devarch-shop_pgdata", Target: "/var/lib/postgresql/data"},
		},
		Labels:   labels,
		Networks: map[string]string{"devarch-shop-net": "n1", "created-only": ""},
		State:    "exited", Health: "unhealthy", ExitCode: 3, Restart: "on-failure:5",
		Created: time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.UTC),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("toContainer =\n%+v\nwant\n%+v", got, want)
	}
}

func TestToContainerEmpty(t *testing.T) {
	got := toContainer(&container.InspectResponse{ID: "x", Name: "/x"}, imageDefaults{})
	if got.Command == nil || got.Entrypoint == nil || got.Env == nil || got.Ports == nil || got.Mounts == nil || got.Labels == nil || got.Networks == nil {
		t.Errorf("nil collections in %+v; want empty ones so JSON shows [] and {}", got)
	}
	if got.StackID != 0 || !got.Created.IsZero() {
		t.Errorf("got %+v from an empty inspect", got)
	}
}

func TestRestartPolicy(t *testing.T) {
	tests := []struct {
		in   container.RestartPolicy
		want string
	}{
		{container.RestartPolicy{}, "no"},
		{container.RestartPolicy{Name: "no"}, "no"},
		{container.RestartPolicy{Name: "always"}, "always"},
		{container.RestartPolicy{Name: "unless-stopped"}, "unless-stopped"},
		{container.RestartPolicy{Name: "on-failure"}, "on-failure"},
		{container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}, "on-failure:2"},
	}
	for _, tt := range tests {
		if got := restartPolicy(tt.in); got != tt.want {
			t.Errorf("restartPolicy(%+v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	base := container.Summary{ID: "c", Names: []string{"/a"}, State: container.StateRunning, Status: "Up 5 seconds (healthy)", Created: 100, ImageID: "i",
		NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"n": {NetworkID: "1"}}}}
	tests := []struct {
		name    string
		edit    func(s *container.Summary)
		changed bool
	}{
		{"uptime ticks", func(s *container.Summary) { s.Status = "Up 3 hours (healthy)" }, false},
		{"health", func(s *container.Summary) { s.Status = "Up 5 seconds (unhealthy)" }, true},
		{"health summary", func(s *container.Summary) { s.Health = &container.HealthSummary{Status: container.Starting} }, true},
		{"state", func(s *container.Summary) { s.State = container.StateExited; s.Status = "Exited (0) 1 second ago" }, true},
		{"exit code", func(s *container.Summary) { s.Status = "Exited (1) 1 second ago" }, true},
		{"created", func(s *container.Summary) { s.Created = 101 }, true},
		{"image", func(s *container.Summary) { s.ImageID = "j" }, true},
		{"renamed", func(s *container.Summary) { s.Names = []string{"/b"} }, true},
		{"network joined", func(s *container.Summary) {
			s.NetworkSettings = &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"n": {NetworkID: "1"}, "m": {NetworkID: "2"}}}
		}, true},
		{"network recreated", func(s *container.Summary) {
			s.NetworkSettings = &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"n": {NetworkID: "3"}}}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.edit(&s)
			if got := fingerprint(s) != fingerprint(base); got != tt.changed {
				t.Errorf("changed = %v, want %v (%q vs %q)", got, tt.changed, fingerprint(s), fingerprint(base))
			}
		})
	}
}

func TestToEvent(t *testing.T) {
	attrs := managedLabels(7, 11, "shop", "db")
	tests := []struct {
		name string
		in   events.Message
		want Event
		ok   bool
	}{
		{"die", events.Message{Type: events.ContainerEventType, Action: events.ActionDie, Actor: events.Actor{ID: "c1", Attributes: attrs}, Time: 5, TimeNano: 5_000_000_007},
			Event{StackID: 7, InstanceID: 11, ContainerID: "c1", Action: "die", Time: time.Unix(5, 7).UTC()}, true},
		{"die with exit code", events.Message{Type: events.ContainerEventType, Action: events.ActionDie,
			Actor: events.Actor{ID: "c1", Attributes: withAttr(attrs, "exitCode", "137")}, Time: 5},
			Event{StackID: 7, InstanceID: 11, ContainerID: "c1", Action: "die", ExitCode: 137, Time: time.Unix(5, 0).UTC()}, true},
		{"seconds only", events.Message{Type: events.ContainerEventType, Action: events.ActionStart, Actor: events.Actor{ID: "c1", Attributes: attrs}, Time: 5},
			Event{StackID: 7, InstanceID: 11, ContainerID: "c1", Action: "start", Time: time.Unix(5, 0).UTC()}, true},
		{"health", events.Message{Type: events.ContainerEventType, Action: events.ActionHealthStatusHealthy, Actor: events.Actor{ID: "c1", Attributes: attrs}, Time: 5},
			Event{StackID: 7, InstanceID: 11, ContainerID: "c1", Action: "health_status: healthy", Time: time.Unix(5, 0).UTC()}, true},
		{"exec", events.Message{Type: events.ContainerEventType, Action: events.ActionExecStart, Actor: events.Actor{ID: "c1", Attributes: attrs}}, Event{}, false},
		{"network", events.Message{Type: events.NetworkEventType, Action: events.ActionConnect, Actor: events.Actor{ID: "n1", Attributes: attrs}}, Event{}, false},
		{"unmanaged", events.Message{Type: events.ContainerEventType, Action: events.ActionDie, Actor: events.Actor{ID: "c1"}}, Event{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := toEvent(tt.in)
			if ok && !maps.Equal(got.labels, tt.in.Actor.Attributes) {
				t.Errorf("toEvent labels = %v, want the actor's attributes %v", got.labels, tt.in.Actor.Attributes)
			}
			got.labels = nil
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("toEvent = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func withAttr(attrs map[string]string, k, v string) map[string]string {
	out := maps.Clone(attrs)
	out[k] = v
	return out
}

// stackObserver returns an Observer of the containers of stack stackID.
func stackObserver(rt *Runtime, stackID int64) *Observer {
	return rt.NewObserver(spec.LabelStackID + "=" + strconv.FormatInt(stackID, 10))
}

// settledStacks returns the channel that receives the stacks obs reports
// settled (OnSettled).
func settledStacks(obs *Observer) <-chan int64 {
	settled := make(chan int64, 64)
	obs.OnSettled(func(id int64) { settled <- id })
	return settled
}

// observedContainer observes and returns container id, found false when
// obs does not see it.
func observedContainer(ctx context.Context, obs *Observer, id string) (spec.Container, bool, error) {
	got, err := obs.Observe(ctx)
	if err != nil {
		return spec.Container{}, false, err
	}
	for _, c := range got {
		if c.ID == id {
			return c, true, nil
		}
	}
	return spec.Container{}, false, nil
}

func waitHealthy(t *testing.T, rt *Runtime, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		res, err := rt.Client().ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h := res.Container.State.Health; h != nil && h.Status == container.Healthy {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("container %s not healthy after 30s", id)
}

func TestObserveRealEngine(t *testing.T) {
	rt := newTestRuntime(t)
	ctx := context.Background()
	cli := rt.Client()
	imageRef, imageID := testImage(t, rt)
	stackID := randomStackID()
	stack := testenv.UniqueName("obs")
	netName := "devarch-" + stack + "-net"
	if _, err := rt.EnsureNetwork(ctx, netName, NetworkLabels(spec.Stack{ID: stackID, Name: stack})); err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	t.Cleanup(func() { _ = rt.RemoveNetwork(context.Background(), netName) })
	volume := stack + "-data"
	if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: volume}); err != nil {
		t.Fatalf("create volume: %v", err)
	}
	t.Cleanup(func() { _, _ = cli.VolumeRemove(context.Background(), volume, client.VolumeRemoveOptions{Force: true}) })
	bindDir := t.TempDir()
	hostPort := testenv.FreePort(t)

	webLabels := managedLabels(stackID, 1, stack, "web")
	webLabels[composeProjectLabel] = spec.ProjectName(stack)
	webLabels[composeServiceLabel] = "web"
	webLabels[composeConfigHashLabel] = "hash-web"
	webLabels["org.example.team"] = "shop"
	webName := spec.ContainerName(stack, "web")
	web := createContainer(t, rt, client.ContainerCreateOptions{
		Name: webName,
		Config: &container.Config{
			Image: imageRef, Cmd: []string{"serve", "--port", "80"}, WorkingDir: "/srv",
			Env:          []string{"FOO=bar", imageDefault, "API_TOKEN=hunter2"},
			Labels:       webLabels,
			Volumes:      map[string]struct{}{"/anon": {}},
			ExposedPorts: network.PortSet{network.MustParsePort("80/tcp"): {}, network.MustParsePort("53/udp"): {}},
			Healthcheck:  &container.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: 200 * time.Millisecond},
		},
		HostConfig: &container.HostConfig{
			PortBindings: network.PortMap{
				network.MustParsePort("80/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: strconv.Itoa(int(hostPort))}},
				network.MustParsePort("53/udp"): {{HostIP: netip.MustParseAddr("127.0.0.1")}},
			},
			RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 3},
			Mounts: []mount.Mount{
				{Type: mount.TypeVolume, Source: volume, Target: "/data"},
				{Type: mount.TypeBind, Source: bindDir, Target: "/conf", ReadOnly: true},
			},
			Tmpfs: map[string]string{"/tmp": ""},
		},
		NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{netName: {}}},
	}, true)
	worker := createContainer(t, rt, client.ContainerCreateOptions{
		Name: spec.ContainerName(stack, "worker"),
		Config: &container.Config{Image: imageRef, Labels: managedLabels(stackID, 2, stack, "worker"),
			Env: []string{"DEVARCH_IMAGE_DEFAULT=overridden"}},
		HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped}},
	}, true)
	stopContainer(t, rt, worker)
	fresh := createContainer(t, rt, client.ContainerCreateOptions{
		Name:   spec.ContainerName(stack, "fresh"),
		Config: &container.Config{Image: imageRef, Labels: managedLabels(stackID, 3, stack, "fresh")},
	}, false)
	unlabeled := createContainer(t, rt, client.ContainerCreateOptions{Name: stack + "-unlabeled", Config: &container.Config{Image: imageRef}}, false)
	malformed := createContainer(t, rt, client.ContainerCreateOptions{Name: stack + "-malformed",
		Config: &container.Config{Image: imageRef, Labels: map[string]string{spec.LabelManagedBy: spec.ManagedByValue, spec.LabelStackID: "seven"}}}, false)
	waitHealthy(t, rt, web)

	all, err := rt.Observe(ctx)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	byID := map[string]spec.Container{}
	var ours []string
	for _, c := range all {
		byID[c.ID] = c
		if c.StackID == stackID {
			ours = append(ours, c.InstanceName)
		}
	}
	if want := []string{"web", "worker", "fresh"}; !slices.Equal(ours, want) {
		t.Errorf("observed instances %v, want %v in instance id order", ours, want)
	}
	for name, id := range map[string]string{"unlabeled": unlabeled, "malformed": malformed} {
		if _, ok := byID[id]; ok {
			t.Errorf("Observe returned the %s container", name)
		}
	}

	netRes, err := cli.NetworkInspect(ctx, netName, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := byID[web]
	if time.Since(got.Created) > 5*time.Minute || time.Until(got.Created) > time.Minute {
		t.Errorf("web created %v, want about now", got.Created)
	}
	got.Created = time.Time{}
	// The engine publishes 80/tcp on the requested host port and 53/udp on
	// an ephemeral one (127.0.0.1 as requested).
	var udpPort uint16
	for _, p := range got.Published {
		if p.ContainerPort == 53 && p.Protocol == "udp" && p.HostIP == "127.0.0.1" {
			udpPort = p.HostPort
		}
	}
	if udpPort == 0 {
		t.Errorf("web publishes %v, want 53/udp on an ephemeral port of 127.0.0.1", got.Published)
	}
	want := spec.Container{
		ID: web, Name: webName, StackID: stackID, StackName: stack, InstanceID: 1, InstanceName: "web",
		Project: spec.ProjectName(stack), Service: "web", ConfigHash: "hash-web",
		Image: imageRef, ImageID: imageID,
		Command: []string{"serve", "--port", "80"}, Entrypoint: []string{"/sleeper"}, WorkingDir: "/srv",
		Env: map[string]string{"FOO": "bar", "API_TOKEN": "hunter2"},
		Ports: []spec.Port{
			{HostIP: "127.0.0.1", ContainerPort: 53, Protocol: "udp"},
			{HostIP: "127.0.0.1", HostPort: hostPort, ContainerPort: 80, Protocol: "tcp"},
		},
		Published: []spec.Port{
			{HostIP: "127.0.0.1", HostPort: udpPort, ContainerPort: 53, Protocol: "udp"},
			{HostIP: "127.0.0.1", HostPort: hostPort, ContainerPort: 80, Protocol: "tcp"},
		},
		Mounts: []spec.Volume{
			{Type: "volume", Target: "/anon"},
			{Type: "bind", Source: bindDir, Target: "/conf", ReadOnly: true},
			{Type: "volume", Source: volume, Target: "/data"},
			{Type: "tmpfs", Target: "/tmp"},
		},
		Labels:   webLabels,
		Networks: map[string]string{netName: netRes.Network.ID},
		State:    "running", Health: "healthy", Restart: "on-failure:3",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("web =\n%+v\nwant\n%+v", got, want)
	}

	w := byID[worker]
	if w.State != spec.StateExited || w.ExitCode != 0 || w.Restart != "unless-stopped" || w.Health != "" {
		t.Errorf("worker state %q exit %d restart %q health %q; want exited, 0, unless-stopped, no health", w.State, w.ExitCode, w.Restart, w.Health)
	}
	if !maps.Equal(w.Env, map[string]string{"DEVARCH_IMAGE_DEFAULT": "overridden"}) {
		t.Errorf("worker env = %v, want only the overridden image default", w.Env)
	}
	if f := byID[fresh]; f.State != spec.StateCreated || f.Restart != "no" || len(f.Env) != 0 {
		t.Errorf("fresh = state %q restart %q env %v; want created, no, empty", f.State, f.Restart, f.Env)
	}
}

func TestObserverInspectsOnlyChanged(t *testing.T) {
	rt := newTestRuntime(t)
	ctx := context.Background()
	imageRef, _ := testImage(t, rt)
	stackID := randomStackID()
	stack := testenv.UniqueName("inc")
	run := func(instance string, id int64) string {
		return createContainer(t, rt, client.ContainerCreateOptions{
			Name:   spec.ContainerName(stack, instance),
			Config: &container.Config{Image: imageRef, Labels: managedLabels(stackID, id, stack, instance), Env: []string{"N=" + instance}},
		}, true)
	}
	a := run("a", 1)
	run("b", 2)
	obs := stackObserver(rt, stackID)

	pass := func(step string, want Calls, wantStates map[string]string) []spec.Container {
		t.Helper()
		before := rt.Calls()
		got, err := obs.Observe(ctx)
		if err != nil {
			t.Fatalf("%s: Observe: %v", step, err)
		}
		if calls := rt.Calls().Sub(before); calls != want {
			t.Errorf("%s: calls = %+v, want %+v", step, calls, want)
		}
		states := map[string]string{}
		for _, c := range got {
			states[c.InstanceName] = c.State
		}
		if !maps.Equal(states, wantStates) {
			t.Errorf("%s: states = %v, want %v", step, states, wantStates)
		}
		return got
	}
	running := spec.StateRunning
	// Returned containers share their maps with the cache (read-only, see
	// spec.Container); plan.TestGoldenPlansFromCorpus checks that a plan
	// does not write to them.
	pass("first pass", Calls{ContainerLists: 1, ContainerInspects: 2, ImageInspects: 1}, map[string]string{"a": running, "b": running})
	pass("nothing changed", Calls{ContainerLists: 1}, map[string]string{"a": running, "b": running})
	stopContainer(t, rt, a)
	pass("after stop", Calls{ContainerLists: 1, ContainerInspects: 1}, map[string]string{"a": spec.StateExited, "b": running})
	run("c", 3)
	pass("after create", Calls{ContainerLists: 1, ContainerInspects: 1}, map[string]string{"a": spec.StateExited, "b": running, "c": running})
	if _, err := rt.Client().ContainerRemove(ctx, a, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	pass("after remove", Calls{ContainerLists: 1}, map[string]string{"b": running, "c": running})
	if len(obs.seen) != 2 {
		t.Errorf("cache holds %d containers after removal, want 2", len(obs.seen))
	}
	obs = stackObserver(rt, stackID)
	pass("fresh observer", Calls{ContainerLists: 1, ContainerInspects: 2}, map[string]string{"b": running, "c": running})
}

func TestEventsReportStop(t *testing.T) {
	rt := newTestRuntime(t)
	imageRef, _ := testImage(t, rt)
	stackID := randomStackID()
	stack := testenv.UniqueName("ev")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	evs, errs := rt.Events(ctx)
	id := createContainer(t, rt, client.ContainerCreateOptions{
		Name:   spec.ContainerName(stack, "api"),
		Config: &container.Config{Image: imageRef, Labels: managedLabels(stackID, 4, stack, "api")},
	}, true)
	createContainer(t, rt, client.ContainerCreateOptions{Name: stack + "-unlabeled", Config: &container.Config{Image: imageRef}}, true)
	stopContainer(t, rt, id)

	timeout := time.After(10 * time.Second)
	var seen []string
	for {
		select {
		case ev := <-evs:
			if ev.ContainerID != id {
				if ev.StackID == stackID {
					t.Errorf("event for a container of the stack that is not ours: %+v", ev)
				}
				continue
			}
			if ev.StackID != stackID || ev.InstanceID != 4 || time.Since(ev.Time) > time.Minute {
				t.Errorf("event %+v, want stack %d instance 4 at about now", ev, stackID)
			}
			seen = append(seen, ev.Action)
			if ev.Action == "stop" || ev.Action == "die" {
				cancel()
				select {
				case err := <-errs:
					if !errors.Is(err, context.Canceled) {
						t.Errorf("stream ended with %v, want context.Canceled", err)
					}
				case <-time.After(5 * time.Second):
					t.Error("error channel silent after cancel")
				}
				return
			}
		case err := <-errs:
			t.Fatalf("event stream ended: %v (saw %v)", err, seen)
		case <-timeout:
			t.Fatalf("no stop/die event within 10s; saw %v", seen)
		}
	}
}

func TestImageIDs(t *testing.T) {
	rt := newTestRuntime(t)
	ref, id := testImage(t, rt)
	missing := testenv.UniqueName("devarch-test/missing-") + ":1"
	before := rt.Calls()
	got, err := rt.ImageIDs(context.Background(), []string{ref, missing, ref, missing, ""})
	if err != nil {
		t.Fatalf("ImageIDs: %v", err)
	}
	if calls := rt.Calls().Sub(before); calls != (Calls{ImageInspects: 2}) {
		t.Errorf("calls = %+v, want one image inspect per distinct reference", calls)
	}
	if want := map[string]string{ref: id}; !maps.Equal(got, want) {
		t.Errorf("ImageIDs = %v, want %v", got, want)
	}
}

// TestObserverFollowsEvents drives an Observer the way the reconcile loop
// does — on every engine event about a container, Invalidate it, then
// observe — through several kill/start, pause/unpause and crash cycles of
// the same container. The engine's container list lags behind its events
// (at a "die" event it may still say "running"), so an Observer that trusted
// the list would keep a killed container running forever.
func TestObserverFollowsEvents(t *testing.T) {
	rt := newTestRuntime(t)
	cli := rt.Client()
	stackID := randomStackID()
	stack := testenv.UniqueName("evobs")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	evs, errs := rt.Events(ctx)
	obs := stackObserver(rt, stackID)
	settled := settledStacks(obs)
	id := createContainer(t, rt, client.ContainerCreateOptions{
		Name:   spec.ContainerName(stack, "web"),
		Config: &container.Config{Image: testenv.TestImage, Labels: managedLabels(stackID, 1, stack, "web")},
	}, true)

	// until handles events until the observed state of the container,
	// observed after Invalidate on each event, satisfies want.
	until := func(step string, want func(c spec.Container, ok bool) bool) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case id := <-settled:
				if id != stackID {
					t.Errorf("%s: settled stack %d, want %d", step, id, stackID)
				}
			case ev := <-evs:
				obs.HandleEvent(ev)
			case err := <-errs:
				t.Fatalf("%s: event stream ended: %v", step, err)
			case <-timeout:
				got, _ := obs.Observe(ctx)
				t.Fatalf("%s: not observed within 30 s after the engine's events; observer has %+v", step, got)
			}
			c, found, err := observedContainer(ctx, obs, id)
			if err != nil {
				t.Fatalf("%s: Observe: %v", step, err)
			}
			if want(c, found) {
				return
			}
		}
	}
	state := func(s string) func(spec.Container, bool) bool {
		return func(c spec.Container, ok bool) bool { return ok && c.State == s }
	}
	for i := range 4 {
		if _, err := cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
			t.Fatal(err)
		}
		until(fmt.Sprintf("kill %d", i), func(c spec.Container, ok bool) bool { return ok && c.State == spec.StateExited && c.ExitCode == 137 })
		if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		until(fmt.Sprintf("start %d", i), state(spec.StateRunning))
	}
	for i := range 3 {
		if _, err := cli.ContainerPause(ctx, id, client.ContainerPauseOptions{}); err != nil {
			t.Fatal(err)
		}
		until(fmt.Sprintf("pause %d", i), state(spec.StatePaused))
		if _, err := cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil {
			t.Fatal(err)
		}
		until(fmt.Sprintf("unpause %d", i), state(spec.StateRunning))
	}
	if _, err := cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	until("rm -f", func(_ spec.Container, ok bool) bool { return !ok })

	// A container whose process exits 1 by itself, started again and again.
	id = createContainer(t, rt, client.ContainerCreateOptions{
		Name: spec.ContainerName(stack, "crash"),
		Config: &container.Config{Image: testenv.TestImage, Labels: managedLabels(stackID, 2, stack, "crash"),
			Env: []string{"SLEEPER_EXIT_AFTER=300ms", "SLEEPER_EXIT_CODE=1"}},
	}, true)
	for i := range 3 {
		until(fmt.Sprintf("crash %d", i), func(c spec.Container, ok bool) bool { return ok && c.State == spec.StateExited && c.ExitCode == 1 })
		if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDieIsShownAtOnceThenSettled: a container's process exits by itself
// under restart: always. At its die event the observer shows it exited with
// the event's exit code without waiting for the engine; once the engine has
// handled the exit the observer says so (OnSettled, with the stack), and
// the next pass inspects the container: the restart policy restarted it.
func TestDieIsShownAtOnceThenSettled(t *testing.T) {
	rt := newTestRuntime(t)
	stackID := randomStackID()
	stack := testenv.UniqueName("settle")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	evs, errs := rt.Events(ctx)
	obs := stackObserver(rt, stackID)
	settled := settledStacks(obs)
	id := createContainer(t, rt, client.ContainerCreateOptions{
		Name: spec.ContainerName(stack, "loop"),
		Config: &container.Config{Image: testenv.TestImage, Labels: managedLabels(stackID, 1, stack, "loop"),
			Env: []string{"SLEEPER_EXIT_AFTER=1s", "SLEEPER_EXIT_CODE=3"}},
		HostConfig: &container.HostConfig{RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyAlways}},
	}, true)
	if _, err := obs.Observe(ctx); err != nil { // cache it, running
		t.Fatal(err)
	}
	state := func() spec.Container {
		t.Helper()
		c, found, err := observedContainer(ctx, obs, id)
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			t.Fatal("container not observed")
		}
		return c
	}
	for {
		select {
		case ev := <-evs:
			obs.HandleEvent(ev)
			if ev.ContainerID != id || ev.Action != "die" {
				continue
			}
			if c := state(); c.State != spec.StateExited || c.ExitCode != 3 {
				t.Fatalf("right after the die event: %s (%d), want exited (3)", c.State, c.ExitCode)
			}
		case got := <-settled:
			if got != stackID {
				t.Fatalf("settled stack %d, want %d", got, stackID)
			}
			c := state()
			if c.RestartCount < 1 || (c.State != spec.StateRestarting && c.State != spec.StateRunning) {
				t.Fatalf("after the exit settled: %s, %d restarts; want restarting or running again, restarted", c.State, c.RestartCount)
			}
			return
		case err := <-errs:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal("no die event and settlement within a minute")
		}
	}
}
