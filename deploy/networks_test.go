package deploy

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// networkTemplates are the templates of catalog/testdata/networks by name.
func networkTemplates(t *testing.T) map[string]*spec.Template { return catalogTemplates(t, "networks") }

// catalogTemplates are the templates of catalog/testdata/<dir> by name,
// with ids 1, 2, ... in file order.
func catalogTemplates(t *testing.T, dir string) map[string]*spec.Template {
	t.Helper()
	out := map[string]*spec.Template{}
	for i, fr := range catalog.LoadPaths(filepath.Join("..", "catalog", "testdata", dir)) {
		if fr.Err != nil {
			t.Fatal(fr.Err)
		}
		tmpl := fr.Template
		tmpl.ID = int64(i + 1)
		out[tmpl.Name] = &tmpl
	}
	return out
}

func templateInstance(id int64, name string, t *spec.Template, o spec.Overrides) spec.Instance {
	return spec.Instance{ID: id, Name: name, Enabled: true, Template: t, Overrides: o, Effective: spec.Merge(&t.Spec, o)}
}

// createExternalNetwork creates a network outside any stack (as a reverse
// proxy's network is) and removes it when the test ends, after the stack's
// own cleanup.
func createExternalNetwork(t *testing.T) string {
	t.Helper()
	testenv.Docker(t)
	rt, err := NewRuntime("", nil)
	if err != nil {
		t.Fatal(err)
	}
	name := testenv.UniqueName("ext")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := rt.Client().NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = rt.Client().NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
		_ = rt.Close()
	})
	return name
}

// removeStackNetworks removes, when the test ends (after the stack's own
// cleanup), every network labelled with the stack's id.
func removeStackNetworks(t *testing.T, f *applyFixture) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt, err := NewRuntime("", nil)
		if err != nil {
			return
		}
		defer rt.Close()
		nets, _ := rt.Client().NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("label", spec.LabelStackID+"="+itoa(f.stack.ID))})
		for _, n := range nets.Items {
			_, _ = rt.Client().NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
		}
	})
}

