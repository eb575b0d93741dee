package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// engineStack is a stack of the engines tests: one container of the test
// image, on the named engine ("" for the default).
func engineStack(name, engine, image string) spec.Stack {
	return spec.Stack{Name: name, Enabled: true, Engine: engine, Instances: []spec.Instance{{
		Name: "app", Enabled: true,
		Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: image, Restart: "unless-stopped"}},
	}}}
}

// startEngines runs Run with engines over a fresh database holding stacks
// (their ids are set on return), resyncing every 2 s. It does not wait for
// readiness: an engine may be down on purpose.
func startEngines(t *testing.T, engines []config.Engine, stacks []spec.Stack) (*running, string) {
	t.Helper()
	return startEnginesResync(t, engines, stacks, 2*time.Second)
}

// startEnginesResync is startEngines with the resync interval given.
func startEnginesResync(t *testing.T, engines []config.Engine, stacks []spec.Stack, resync time.Duration) (*running, string) {
	t.Helper()
	dbURL := testenv.DatabaseURL(t)
	ctx := t.Context()
	if err := state.Migrate(ctx, dbURL); err != nil {
		t.Fatal(err)
	}
	testenv.UniqueIDs(t, dbURL)
	store, err := state.Open(ctx, dbURL, "serve-engines-test")
	if err != nil {
		t.Fatal(err)
	}
	for i := range stacks {
		res, err := store.ImportStack(ctx, stacks[i])
		if err != nil {
			store.Close()
			t.Fatalf("import %s: %v", stacks[i].Name, err)
		}
		stacks[i].ID = res.StackID
	}
	store.Close()

	cfg := config.Defaults(nil)
	cfg.DatabaseURL, cfg.HTTPAddr, cfg.StateDir = dbURL, "127.0.0.1:0", t.TempDir()
	cfg.ShutdownTimeout, cfg.Workers, cfg.Engines = testShutdownTimeout, 2, engines
	cfg.ResyncInterval = resync
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r := &running{reg: prometheus.NewRegistry(), done: make(chan error, 1)}
	r.start(t, cfg, zap.ErrorLevel)
	return r, dbURL
}

