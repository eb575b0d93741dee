package testenv

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	cerrdefs "github.com/containerd/errdefs"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

func TestFreeAddrCanBeListenedOn(t *testing.T) {
	addr := FreeAddr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("FreeAddr = %q, want 127.0.0.1 and a chosen port", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the free address: %v", err)
	}
	_ = ln.Close()
}

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Fatalf("%d bytes written, want 800", n)
	}
}

func TestRemoveLabeled(t *testing.T) {
	docker := Docker(t)
	ctx := t.Context()
	name := UniqueName("rmlabeled")
	labels := map[string]string{"devarch.test": name}
	other := UniqueName("rmlabeled-other")
	if _, err := docker.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge", Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if _, err := docker.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: labels}); err != nil {
		t.Fatal(err)
	}
	if _, err := docker.VolumeCreate(ctx, client.VolumeCreateOptions{Name: other}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = docker.VolumeRemove(context.Background(), other, client.VolumeRemoveOptions{Force: true})
	})
	if _, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name,
		Config: &container.Config{Image: TestImage, Labels: labels}}); err != nil {
		t.Fatal(err)
	}

	RemoveLabeled(t, docker, "devarch.test="+name)

	if _, err := docker.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("container after RemoveLabeled: %v, want not found", err)
	}
	if _, err := docker.NetworkInspect(ctx, name, client.NetworkInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("network after RemoveLabeled: %v, want not found", err)
	}
	if _, err := docker.VolumeInspect(ctx, name, client.VolumeInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("volume after RemoveLabeled: %v, want not found", err)
	}
	if _, err := docker.VolumeInspect(ctx, other, client.VolumeInspectOptions{}); err != nil {
		t.Errorf("a volume without the label was touched: %v", err)
	}
}
