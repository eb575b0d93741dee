package security_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// rotatedStack is a stack whose password is secret and also embedded in a
// non-secret DSN and a command line.
func rotatedStack(password string) spec.Stack {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Image:   "postgres:16",
		Command: []string{"postgres", "--password=" + password},
		Env: []spec.EnvVar{
			{Key: "POSTGRES_PASSWORD", Value: password},
			{Key: "DATABASE_URL", Value: "postgres://app:" + password + "@db/app"},
		},
	}}
	return spec.Stack{ID: 9, Name: "rot", Enabled: true, Instances: []spec.Instance{
		{ID: 91, Name: "db", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)},
	}}
}

// TestRotatedSecretNeverShown rotates a password that is also embedded in
// a non-secret value: the plan compares the container's recorded spec
// (devarch.spec label, written when the old password was current) with the
// new one. Neither password may appear in the plan: the old one is no
// longer among the stack's secrets, so scrubbing by value cannot catch it.
func TestRotatedSecretNeverShown(t *testing.T) {
	const oldPassword, newPassword = "old-canary-4d1f9a", "new-canary-77b2c0"
	paths := project.Options{StateDir: "/state", WorkspaceDir: "/state/workspace"}
	before := rotatedStack(oldPassword)
	label := project.NewRecord(before, before.Instances[0], paths).Encode()
	c := spec.Container{ID: "c0ffee", Name: "/devarch-rot-db", StackID: 9, InstanceID: 91, ConfigHash: "stale",
		Image: "postgres:16", State: spec.StateRunning, Labels: map[string]string{spec.LabelSpec: label},
		Networks: map[string]string{"devarch-rot-net": "n"}, Created: time.Unix(0, 0)}
	p, err := plan.Compute(plan.Desired{Stack: rotatedStack(newPassword), Paths: paths}, plan.Observed{Containers: []spec.Container{c}}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := p.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteText(&out, plan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if p.Summary.Modify != 1 || !strings.Contains(out.String(), "env.DATABASE_URL") {
		t.Fatalf("the rotation is not planned as a change of DATABASE_URL:\n%s", out.String())
	}
	for _, pw := range []string{oldPassword, newPassword} {
		if strings.Contains(out.String(), pw) {
			t.Errorf("the plan shows a password (%s):\n%s", pw, out.String())
		}
	}
}