// applyStack approves the stack's current plan through the API and waits
// until the stack is InSync.
func (r *running) applyStack(t *testing.T, name string) {
	t.Helper()
	code, body := r.get(t, "/api/v1/stacks/"+name+"/plan")
	if code != http.StatusOK {
		t.Fatalf("plan of %s: %d %s", name, code, body)
	}
	var p struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil || p.Token == "" {
		t.Fatalf("plan of %s has no token (%v): %s", name, err, body)
	}
	req, _ := json.Marshal(map[string]string{"token": p.Token})
	res, err := http.Post(r.base+"/api/v1/stacks/"+name+"/apply", "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("apply %s: %d", name, res.StatusCode)
	}
	deadline := time.Now().Add(time.Minute)
	want := fmt.Sprintf(`devarch_stack_condition{condition="InSync",stack=%q} 1`, name)
	for {
		_, m := r.get(t, "/metrics")
		if strings.Contains(m, want) {
			return
		}
		if time.Now().After(deadline) {
			_, p := r.get(t, "/api/v1/stacks/"+name+"/plan")
			_, a := r.get(t, "/api/v1/approvals")
			t.Fatalf("stack %s is not InSync a minute after its apply; plan: %s\napprovals: %s", name, p, a)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ownTestImage imports the test image into the shared engine under a tag
// of this test's (other tests retag TestImage there) and removes it at
// cleanup.
func ownTestImage(t *testing.T, cli *client.Client) string {
	t.Helper()
	ref := "devarch-test/" + testenv.UniqueName("engines") + ":latest"
	testenv.ImportTestImage(t, cli, ref)
	t.Cleanup(func() {
		if _, err := cli.ImageRemove(context.Background(), ref, client.ImageRemoveOptions{Force: true}); err != nil {
			t.Logf("remove %s: %v", ref, err)
		}
	})
	return ref
}

// stackContainers lists the containers of stack id on an engine.
func stackContainers(t *testing.T, cli *client.Client, id int64) []string {
	t.Helper()
	f := make(client.Filters).Add("label", fmt.Sprintf("%s=%d", spec.LabelStackID, id))
	list, err := cli.ContainerList(t.Context(), client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list.Items {
		names = append(names, strings.Join(c.Names, ","))
	}
	return names
}

// TestRunTwoEngines runs one controller over two engines, the shared
// dockerd ("local", the default) and a second dockerd started for the test
// ("edge"), with a stack on each: both apply on their own engine; with the
// second engine stopped only its stack is Error, its devarch_runtime_up is
// 0 and /readyz names it, while the first stack's drift is still
// detected; once it runs again its stack recovers, without a restart.
func TestRunTwoEngines(t *testing.T) {
	local := testenv.Docker(t)
	edge := testenv.StartDockerd(t)
	edgeCli := edge.Client(t)
	localHost := os.Getenv("DOCKER_HOST")
	if localHost == "" {
		localHost = config.DefaultDockerHost
	}
	a, b := testenv.UniqueName("eng-a-"), testenv.UniqueName("eng-b-")
	image := ownTestImage(t, local)
	stacks := []spec.Stack{engineStack(a, "", image), engineStack(b, "edge", testenv.TestImage)}
	r, dbURL := startEngines(t, []config.Engine{{Name: "local", Host: localHost, Default: true}, {Name: "edge", Host: edge.Host}}, stacks)
	t.Cleanup(func() {
		for _, s := range stacks {
			testenv.RemoveLabeled(t, local, fmt.Sprintf("%s=%d", spec.LabelStackID, s.ID))
		}
	})
	r.waitReady(t)
	r.waitMetric(t, `devarch_runtime_up{engine="local"} 1`)
	r.waitMetric(t, `devarch_runtime_up{engine="edge"} 1`)
	r.waitMetric(t, fmt.Sprintf(`devarch_stack_drifted{engine="edge",stack=%q} 1`, b))

	r.applyStack(t, a)
	r.applyStack(t, b)
	if got := stackContainers(t, local, stacks[0].ID); len(got) != 1 {
		t.Errorf("stack %s on the shared engine: containers %v; want 1", a, got)
	}
	if got := stackContainers(t, edgeCli, stacks[1].ID); len(got) != 1 {
		t.Errorf("stack %s on the second engine: containers %v; want 1", b, got)
	}
	if got := stackContainers(t, local, stacks[1].ID); len(got) != 0 {
		t.Errorf("stack %s (engine edge) has containers on the shared engine: %v", b, got)
	}

	// The second engine goes down: only its stack is Error.
	edge.Stop(t)
	r.waitMetric(t, `devarch_runtime_up{engine="edge"} 0`)
	r.waitMetric(t, fmt.Sprintf(`devarch_stack_condition{condition="Error",stack=%q} 1`, b))
	code, body := r.get(t, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "engine:edge") || strings.Contains(body, `"engine:local","status":"failed"`) {
		t.Errorf("/readyz with the edge engine down: %d %s; want 503 naming engine:edge", code, body)
	}
	code, body = r.get(t, "/api/v1/stacks/"+b)
	if code != http.StatusOK || !strings.Contains(body, `engine \"edge\"`) {
		t.Errorf("stack %s with its engine down: %d %s; want its message to name engine \"edge\"", b, code, body)
	}
	metrics := r.waitMetric(t, `devarch_runtime_up{engine="local"} 1`)
	if !strings.Contains(metrics, fmt.Sprintf(`devarch_stack_condition{condition="InSync",stack=%q} 1`, a)) {
		t.Errorf("stack %s on the engine that is up is not InSync:\n%s", a, metrics)
	}
	// Drift on the engine that is up is still detected.
	f := make(client.Filters).Add("label", fmt.Sprintf("%s=%d", spec.LabelStackID, stacks[0].ID))
	list, err := local.ContainerList(t.Context(), client.ContainerListOptions{Filters: f})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list stack %s's container: %v (%d)", a, err, len(list.Items))
	}
	if _, err := local.ContainerStop(t.Context(), list.Items[0].ID, client.ContainerStopOptions{}); err != nil {
		t.Fatal(err)
	}
	r.waitMetric(t, fmt.Sprintf(`devarch_stack_drifted{engine="local",stack=%q} 1`, a))

	// The second engine comes back: its stack recovers, no restart.
	edge.Start(t)
	r.waitMetric(t, `devarch_runtime_up{engine="edge"} 1`)
	r.waitMetric(t, fmt.Sprintf(`devarch_stack_condition{condition="Error",stack=%q} 0`, b))
	r.waitReady(t)

	// Moving stack b to the shared engine is a plan: + there, - on edge.
	moved := engineStack(b, "local", image)
	store, err := state.Open(t.Context(), dbURL, "serve-engines-test")
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.ImportStack(t.Context(), moved)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	r.waitMetric(t, fmt.Sprintf(`devarch_stack_drifted{engine="local",stack=%q} 1`, b))
	code, body = r.get(t, "/api/v1/stacks/"+b+"/plan")
	var p struct {
		Engine  string `json:"engine"`
		Changes []struct{ Action, Engine string }
	}
	if err := json.Unmarshal([]byte(body), &p); code != http.StatusOK || err != nil {
		t.Fatalf("plan of the moved stack: %d %v %s", code, err, body)
	}
	var adds, removesOnEdge int
	for _, c := range p.Changes {
		switch {
		case c.Action == "add" && c.Engine == "":
			adds++
		case c.Action == "remove" && c.Engine == "edge":
			removesOnEdge++
		}
	}
	if p.Engine != "local" || adds != 1 || removesOnEdge != 1 {
		t.Errorf("plan of the moved stack: engine %q, %d adds, %d removals on edge; want local, 1, 1: %s", p.Engine, adds, removesOnEdge, body)
	}
	r.applyStack(t, b)
	if got := stackContainers(t, local, stacks[1].ID); len(got) != 1 {
		t.Errorf("moved stack %s on the shared engine: containers %v; want 1", b, got)
	}
	if got := stackContainers(t, edgeCli, stacks[1].ID); len(got) != 0 {
		t.Errorf("moved stack %s still has containers on edge: %v", b, got)
	}
}

// TestRunEngineDownAtStart starts the controller with one of its engines
// unreachable: it serves, that engine's stack is Error with the engine
// named, and the other engine's stack is planned as usual.
func TestRunEngineDownAtStart(t *testing.T) {
	testenv.Docker(t)
	localHost := os.Getenv("DOCKER_HOST")
	if localHost == "" {
		localHost = config.DefaultDockerHost
	}
	gone := "unix://" + filepath.Join(t.TempDir(), "nobody.sock")
	a, b := testenv.UniqueName("eng-a-"), testenv.UniqueName("eng-b-")
	r, _ := startEngines(t, []config.Engine{{Name: "local", Host: localHost}, {Name: "gone", Host: gone}},
		[]spec.Stack{engineStack(a, "", testenv.TestImage), engineStack(b, "gone", testenv.TestImage)})
	r.waitMetric(t, `devarch_runtime_up{engine="gone"} 0`)
	r.waitMetric(t, `devarch_runtime_up{engine="local"} 1`)
	r.waitMetric(t, fmt.Sprintf(`devarch_stack_condition{condition="Error",stack=%q} 1`, b))
	r.waitMetric(t, fmt.Sprintf(`devarch_stack_condition{condition="Drifted",stack=%q} 1`, a))
	code, body := r.get(t, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "engine:gone") {
		t.Errorf("/readyz: %d %s; want 503 naming engine:gone", code, body)
	}
}

// TestRunDockerAndPodman runs one controller over the shared Docker and
// the test Podman side by side (DEVARCH_TEST_ENGINES lists both; with
// Docker alone there is nothing to run): a stack on each applies on its
// own engine and is InSync, both engines are up; with the resync an hour
// away, a container stopped on either engine makes its stack drifted from
// that engine's events.
func TestRunDockerAndPodman(t *testing.T) {
	var podman testenv.Engine
	for _, e := range testenv.Engines(t) {
		if e.Podman() {
			podman = e
		}
	}
	if podman.Host == "" {
		testenv.Skipf(t, "%s lists no Podman: nothing to run side by side (scripts/test.sh starts one)", testenv.EnvEngines)
	}
	local := testenv.Docker(t)
	pcli := podman.Client(t)
	localHost := os.Getenv("DOCKER_HOST")
	if localHost == "" {
		localHost = config.DefaultDockerHost
	}
	a, b := testenv.UniqueName("eng-d-"), testenv.UniqueName("eng-p-")
	stacks := []spec.Stack{engineStack(a, "docker", ownTestImage(t, local)), engineStack(b, "podman", ownTestImage(t, pcli))}
	r, _ := startEnginesResync(t, []config.Engine{{Name: "docker", Host: localHost}, {Name: "podman", Host: podman.Host}}, stacks, time.Hour)
	t.Cleanup(func() {
		testenv.RemoveLabeled(t, local, fmt.Sprintf("%s=%d", spec.LabelStackID, stacks[0].ID))
		testenv.RemoveLabeled(t, pcli, fmt.Sprintf("%s=%d", spec.LabelStackID, stacks[1].ID))
	})
	r.waitReady(t)
	r.applyStack(t, a)
	r.applyStack(t, b)
	if got := stackContainers(t, pcli, stacks[1].ID); len(got) != 1 {
		t.Errorf("stack %s on Podman: containers %v; want 1", b, got)
	}
	if got := stackContainers(t, local, stacks[1].ID); len(got) != 0 {
		t.Errorf("stack %s (engine podman) has containers on Docker: %v", b, got)
	}
	r.waitMetric(t, `devarch_runtime_up{engine="podman"} 1`)
	r.waitMetric(t, `devarch_runtime_up{engine="docker"} 1`)
	r.waitMetric(t, fmt.Sprintf(`devarch_stack_drifted{engine="podman",stack=%q} 0`, b))
	r.waitMetric(t, fmt.Sprintf(`devarch_stack_drifted{engine="docker",stack=%q} 0`, a))

	for _, tc := range []struct {
		engine, stack string
		cli           *client.Client
		id            int64
	}{{"podman", b, pcli, stacks[1].ID}, {"docker", a, local, stacks[0].ID}} {
		f := make(client.Filters).Add("label", fmt.Sprintf("%s=%d", spec.LabelStackID, tc.id))
		list, err := tc.cli.ContainerList(t.Context(), client.ContainerListOptions{Filters: f})
		if err != nil || len(list.Items) != 1 {
			t.Fatalf("list stack %s's container on %s: %v (%d)", tc.stack, tc.engine, err, len(list.Items))
		}
		timeout := 1
		if _, err := tc.cli.ContainerStop(t.Context(), list.Items[0].ID, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		r.waitMetric(t, fmt.Sprintf(`devarch_stack_drifted{engine=%q,stack=%q} 1`, tc.engine, tc.stack))
		t.Logf("%s: drifted %v after the stop returned (resync an hour away: from the engine's events)", tc.engine, time.Since(stopped).Round(time.Millisecond))
	}
}
