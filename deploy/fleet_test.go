package deploy_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// TestFleetSnapshotEngineDown: a Fleet's snapshot keeps the error of an
// engine that does not answer for its stacks only, and a stack naming an
// engine the Fleet does not have gets ErrUnknownEngine naming the engines.
func TestFleetSnapshotEngineDown(t *testing.T) {
	testenv.Docker(t)
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	gone := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	if _, err := deploy.NewFleet([]deploy.EngineSpec{{Name: "local", Host: host}}, "edge", nil); err == nil {
		t.Error("NewFleet with a default engine it does not have: no error")
	}
	f, err := deploy.NewFleet([]deploy.EngineSpec{{Name: "local", Host: host}, {Name: "gone", Host: gone}}, "local", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	snap, err := f.Snapshot(t.Context())
	if err != nil {
		t.Fatalf("Snapshot with one engine down: %v; want the error kept for its stacks", err)
	}
	if err := snap.EngineErr(spec.Stack{Name: "a"}); err != nil {
		t.Errorf("stack on the default engine: %v; want none", err)
	}
	if err := snap.EngineErr(spec.Stack{Name: "b", Engine: "gone"}); err == nil || !strings.Contains(err.Error(), `engine "gone"`) {
		t.Errorf("stack on the engine that is down: %v; want an error naming it", err)
	}
	err = snap.EngineErr(spec.Stack{Name: "c", Engine: "mars"})
	if !errors.Is(err, deploy.ErrUnknownEngine) || !strings.Contains(err.Error(), "local, gone") {
		t.Errorf("stack on an unknown engine: %v; want ErrUnknownEngine naming the engines", err)
	}
	if err := f.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), "gone") || strings.Contains(err.Error(), `"local"`) {
		t.Errorf("Ping: %v; want an error naming only gone", err)
	}
}
