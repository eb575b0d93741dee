package project

import (
	"fmt"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/spec"
)

// BuildContext is what the controller read of an instance's build context
// when it planned: the digest of the context as the engine receives it
// (see deploy.BuildContexts), or why it could not be read.
type BuildContext struct {
	// Digest is the unkeyed digest of the context's files (paths, modes,
	// contents, after .dockerignore) and its Dockerfile.
	Digest string `json:"digest,omitempty"`
	// Err says why the context could not be read; "" when Digest is set.
	Err string `json:"err,omitempty"`
}

// purposeBuild separates build digests from the installation key's other
// digests.
const purposeBuild = "devarch.build digest"

// Image is the image an instance's container runs: its effective image,
// or, when it names none and has a build section, the tag the controller
// builds it under (spec.BuildTag). When the instance has both, compose's
// rule applies: the build is tagged as the image.
func Image(s spec.Stack, inst spec.Instance) string {
	e := inst.Effective
	if e.Image.Value == "" && e.Build.Value != nil {
		return spec.BuildTag(s.Name, inst.Name)
	}
	return e.Image.Value
}

// BuildDigest is the digest of what an instance's image is built from:
// the context's digest and every build setting (arguments included),
// keyed with the installation key k, since arguments may hold secrets.
// It is recorded in the devarch.spec label (Record.Build) and on the image
// (spec.LabelBuildDigest).
func BuildDigest(k keyring.Key, b spec.Build, contextDigest string) string {
	return k.Digest(purposeBuild, []byte(contextDigest), []byte(b.Text(false)))
}

// InstanceBuildDigest returns the build digest of an instance of a stack
// with the contexts read at plan time (o.Builds), "" when the instance
// builds nothing. The error says why the image cannot be built: a context
// that could not be read, or one that was not read at all.
func InstanceBuildDigest(inst spec.Instance, o Options) (string, error) {
	b := inst.Effective.Build.Value
	if b == nil {
		return "", nil
	}
	if err := b.Validate(); err != nil {
		return "", err
	}
	bc, ok := o.Builds[inst.ID]
	switch {
	case !ok:
		return "", fmt.Errorf("the build context %q of instance %q was not read; plan the stack again", b.Context, inst.Name)
	case bc.Err != "":
		return "", fmt.Errorf("%s", bc.Err)
	}
	return BuildDigest(o.Keys.Current, *b, bc.Digest), nil
}