func (f *applyFixture) networkExists(name string) bool {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nets, err := f.rt.networksNamed(ctx, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(nets) == 1
}

// requireFields asserts a plan of one modify of instance naming exactly
// paths, from source.
func requireFields(t *testing.T, p *plan.Plan, instance string, source spec.Source, paths ...string) {
	t.Helper()
	if len(p.Changes) != 1 || p.Changes[0].Instance != instance || p.Changes[0].Action != plan.ActionModify {
		t.Fatalf("want one modify of %s, got %+v", instance, p.Changes)
	}
	var got []string
	for _, fc := range p.Changes[0].Fields {
		got = append(got, fc.Path)
		if fc.Source != source {
			t.Errorf("%s: source %s, want %s", fc.Path, fc.Source, source)
		}
	}
	if !slices.Equal(got, paths) {
		t.Fatalf("plan fields %v, want %v", got, paths)
	}
}

// TestNetworksOnRealEngine applies a stack whose web instance joins the
// stack's network and a second network the stack owns (a subnet of its
// own, an alias, a fixed address), and whose worker instance joins the
// stack's network and an external network made outside the stack (as a
// reverse proxy's is). It inspects what the engine made, proves the plan
// empty, changes one attachment setting (a one-field plan, one container
// recreated), and disables the stack: the external network stays.
func TestNetworksOnRealEngine(t *testing.T) {
	ext := createExternalNetwork(t)
	tmpls := networkTemplates(t)
	worker := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Networks:           spec.Networks{"default": nil, "proxy": {Aliases: []string{"worker-proxy"}}},
		NetworkDefinitions: spec.NetworkDefinitions{"proxy": {External: true, Name: ext}},
	}}
	f := newApplyFixture(t, templateInstance(1, "web", tmpls["web"], spec.Overrides{}), templateInstance(2, "worker", tmpls["worker"], worker))
	removeStackNetworks(t, f)
	res := f.apply()
	backend := "devarch-" + f.stack.Name + "-backend"
	if !slices.Equal(res.NetworksCreated, []string{backend}) {
		t.Errorf("networks created: %v, want %s", res.NetworksCreated, backend)
	}
	f.requireEmptyPlan("right after the first apply")

	web, wrk := f.inspect("web"), f.inspect("worker")
	own := f.stack.Network()
	if got := sorted(mapsKeys(web.NetworkSettings.Networks)); !slices.Equal(got, sorted([]string{own, backend})) {
		t.Errorf("web joins %v, want %s and %s", got, own, backend)
	}
	if got := sorted(mapsKeys(wrk.NetworkSettings.Networks)); !slices.Equal(got, sorted([]string{own, ext})) {
		t.Errorf("worker joins %v, want %s and %s", got, own, ext)
	}
	ep := web.NetworkSettings.Networks[backend]
	if ep == nil || ep.IPAddress.String() != "10.213.57.10" || ep.IPAMConfig == nil || ep.IPAMConfig.IPv4Address.String() != "10.213.57.10" {
		t.Errorf("web on %s: endpoint %+v, want address 10.213.57.10", backend, ep)
	}
	if ep != nil && (!slices.Contains(ep.Aliases, "web-backend") || !slices.Contains(ep.Aliases, "api.internal")) {
		t.Errorf("web's aliases on %s: %v, want web-backend and api.internal", backend, ep.Aliases)
	}
	if ep := wrk.NetworkSettings.Networks[ext]; ep == nil || !slices.Contains(ep.Aliases, "worker-proxy") {
		t.Errorf("worker on %s: %+v, want alias worker-proxy", ext, ep)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	insp, err := f.rt.Client().NetworkInspect(ctx, backend, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := insp.Network
	if n.Labels[spec.LabelStackID] != itoa(f.stack.ID) || n.Labels["com.example.tier"] != "backend" || len(n.IPAM.Config) != 1 ||
		n.IPAM.Config[0].Subnet.String() != "10.213.57.0/24" || n.IPAM.Config[0].Gateway.String() != "10.213.57.1" {
		t.Errorf("network %s: labels %v, ipam %+v; want the stack's labels and com.example.tier, subnet 10.213.57.0/24 gateway 10.213.57.1", backend, n.Labels, n.IPAM.Config)
	}

	// One attachment setting changes: the plan names it alone and compose
	// recreates web alone.
	f.edit("web", func(o *spec.Overrides, t *spec.Template) {
		o.Networks = spec.Networks{"default": nil, "backend": {Aliases: []string{"web-backend"}, IPv4Address: "10.213.57.10", Priority: 10}}
	})
	requireFields(t, f.plan(), "web", spec.SourceUser, "networks.backend.aliases")
	if res := f.apply(); !slices.Equal(res.Recreated, []string{f.container("web")}) || len(res.Created) != 0 {
		t.Fatalf("aliases: compose recreated %v, created %v; want web recreated", res.Recreated, res.Created)
	}
	f.requireEmptyPlan("after changing web's aliases")
	if ep := f.inspect("web").NetworkSettings.Networks[backend]; ep == nil || slices.Contains(ep.Aliases, "api.internal") {
		t.Errorf("web on %s after the edit: %+v, want api.internal gone", backend, ep)
	}

	// The worker leaves the external network: "- networks.proxy"; its
	// template's networks (the stack's own alone) apply again.
	f.edit("worker", func(o *spec.Overrides, _ *spec.Template) { *o = spec.Overrides{} })
	requireFields(t, f.plan(), "worker", spec.SourceTemplate, "networks.proxy", "networks.proxy.aliases")
	f.apply()
	f.requireEmptyPlan("after the worker left the external network")
	if _, ok := f.inspect("worker").NetworkSettings.Networks[ext]; ok {
		t.Errorf("worker is still attached to %s", ext)
	}
	f.edit("worker", func(o *spec.Overrides, _ *spec.Template) { *o = worker })
	f.apply()
	f.requireEmptyPlan("after the worker joined the external network again")

	// A container that left one of its networks is recreated.
	if _, err := f.rt.Client().NetworkDisconnect(ctx, ext, client.NetworkDisconnectOptions{Container: f.container("worker"), Force: true}); err != nil {
		t.Fatal(err)
	}
	p := f.plan()
	if len(p.Changes) != 1 || !p.Changes[0].Recreate || len(p.Changes[0].Fields) != 1 || p.Changes[0].Fields[0].Path != "networks" ||
		!strings.Contains(p.Changes[0].Fields[0].Reason, ext) {
		t.Fatalf("after disconnecting worker from %s: plan %+v, want a recreate naming it", ext, p.Changes)
	}
	f.apply()
	f.requireEmptyPlan("after reattaching the worker")

	// Disabling the stack removes its containers, never the external
	// network.
	f.stack.Enabled = false
	f.apply()
	f.requireEmptyPlan("after disabling the stack")
	if !f.networkExists(ext) {
		t.Errorf("the external network %s was removed", ext)
	}
	f.stack.Enabled = true
}

// TestExternalNetworkMissing: an external network that does not exist
// fails the network phase with a message that says what to do, before
// anything is created.
func TestExternalNetworkMissing(t *testing.T) {
	tmpls := networkTemplates(t)
	missing := testenv.UniqueName("missing")
	f := newApplyFixture(t, templateInstance(1, "worker", tmpls["worker"], spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Networks:           spec.Networks{"proxy": nil},
		NetworkDefinitions: spec.NetworkDefinitions{"proxy": {External: true, Name: missing}},
	}}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := f.rt.Apply(ctx, f.stack, f.opts, nil)
	var ae *ApplyError
	var ee *ExternalNetworkError
	if !errors.As(err, &ae) || ae.Phase != PhaseNetwork || !errors.As(err, &ee) {
		t.Fatalf("apply: %v, want a network phase error about the external network", err)
	}
	if want := "network \"" + missing + "\" is declared external but does not exist on the engine; create it with `docker network create " + missing + "`"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
	if f.networkExists(missing) {
		t.Errorf("apply created the external network %s", missing)
	}
}

// TestNetworkModeOnRealEngine applies network_mode none, host and
// service:NAME: the engine has them, the plan is empty after apply, and a
// recreate of the instance whose namespace another shares recreates that
// one too (compose resolves service:NAME to the container's id).
func TestNetworkModeOnRealEngine(t *testing.T) {
	tmpls := networkTemplates(t)
	mode := func(m string) spec.Overrides {
		return spec.Overrides{ServiceSpec: spec.ServiceSpec{Options: spec.Options{NetworkMode: m}}}
	}
	f := newApplyFixture(t,
		templateInstance(1, "base", tmpls["worker"], spec.Overrides{}),
		templateInstance(2, "isolated", tmpls["worker"], mode("none")),
		templateInstance(3, "hostnet", tmpls["worker"], mode("host")),
		templateInstance(4, "side", tmpls["worker"], mode("service:base")),
	)
	f.apply()
	f.requireEmptyPlan("right after the first apply")
	base := f.inspect("base")
	for inst, want := range map[string]string{"isolated": "none", "hostnet": "host", "side": "container:" + base.ID} {
		c := f.inspect(inst)
		if got := string(c.HostConfig.NetworkMode); got != want {
			t.Errorf("%s: network mode %q, want %q", inst, got, want)
		}
		if _, ok := c.NetworkSettings.Networks[f.stack.Network()]; ok {
			t.Errorf("%s joins the stack's network despite its network_mode", inst)
		}
	}

	f.edit("base", func(o *spec.Overrides, _ *spec.Template) { o.Env = []spec.EnvVar{{Key: "X", Value: "1"}} })
	p := f.plan()
	if len(p.Changes) != 2 || p.Changes[0].Instance != "base" || p.Changes[1].Instance != "side" || !p.Changes[1].Recreate ||
		len(p.Changes[1].Fields) != 1 || p.Changes[1].Fields[0].Path != "network_mode" {
		t.Fatalf("env of base: want base and side recreated (side: network_mode), got %+v", p.Changes)
	}
	res := f.apply()
	if !slices.Equal(sorted(res.Recreated), sorted([]string{f.container("base"), f.container("side")})) {
		t.Fatalf("compose recreated %v, want base and side", res.Recreated)
	}
	f.requireEmptyPlan("after recreating base and side")
	if got, want := string(f.inspect("side").HostConfig.NetworkMode), "container:"+f.inspect("base").ID; got != want {
		t.Errorf("side: network mode %q after the recreate, want %q", got, want)
	}

	f.edit("isolated", func(o *spec.Overrides, _ *spec.Template) { o.NetworkMode = "" })
	requireFields(t, f.plan(), "isolated", spec.SourceTemplate, "network_mode")
	f.apply()
	f.requireEmptyPlan("after isolated joined the stack's network")
	if _, ok := f.inspect("isolated").NetworkSettings.Networks[f.stack.Network()]; !ok {
		t.Errorf("isolated does not join the stack's network without a network_mode")
	}
}

func mapsKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestStackNetworkChecks: a network the stack owns that exists with other
// settings, or that is not the controller's, stops the apply in the
// network phase with a message saying what to do; it is left as it is.
func TestStackNetworkChecks(t *testing.T) {
	tmpls := networkTemplates(t)
	f := newApplyFixture(t, templateInstance(1, "web", tmpls["web"], spec.Overrides{}))
	removeStackNetworks(t, f)
	backend := "devarch-" + f.stack.Name + "-backend"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Not the controller's: no labels.
	if _, err := f.rt.Client().NetworkCreate(ctx, backend, client.NetworkCreateOptions{Driver: "bridge"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.rt.Apply(ctx, f.stack, f.opts, nil)
	var own *NetworkOwnershipError
	if !errors.As(err, &own) || own.Network != backend {
		t.Fatalf("apply over a foreign %s: %v, want a NetworkOwnershipError", backend, err)
	}
	if _, err := f.rt.Client().NetworkRemove(ctx, backend, client.NetworkRemoveOptions{}); err != nil {
		t.Fatal(err)
	}

	// The stack's, with another subnet than the template defines.
	if _, err := f.rt.EnsureNetwork(ctx, backend, NetworkLabels(f.stack)); err != nil {
		t.Fatal(err)
	}
	_, err = f.rt.Apply(ctx, f.stack, f.opts, nil)
	var se *NetworkSettingsError
	var ae *ApplyError
	if !errors.As(err, &se) || !errors.As(err, &ae) || ae.Phase != PhaseNetwork {
		t.Fatalf("apply over %s with other settings: %v, want a NetworkSettingsError in the network phase", backend, err)
	}
	if !strings.Contains(err.Error(), "defined 10.213.57.0/24") || !strings.Contains(err.Error(), "docker network rm "+backend) {
		t.Errorf("error %q, want the subnets and what to do", err)
	}
	if names := f.containerStarts(); len(names) != 0 {
		t.Errorf("containers created despite the network error: %v", names)
	}
}
