package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

const (
	// EnvEngines lists the engines the integration tests that matter run
	// against, comma-separated: "docker" (DOCKER_HOST or the default
	// socket) and "podman=unix:///…/podman.sock" (Podman's
	// Docker-compatible API; scripts/podman.sh starts it). Unset, it is
	// "docker" alone.
	EnvEngines = "DEVARCH_TEST_ENGINES"
	// EnvPodmanCLI names the podman command that works on the test
	// Podman's storage (scripts/podman.sh writes one next to its socket),
	// for tests that act as a user of the podman CLI would.
	EnvPodmanCLI = "DEVARCH_TEST_PODMAN_CLI"
)

// Engine kinds.
const (
	EngineDocker = "docker"
	EnginePodman = "podman"
)

// Engine is one container engine of EnvEngines.
type Engine struct {
	// Name is the engine's kind: EngineDocker or EnginePodman.
	Name string
	// Host is the engine's address in DOCKER_HOST form; "" for Docker
	// means DOCKER_HOST or the default socket.
	Host string
}

// Podman reports whether the engine is Podman.
func (e Engine) Podman() bool { return e.Name == EnginePodman }

// Engines returns the engines of EnvEngines, in their order. Docker is
// one only when DEVARCH_TEST_DOCKER=1 (see Docker); an engine the test
// needs but that is not configured fails or skips the test as Docker
// does.
func Engines(t testing.TB) []Engine {
	t.Helper()
	list, err := ParseEngines(os.Getenv(EnvEngines))
	if err != nil {
		t.Fatalf("%s: %v", EnvEngines, err)
	}
	return list
}

// ParseEngines parses an EnvEngines value ("" is "docker").
func ParseEngines(v string) ([]Engine, error) {
	if strings.TrimSpace(v) == "" {
		return []Engine{{Name: EngineDocker}}, nil
	}
	var out []Engine
	seen := map[string]bool{}
	for _, item := range strings.Split(v, ",") {
		name, host, _ := strings.Cut(strings.TrimSpace(item), "=")
		switch name {
		case EngineDocker:
		case EnginePodman:
			if host == "" {
				return nil, fmt.Errorf("engine podman needs its socket (podman=unix:///path/podman.sock; scripts/podman.sh host prints it)")
			}
		default:
			return nil, fmt.Errorf("unknown engine %q in %q: use docker and podman=unix:///path/podman.sock", name, v)
		}
		if seen[name] {
			return nil, fmt.Errorf("engine %q is listed twice in %q", name, v)
		}
		seen[name] = true
		out = append(out, Engine{Name: name, Host: host})
	}
	return out, nil
}

// EachEngine runs f as a subtest named after each engine of EnvEngines.
// The subtests run one after the other; f may call t.Parallel.
func EachEngine(t *testing.T, f func(t *testing.T, e Engine)) {
	t.Helper()
	for _, e := range Engines(t) {
		t.Run(e.Name, func(t *testing.T) { f(t, e) })
	}
}

// Client returns a client for the engine, API version negotiated, closed
// when the test ends. For Docker it is Docker(t).
func (e Engine) Client(t testing.TB) *client.Client {
	t.Helper()
	if e.Host == "" {
		return Docker(t)
	}
	if os.Getenv(EnvDocker) != "1" {
		missing(t, "the container engines ("+EnvDocker+")")
	}
	c, err := client.New(client.FromEnv, client.WithHost(e.Host))
	if err != nil {
		t.Fatalf("%s client: %v", e.Name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatalf("ping %s engine at %s: %v (scripts/podman.sh ensure starts the test Podman)", e.Name, e.Host, err)
	}
	return c
}

// CLI returns the command line of the engine's own CLI running args:
// docker with DOCKER_HOST set to the engine, or the podman command of
// EnvPodmanCLI (which works on the test Podman's storage directly, as a
// user's podman does, not through the service).
func (e Engine) CLI(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	if !e.Podman() {
		cmd := exec.Command("docker", args...)
		if e.Host != "" {
			cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host)
		}
		return cmd
	}
	cli := os.Getenv(EnvPodmanCLI)
	if cli == "" {
		missing(t, "the podman CLI ("+EnvPodmanCLI+")")
	}
	return exec.Command(cli, args...)
}
