package contrib

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/moby/moby/client"
)

var imageDir = "image"

// dockerfileInstructions returns the Dockerfile's instructions as
// "KEYWORD args" lines, continuation lines joined.
func dockerfileInstructions(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(imageDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(strings.TrimSpace(cont) + " ")
			continue
		}
		cur.WriteString(line)
		out = append(out, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := dockerfileInstructions(t)
	if len(ins) == 0 || ins[0] != "FROM scratch" {
		t.Fatalf("first instruction = %q, want FROM scratch (no registry is reachable)", ins)
	}
	for _, want := range []string{
		"COPY devarch-controller /devarch-controller",
		"USER 65532:65532",
		"EXPOSE 8080",
		`ENTRYPOINT ["/devarch-controller", "serve"]`,
	} {
		if !slices.Contains(ins, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	for _, in := range ins {
		if kw, _, _ := strings.Cut(in, " "); kw == "RUN" || (kw == "FROM" && in != "FROM scratch") {
			t.Errorf("%q needs a base image; the image must build FROM scratch alone", in)
		}
	}
}

// TestImageBuild runs build.sh against the test engine, checks the image's
// configuration, runs the binary in it as the image's user, and checks that
// build.sh left no binary behind.
func TestImageBuild(t *testing.T) {
	docker := testenv.Docker(t)
	if testing.Short() {
		// skip-ok: -short is the caller's choice; scripts/test.sh never passes it.
		t.Skip("builds the controller and an image; skipped with -short")
	}
	tag := "devarch-controller:" + testenv.UniqueName("test-")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := docker.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true}); err != nil {
			t.Logf("remove image %s: %v", tag, err)
		}
	})

	build := exec.CommandContext(ctx, "bash", filepath.Join(imageDir, "build.sh"), tag)
	build.Env = append(os.Environ(), "VERSION=v0.0.0-test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(imageDir, "devarch-controller")); !os.IsNotExist(err) {
		t.Errorf("build.sh left contrib/image/devarch-controller behind (stat: %v)", err)
	}

	img, err := docker.ImageInspect(ctx, tag)
	if err != nil {
		t.Fatalf("inspect %s: %v", tag, err)
	}
	cfg := img.Config
	if cfg == nil {
		t.Fatalf("image %s has no config", tag)
	}
	if cfg.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/devarch-controller", "serve"}) {
		t.Errorf("entrypoint = %q", cfg.Entrypoint)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports = %v, want 8080/tcp", cfg.ExposedPorts)
	}
	if got := cfg.Labels["org.opencontainers.image.version"]; got != "v0.0.0-test" {
		t.Errorf("version label = %q, want v0.0.0-test", got)
	}

	// The static binary runs in the empty image as the unprivileged user,
	// without network.
	cli := os.Getenv("DOCKER") // as build.sh
	if cli == "" {
		cli = "docker"
	}
	run := exec.CommandContext(ctx, cli, "run", "--rm", "--network", "none",
		"--entrypoint", "/devarch-controller", tag, "version")
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("docker run %s version: %v\n%s", tag, err, out)
	}
	if !strings.Contains(string(out), "v0.0.0-test") {
		t.Errorf("version output lacks v0.0.0-test:\n%s", out)
	}
}
