package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// Stack files (devarch export format v1, docs/stack-format.md) for the
// real-backend scenarios, written as Go values and imported with the CLI.

type stackFile struct {
	Version   int                     `yaml:"version"`
	Stack     stackHeader             `yaml:"stack"`
	Instances map[string]instanceFile `yaml:"instances"`
}

type stackHeader struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
}

type instanceFile struct {
	Template     string            `yaml:"template"`
	Image        string            `yaml:"image,omitempty"`
	Environment  map[string]string `yaml:"environment,omitempty"`
	Ports        []portFile        `yaml:"ports,omitempty"`
	Dependencies []string          `yaml:"dependencies,omitempty"`
	Healthcheck  *healthcheckFile  `yaml:"healthcheck,omitempty"`
}

type portFile struct {
	HostIP        string `yaml:"host_ip"`
	HostPort      int    `yaml:"host_port"`
	ContainerPort int    `yaml:"container_port"`
}

type healthcheckFile struct {
	Test     string `yaml:"test"`
	Interval string `yaml:"interval"`
	Timeout  string `yaml:"timeout"`
	Retries  int    `yaml:"retries"`
}

// enginePort replaces a template's fixed host port: the engine picks a free
// one, so stacks of parallel test runs never collide.
var enginePort = []portFile{{HostIP: "127.0.0.1", HostPort: 0, ContainerPort: 8080}}

// Demo instances (examples/templates/demo) with engine-picked ports.
func demoWeb(message string) instanceFile {
	return instanceFile{Template: "demo-web", Ports: enginePort, Environment: map[string]string{"SLEEPER_MESSAGE": message}}
}

func demoAPI() instanceFile {
	return instanceFile{Template: "demo-api", Ports: enginePort, Environment: map[string]string{"API_TOKEN": "${SECRET:E2E_API_TOKEN}"}}
}

func demoCache() instanceFile { return instanceFile{Template: "demo-cache"} }

// newStackFile returns a stack of the given instances.
func newStackFile(name string, instances map[string]instanceFile) stackFile {
	return stackFile{Version: 1, Stack: stackHeader{Name: name, Description: "devarch-controller e2e test stack"}, Instances: instances}
}

// importStack writes f to a file and imports it with `stack import`
// (creating the stack, or making the stored one match the file).
func (b *realBackend) importStack(t *testing.T, f stackFile) string {
	t.Helper()
	data, err := yaml.Marshal(f)
	if err != nil {
		t.Fatalf("encode stack file: %v", err)
	}
	path := filepath.Join(t.TempDir(), f.Stack.Name+".yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatalf("write stack file: %v", err)
	}
	return b.cli(t, "stack", "import", path)
}

// deploy applies a stack's plan through the CLI (`apply --auto-approve`,
// which files an approval the running serve applies) and returns once it
// succeeded.
func (b *realBackend) deploy(t *testing.T, name string) {
	t.Helper()
	start := time.Now()
	out := b.cli(t, "apply", name, "--auto-approve")
	if !strings.Contains(out, "succeeded") {
		t.Fatalf("apply %s through the CLI did not succeed:\n%s", name, out)
	}
	t.Logf("deployed %s through the CLI in %s", name, time.Since(start).Round(time.Millisecond))
}
