package deploy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/moby/moby/client/pkg/versions"
	"go.uber.org/zap/zaptest"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// imageDefault is the env entry testImage adds to the test image's defaults.
const imageDefault = "DEVARCH_IMAGE_DEFAULT=from-image"

// newTestRuntime connects to the test engine (skipping the test without
// one) and closes the Runtime when the test ends.
func newTestRuntime(t *testing.T) *Runtime {
	t.Helper()
	testenv.Docker(t)
	rt, err := NewRuntime("", zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("NewRuntime: %v", err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rt.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	return rt
}

// randomStackID returns a stack id no other test uses, above the range the
// apply tests draw from.
func randomStackID() int64 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return 2_000_000_000 + int64(binary.BigEndian.Uint32(b[:])>>2)
}

// testImage commits a child of testenv.TestImage whose defaults include
// imageDefault, so tests know an image default env entry. It returns the
// new image's reference and ID; the image is removed when the test ends.
func testImage(t *testing.T, rt *Runtime) (ref, id string) {
	t.Helper()
	ctx := context.Background()
	cli := rt.Client()
	base, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: &container.Config{Image: testenv.TestImage}})
	if err != nil {
		t.Fatalf("create container from %s (build it with scripts/images.sh): %v", testenv.TestImage, err)
	}
	defer func() { _, _ = cli.ContainerRemove(ctx, base.ID, client.ContainerRemoveOptions{Force: true}) }()
	ref = testenv.UniqueName("devarch-test/observe-") + ":latest"
	res, err := cli.ContainerCommit(ctx, base.ID, client.ContainerCommitOptions{Reference: ref, Changes: []string{"ENV " + imageDefault}})
	if err != nil {
		t.Fatalf("commit test image: %v", err)
	}
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), res.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
	return ref, res.ID
}

// createContainer creates a container (starting it when start is set) and
// force-removes it, with its anonymous volumes, when the test ends.
func createContainer(t *testing.T, rt *Runtime, opts client.ContainerCreateOptions, start bool) string {
	t.Helper()
	ctx := context.Background()
	cli := rt.Client()
	res, err := cli.ContainerCreate(ctx, opts)
	if err != nil {
		t.Fatalf("create container %s: %v", opts.Name, err)
	}
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	})
	if start {
		if _, err := cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatalf("start container %s: %v", opts.Name, err)
		}
	}
	return res.ID
}

// managedLabels are the identity labels of a test container.
func managedLabels(stackID, instanceID int64, stack, instance string) map[string]string {
	return spec.IdentityLabels(spec.Stack{ID: stackID, Name: stack}, spec.Instance{ID: instanceID, Name: instance})
}

func stopContainer(t *testing.T, rt *Runtime, id string) {
	t.Helper()
	timeout := 10
	if _, err := rt.Client().ContainerStop(context.Background(), id, client.ContainerStopOptions{Timeout: &timeout}); err != nil {
		t.Fatalf("stop container: %v", err)
	}
}

func TestRuntimeNegotiatesAPIVersion(t *testing.T) {
	rt := newTestRuntime(t)
	ping, err := rt.Client().Ping(context.Background(), client.PingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := ping.APIVersion
	if versions.LessThan(client.MaxAPIVersion, want) {
		want = client.MaxAPIVersion
	}
	if got := rt.Client().ClientVersion(); got != want {
		t.Errorf("client API version = %q, want the engine's %q", got, want)
	}
	if _, err := NewRuntime("tcp://[bad", nil); err == nil {
		t.Error("NewRuntime accepted a malformed host")
	}
}

func TestCallsSub(t *testing.T) {
	a := Calls{ContainerLists: 3, ContainerInspects: 10, ImageInspects: 2}
	b := Calls{ContainerLists: 4, ContainerInspects: 11, ImageInspects: 2}
	if got, want := b.Sub(a), (Calls{ContainerLists: 1, ContainerInspects: 1}); got != want {
		t.Errorf("Sub = %+v, want %+v", got, want)
	}
	if got := b.Total(); got != 17 {
		t.Errorf("Total = %d, want 17", got)
	}
}
