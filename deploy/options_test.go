package deploy

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// optionsInstances are one instance of each template of
// catalog/testdata/options, the compose files that set every key of
// spec.Options this engine applies.
func optionsInstances(t *testing.T) []spec.Instance {
	t.Helper()
	tmpls := catalogTemplates(t, "options")
	var out []spec.Instance
	for _, name := range slices.Sorted(maps.Keys(tmpls)) {
		out = append(out, templateInstance(tmpls[name].ID, name, tmpls[name], spec.Overrides{}))
	}
	return out
}

func (f *applyFixture) inspect(instance string) container.InspectResponse {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := f.rt.Client().ContainerInspect(ctx, f.container(instance), client.ContainerInspectOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return res.Container
}

// TestOptionsOnRealEngine applies the stack of catalog/testdata/options,
// reads every key back from the engine, proves the plan empty (no key's
// engine default or normal form shows as drift), and then changes one key
// at a time: the plan names exactly that key's field, and going back
// empties it again. A few of the changes are applied, each recreating
// exactly its container.
func TestOptionsOnRealEngine(t *testing.T) { testenv.EachEngine(t, testOptionsOn) }

func testOptionsOn(t *testing.T, e testenv.Engine) {
	t.Parallel() // the engines side by side
	f := newEngineFixture(t, e, podmanOptions(t, e, optionsInstances(t))...)
	f.apply()
	f.requireEmptyPlan("right after the first apply")

	network := f.stack.Network()
	main, dep, quota := f.inspect("main"), f.inspect("deploy"), f.inspect("quota")
	h, d, q := main.HostConfig, dep.HostConfig, quota.HostConfig
	ulimits := map[string]string{}
	for _, u := range h.Ulimits {
		ulimits[u.Name] = fmt.Sprintf("%d:%d", u.Soft, u.Hard)
	}
	var exposed []string
	for p := range main.Config.ExposedPorts {
		exposed = append(exposed, p.String())
	}
	slices.Sort(exposed)
	ep := dep.NetworkSettings.Networks[network]
	checks := []struct {
		key       string
		got, want any
	}{
		{"hostname", main.Config.Hostname, "web-1"},
		{"domainname", main.Config.Domainname, "example.test"},
		{"read_only", h.ReadonlyRootfs, true},
		{"init", h.Init != nil && *h.Init, true},
		{"cap_drop", sorted(h.CapDrop), []string{"CAP_MKNOD", "CAP_NET_RAW"}},
		{"security_opt", h.SecurityOpt, []string{"no-new-privileges:true"}},
		{"sysctls", h.Sysctls, map[string]string{"net.core.somaxconn": "1024", "net.ipv4.tcp_syncookies": "0"}},
		{"ulimits", ulimits, map[string]string{"nofile": "1024:2048", "nproc": "512:512"}},
		{"pids_limit", deref(h.PidsLimit), int64(100)},
		{"stop_signal", main.Config.StopSignal, "SIGINT"},
		{"stop_grace_period", deref(main.Config.StopTimeout), 5},
		{"extra_hosts", sorted(h.ExtraHosts), []string{"db.local:10.0.0.5", "host.docker.internal:host-gateway"}},
		{"dns", fmt.Sprint(h.DNS), "[10.0.0.53 10.0.0.54]"},
		{"dns_search", h.DNSSearch, []string{"example.test"}},
		{"dns_opt", h.DNSOptions, []string{"ndots:2"}},
		{"logging", h.LogConfig.Type + fmt.Sprint(h.LogConfig.Config), "json-filemap[max-file:2 max-size:1m]"},
		{"tmpfs", h.Tmpfs, map[string]string{"/run": "size=16m", "/tmp": ""}},
		{"shm_size", h.ShmSize, int64(128 << 20)},
		{"group_add", h.GroupAdd, []string{"1234"}},
		{"mem_limit", h.Memory, int64(256 << 20)},
		{"mem_reservation", h.MemoryReservation, int64(128 << 20)},
		{"memswap_limit", h.MemorySwap, int64(512 << 20)},
		{"cpus", h.NanoCPUs, int64(5e8)},
		{"cpu_shares", h.CPUShares, int64(512)},
		{"cpuset", h.CpusetCpus, "0"},
		{"oom_score_adj", h.OomScoreAdj, 100},
		{"oom_kill_disable", h.OomKillDisable != nil && *h.OomKillDisable, true},
		{"expose", exposed, []string{"9000/tcp", "9001/udp"}},
		{"devices", fmt.Sprint(h.Devices), "[{/dev/null /dev/xnull rwm}]"},
		{"device_cgroup_rules", h.DeviceCgroupRules, []string{"c 1:3 mr"}},
		{"ipc", string(h.IpcMode), "shareable"},
		{"cgroup", string(h.CgroupnsMode), "private"},
		{"runtime", h.Runtime, "runc"},
		{"platform", main.Platform, "linux"},
		{"stdin_open", main.Config.OpenStdin, true},
		{"tty", main.Config.Tty, true},
		{"restart", string(h.RestartPolicy.Name), "unless-stopped"},
		{"links", ep != nil && slices.ContainsFunc(append(ep.Links, d.Links...), func(l string) bool { return strings.HasSuffix(l, ":primary") }), true},
		{"volumes_from", d.VolumesFrom, []string{quota.ID}},
		{"deploy.resources.limits", fmt.Sprint(d.NanoCPUs, d.Memory, deref(d.PidsLimit)), fmt.Sprint(int64(2.5e8), int64(64<<20), int64(50))},
		{"deploy.resources.reservations.memory", d.MemoryReservation, int64(32 << 20)},
		{"deploy.restart_policy", fmt.Sprintf("%s %d", d.RestartPolicy.Name, d.RestartPolicy.MaximumRetryCount), "on-failure 3"},
		{"cpu_period", q.CPUPeriod, int64(100000)},
		{"cpu_quota", q.CPUQuota, int64(50000)},
		{"cpu_rt_period", q.CPURealtimePeriod, int64(1000000)},
		{"uts", string(q.UTSMode), "host"},
		{"userns_mode", string(q.UsernsMode), "host"},
		{"pid", string(q.PidMode), "host"},
		{"mem_swappiness", deref(q.MemorySwappiness), int64(10)},
	}
	// Engines before API 1.44 take no MAC address per network endpoint,
	// where compose sets it: they ignore the key.
	if mac := main.NetworkSettings.Networks[network].MacAddress.String(); f.rt.APIAtLeast("1.44") {
		checks = append(checks, struct {
			key       string
			got, want any
		}{"mac_address", mac, "02:42:ac:11:ff:01"})
	}
	for _, c := range checks {
		if !engineCan(e, c.key) {
			continue
		}
		if want := engineReads(e, c.key, c.want); fmt.Sprint(c.got) != fmt.Sprint(want) {
			t.Errorf("%s: the engine has %v, want %v", c.key, c.got, want)
		}
	}

	// quota's container is shared by deploy (volumes_from): recreating it
	// recreates deploy, and the plan says so.
	f.edit("quota", func(o *spec.Overrides, _ *spec.Template) { o.CPUQuota = 25000 })
	p := f.plan()
	if len(p.Changes) != 2 || p.Changes[0].Instance != "deploy" || !p.Changes[0].Recreate || p.Changes[1].Instance != "quota" {
		t.Fatalf("cpu_quota of quota: want deploy and quota recreated, got %+v", p.Changes)
	}
	if fs := p.Changes[0].Fields; len(fs) != 1 || fs[0].Path != "volumes_from" || fs[0].Source != spec.SourceRuntime {
		t.Errorf("deploy's fields: %+v, want volumes_from (runtime)", fs)
	}
	if res := f.apply(); !slices.Equal(sorted(res.Recreated), sorted([]string{f.container("deploy"), f.container("quota")})) {
		t.Fatalf("cpu_quota: compose recreated %v, want deploy and quota", res.Recreated)
	}
	f.requireEmptyPlan("after recreating quota and deploy")
	f.edit("quota", func(o *spec.Overrides, _ *spec.Template) { *o = spec.Overrides{} })
	f.apply()
	f.requireEmptyPlan("after undoing cpu_quota")

	edits := []struct {
		instance, path string
		edit           func(o *spec.Overrides)
		apply          bool
	}{
		{"main", "hostname", func(o *spec.Overrides) { o.Hostname = "web-2" }, true},
		{"main", "ulimits.nofile.soft", func(o *spec.Overrides) { o.Ulimits = map[string]spec.Ulimit{"nofile": {Soft: 2048, Hard: 2048}} }, true},
		{"deploy", "deploy.resources.limits.memory", func(o *spec.Overrides) {
			o.Deploy = &spec.Deploy{Resources: spec.Resources{
				Limits: &spec.Resource{CPUs: 0.25, Memory: 96 << 20, Pids: 50}, Reservations: &spec.Resource{Memory: 32 << 20}}}
		}, true},
		{"main", "sysctls.net.core.somaxconn", func(o *spec.Overrides) { o.Sysctls = map[string]string{"net.core.somaxconn": "2048"} }, false},
		{"main", "logging.options.max-size", func(o *spec.Overrides) {
			o.Logging = &spec.Logging{Driver: "json-file", Options: map[string]string{"max-size": "2m", "max-file": "2"}}
		}, false},
		{"main", "stop_signal", func(o *spec.Overrides) { o.StopSignal = "SIGTERM" }, false},
		{"main", "stop_grace_period", func(o *spec.Overrides) { d := spec.Duration(10 * time.Second); o.StopGracePeriod = &d }, false},
		{"main", "tmpfs", func(o *spec.Overrides) { o.Tmpfs = []string{"/run:size=32m", "/tmp"} }, false},
		{"main", "mem_limit", func(o *spec.Overrides) { o.MemLimit = 300 << 20 }, false},
		{"main", "cpus", func(o *spec.Overrides) { o.CPUs = 0.75 }, false},
		{"main", "cap_drop", func(o *spec.Overrides) { o.CapDrop = []string{"NET_RAW"} }, false},
		{"main", "dns", func(o *spec.Overrides) { o.DNS = []string{"10.0.0.54", "10.0.0.53"} }, false},
		{"main", "extra_hosts", func(o *spec.Overrides) { o.ExtraHosts = []string{"db.local=10.0.0.6"} }, false},
		{"main", "pids_limit", func(o *spec.Overrides) { o.PidsLimit = 200 }, false},
		{"main", "init", func(o *spec.Overrides) { v := false; o.Init = &v }, false},
		{"main", "expose", func(o *spec.Overrides) { o.Expose = []string{"9000"} }, false},
		{"main", "pull_policy", func(o *spec.Overrides) { o.PullPolicy = "missing" }, false},
	}
	for _, e := range edits {
		f.edit(e.instance, func(o *spec.Overrides, _ *spec.Template) { e.edit(o) })
		p := f.plan()
		if len(p.Changes) != 1 || p.Changes[0].Instance != e.instance || p.Changes[0].Action != plan.ActionModify {
			t.Fatalf("%s: want one modify of %s, got %+v", e.path, e.instance, p.Changes)
		}
		var got []string
		for _, fc := range p.Changes[0].Fields {
			got = append(got, fc.Path)
			if fc.Source != spec.SourceUser {
				t.Errorf("%s: source %s, want user", fc.Path, fc.Source)
			}
		}
		if !slices.Equal(got, []string{e.path}) {
			t.Fatalf("%s: plan fields %v", e.path, got)
		}
		if e.apply {
			res := f.apply()
			if !slices.Equal(res.Recreated, []string{f.container(e.instance)}) || len(res.Created) != 0 {
				t.Fatalf("%s: compose recreated %v, created %v; want exactly %s recreated", e.path, res.Recreated, res.Created, e.instance)
			}
			f.requireEmptyPlan("after applying " + e.path)
		}
		f.edit(e.instance, func(o *spec.Overrides, _ *spec.Template) { *o = spec.Overrides{} })
		if e.apply {
			f.apply()
		}
		f.requireEmptyPlan("after undoing " + e.path)
	}
	if got := f.inspect("main").Config.Hostname; got != "web-1" {
		t.Errorf("hostname after undoing the edits = %q, want web-1", got)
	}
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestPlanKnowsTheEngine: the snapshot describes the engine (API version,
// runtimes, storage), and an instance asking for a runtime the engine does
// not have is "cannot be applied" in the plan, naming what the engine has.
func TestPlanKnowsTheEngine(t *testing.T) {
	f := newApplyFixture(t, sleeperInstance(1, "a", spec.Overrides{ServiceSpec: spec.ServiceSpec{Options: spec.Options{Runtime: "no-such-runtime"}}}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	snap, err := f.obs.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e := snap.Engine; e.APIVersion == "" || !slices.Contains(e.Runtimes, "runc") || e.StorageDriver == "" {
		t.Fatalf("engine = %+v, want its API version, runtimes (runc) and storage driver", e)
	}
	p := f.plan()
	if len(p.Changes) != 1 || !strings.Contains(p.Changes[0].Reason, `cannot be applied: runtime "no-such-runtime" is not configured on the engine (it has `) {
		t.Fatalf("plan: %+v", p.Changes)
	}
}
