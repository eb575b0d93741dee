package stackfile

import (
	"fmt"

	"github.com/mattn/go-shellwords"
	"go.yaml.in/yaml/v3"
)

// The yaml structs below mirror the export format exactly; decoding with
// KnownFields rejects anything else. Pointers mark fields whose absence
// matters.

type document struct {
	Version   int                     `yaml:"version"`
	Stack     stackDoc                `yaml:"stack"`
	Instances map[string]*instanceDoc `yaml:"instances"`
	Wires     []wireDoc               `yaml:"wires"`
	// Variables give the compose variables the instances' templates
	// reference (${NAME}); values may hold ${SECRET:NAME} references.
	Variables map[string]*envValue `yaml:"variables"`
	// Secrets, Configs and Volumes are compose's top-level declarations.
	Secrets map[string]any `yaml:"secrets"`
	Configs map[string]any `yaml:"configs"`
	Volumes map[string]any `yaml:"volumes"`
	// Networks are the stack's network definitions, as a compose file's
	// top-level networks.
	Networks yaml.Node `yaml:"networks"`
}

type stackDoc struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	NetworkName string `yaml:"network_name"`
	// Engine names the configured engine the stack runs on; absent means
	// the controller's default engine.
	Engine string `yaml:"engine"`
	// Enabled is false for a disabled stack (as stack export writes
	// one); absent means enabled.
	Enabled *bool `yaml:"enabled"`
}

type instanceDoc struct {
	Template     *string                  `yaml:"template"`
	Enabled      *bool                    `yaml:"enabled"`
	Image        string                   `yaml:"image"`
	Command      command                  `yaml:"command"`
	Entrypoint   command                  `yaml:"entrypoint"`
	Environment  map[string]*envValue     `yaml:"environment"`
	Ports        []portDoc                `yaml:"ports"`
	Volumes      []volumeDoc              `yaml:"volumes"`
	Healthcheck  *healthcheckDoc          `yaml:"healthcheck"`
	Dependencies []string                 `yaml:"dependencies"`
	Labels       map[string]string        `yaml:"labels"`
	EnvFiles     envFilesDoc              `yaml:"env_files"`
	EnvFile      envFilesDoc              `yaml:"env_file"`
	Secrets      []any                    `yaml:"secrets"`
	Configs      []any                    `yaml:"configs"`
	Networks     yaml.Node                `yaml:"networks"`
	ConfigFiles  map[string]configFileDoc `yaml:"config_files"`
	ConfigMounts []configMountDoc         `yaml:"config_mounts"`
	Domains      []domainDoc              `yaml:"domains"`
	// Build is a compose build section (see catalog.BuildSection).
	Build yaml.Node `yaml:"build"`
	// Options are the instance's other compose service keys (hostname,
	// read_only, ulimits...), written as in a compose file.
	Options map[string]yaml.Node `yaml:",inline"`
}

type portDoc struct {
	HostIP        string `yaml:"host_ip"`
	HostPort      int    `yaml:"host_port"`
	ContainerPort int    `yaml:"container_port"`
	Protocol      string `yaml:"protocol"`
}

type volumeDoc struct {
	Source   string `yaml:"source"`
	Target   string `yaml:"target"`
	ReadOnly bool   `yaml:"read_only"`
}

type healthcheckDoc struct {
	Test        command `yaml:"test"`
	Interval    string  `yaml:"interval"`
	Timeout     string  `yaml:"timeout"`
	StartPeriod string  `yaml:"start_period"`
	Retries     int     `yaml:"retries"`
}

type configFileDoc struct {
	Content  string `yaml:"content"`
	FileMode string `yaml:"file_mode"`
}

type configMountDoc struct {
	SourcePath     string `yaml:"source_path"`
	TargetPath     string `yaml:"target_path"`
	ConfigFilePath string `yaml:"config_file_path"`
}

type domainDoc struct {
	Domain    string `yaml:"domain"`
	ProxyPort int    `yaml:"proxy_port"`
}

type wireDoc struct {
	ConsumerInstance string `yaml:"consumer_instance"`
	ProviderInstance string `yaml:"provider_instance"`
	ImportContract   string `yaml:"import_contract"`
	ExportContract   string `yaml:"export_contract"`
	Source           string `yaml:"source"`
}

// command is a string (split into words the way compose splits a string
// command) or a list of strings. For a healthcheck test, the string form is
// kept whole: see healthcheckTest.
type command struct {
	set    bool
	text   string // the string form, as written
	isText bool
	argv   []string
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (c *command) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return nil
	case n.Kind == yaml.ScalarNode:
		argv, err := shellwords.Parse(n.Value)
		if err != nil {
			return typeError(n, "cannot split the command into words (%v); check its quotes", err)
		}
		*c = command{set: true, text: n.Value, isText: true, argv: argv}
		return nil
	case n.Kind == yaml.SequenceNode:
		argv := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				return typeError(item, "expected a string in the list")
			}
			argv = append(argv, item.Value)
		}
		*c = command{set: true, argv: argv}
		return nil
	default:
		return typeError(n, "expected a string or a list of strings")
	}
}

// envValue is an environment value: any scalar, kept as written. A missing
// value (null, decoded as a nil *envValue) is an error rather than compose's
// "copy from the shell".
type envValue string

// UnmarshalYAML implements yaml.Unmarshaler.
func (v *envValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n, "an environment value must be a string, number or boolean")
	}
	*v = envValue(n.Value)
	return nil
}

// typeError reports a problem at a node's line in the form yaml.v3 merges
// with its own errors, so decoding goes on and every problem is reported.
func typeError(n *yaml.Node, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, fmt.Sprintf(format, args...))}}
}
