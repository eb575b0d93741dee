package security_test

import (
	"archive/tar"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// assertFilesInContainer checks that the env file's secret variable and
// the compose secret's file did reach the container, so that a scan
// finding neither proves something.
func assertFilesInContainer(t *testing.T, docker *client.Client, name, envFileSecret, fileSecret string) {
	t.Helper()
	res, err := docker.ContainerInspect(t.Context(), name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	if !slices.Contains(res.Container.Config.Env, "ENV_FILE_TOKEN="+envFileSecret) {
		t.Errorf("container %s lacks the env file's variable", name)
	}
	cp, err := docker.CopyFromContainer(t.Context(), name, client.CopyFromContainerOptions{SourcePath: "/run/secrets/file_secret"})
	if err != nil {
		t.Fatalf("copy the secret from %s: %v", name, err)
	}
	defer cp.Content.Close()
	tr := tar.NewReader(cp.Content)
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(b)) != fileSecret {
		t.Errorf("container %s's secret file holds %d bytes, not the secret", name, len(b))
	}
}
