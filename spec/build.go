package spec

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// BuildImagePrefix starts the tag of every image the controller builds
// for an instance that names no image of its own: see BuildTag.
const BuildImagePrefix = "devarch-build/"

// LabelBuildDigest is the label of an image the controller built: the
// digest of what it was built from (the record's build digest). Apply
// rebuilds when it differs from the desired one or the image is missing.
const LabelBuildDigest = LabelPrefix + "build.digest"

// Build is a service's compose build section, as the engine's classic
// builder applies it: the image is built from Context (an absolute
// directory on the controller's host) with the Dockerfile at Dockerfile
// (relative to the context, default "Dockerfile"). An override's build
// replaces the template's whole.
type Build struct {
	Context    string `json:"context"`
	Dockerfile string `json:"dockerfile,omitempty"`
	// Args are the build arguments. A value whose name looks like a
	// credential (IsSecretName) is handled like a secret env value.
	Args       map[string]string `json:"args,omitempty"`
	Target     string            `json:"target,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Network    string            `json:"network,omitempty"`
	NoCache    bool              `json:"no_cache,omitempty"`
	ShmSize    Bytes             `json:"shm_size,omitempty"`
	ExtraHosts []string          `json:"extra_hosts,omitempty"`
}

// DockerfilePath is the Dockerfile's path relative to the context, in
// slash form ("Dockerfile" when unset).
func (b Build) DockerfilePath() string {
	if b.Dockerfile == "" {
		return "Dockerfile"
	}
	return filepath.ToSlash(b.Dockerfile)
}

// Clone returns a deep copy of b (nil for nil).
func (b *Build) Clone() *Build {
	if b == nil {
		return nil
	}
	c := *b
	c.Args = maps.Clone(b.Args)
	c.Labels = maps.Clone(b.Labels)
	c.ExtraHosts = slices.Clone(b.ExtraHosts)
	return &c
}

// Canonical returns a copy of b with sorted, deduplicated extra hosts and
// nil empty maps.
func (b *Build) Canonical() *Build {
	c := b.Clone()
	if c == nil {
		return nil
	}
	if len(c.Args) == 0 {
		c.Args = nil
	}
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	c.ExtraHosts = slices.Compact(slices.Sorted(slices.Values(c.ExtraHosts)))
	if len(c.ExtraHosts) == 0 {
		c.ExtraHosts = nil
	}
	return c
}

// Validate checks what the controller relies on before it reads the
// context: an absolute, clean context directory and a Dockerfile inside it.
func (b Build) Validate() error {
	switch {
	case b.Context == "":
		return fmt.Errorf("build has no context; set build.context to the directory holding the Dockerfile")
	case !filepath.IsAbs(b.Context):
		return fmt.Errorf("build context %q is not an absolute path", b.Context)
	}
	df := b.DockerfilePath()
	if path.IsAbs(df) || strings.HasPrefix(path.Clean(df), "../") || path.Clean(df) == ".." {
		return fmt.Errorf("build dockerfile %q is outside the build context %q; move it into the context", b.Dockerfile, b.Context)
	}
	for k := range b.Labels {
		if strings.HasPrefix(k, LabelPrefix) {
			return fmt.Errorf("build label %q is reserved for the controller; choose another key", k)
		}
	}
	return nil
}

// Text renders the build's settings for messages and digests: context,
// Dockerfile and every option, one "key=value" per line in a fixed
// order. Secret argument values are replaced by RedactedValue when redact.
func (b Build) Text(redact bool) string {
	var sb strings.Builder
	line := func(k, v string) { sb.WriteString(k + "=" + strconv.Quote(v) + "\n") }
	line("context", b.Context)
	line("dockerfile", b.DockerfilePath())
	for _, k := range slices.Sorted(maps.Keys(b.Args)) {
		v := b.Args[k]
		if redact && IsSecretName(k) {
			v = RedactedValue
		}
		line("args."+k, v)
	}
	line("target", b.Target)
	for _, k := range slices.Sorted(maps.Keys(b.Labels)) {
		line("labels."+k, b.Labels[k])
	}
	line("network", b.Network)
	line("no_cache", strconv.FormatBool(b.NoCache))
	line("shm_size", strconv.FormatInt(int64(b.ShmSize), 10))
	for _, h := range slices.Sorted(slices.Values(b.ExtraHosts)) {
		line("extra_hosts", h)
	}
	return sb.String()
}

// BuildTag is the tag of the image the controller builds for an instance
// of a stack that names no image of its own:
// devarch-build/<stack>/<instance>:latest. Stack and instance names are
// lower-case DNS labels, so the tag is a valid reference and unique per
// stack and instance.
func BuildTag(stack, instance string) string {
	return BuildImagePrefix + stack + "/" + instance + ":latest"
}

// buildSecretValues returns the values of b's secret-named arguments
// that are long enough to scrub.
func buildSecretValues(b *Build) []string {
	if b == nil {
		return nil
	}
	var out []string
	for _, k := range slices.SortedFunc(maps.Keys(b.Args), cmp.Compare[string]) {
		if v := b.Args[k]; IsSecretName(k) && len(v) >= MinScrubLength {
			out = append(out, v)
		}
	}
	return out
}

// Redacted returns a copy of b whose secret-named argument values are
// RedactedValue (nil for nil).
func (b *Build) Redacted() *Build {
	c := b.Clone()
	if c == nil {
		return nil
	}
	for k := range c.Args {
		if IsSecretName(k) {
			c.Args[k] = RedactedValue
		}
	}
	return c
}
