package plan_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// fuzzSecret is the secret of the fuzzed stack: no plan may show it.
const fuzzSecret = "fz-secret-9f31c2"

// fuzzStack has a secret env var, the same secret inside a non-secret one
// (a DSN) and in a command, and a config file holding it.
func fuzzStack() spec.Stack {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Image:   "postgres:16",
		Command: []string{"postgres", "--password=" + fuzzSecret},
		Env: []spec.EnvVar{
			{Key: "POSTGRES_PASSWORD", Value: fuzzSecret},
			{Key: "DATABASE_URL", Value: "postgres://app:" + fuzzSecret + "@db/app"},
		},
		ConfigFiles: []spec.ConfigFile{{Path: "init.sql", Target: "/init.sql", Content: "ALTER USER app PASSWORD '" + fuzzSecret + "';"}},
	}}
	return spec.Stack{ID: 5, Name: "fz", Enabled: true, Instances: []spec.Instance{
		{ID: 51, Name: "db", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)},
	}}
}

// FuzzComputeObserved plans the stack against a container whose labels,
// state and networks are fuzzed: whoever can reach the engine controls
// them, the devarch.spec label above all (it is decoded and diffed field by
// field). Compute never panics, and neither the JSON nor the text of the
// plan shows the stack's secret, whatever the container claims.
func FuzzComputeObserved(f *testing.F) {
	st := fuzzStack()
	paths := project.Options{StateDir: "/state", WorkspaceDir: "/state/workspace"}
	good := project.NewRecord(st, st.Instances[0], paths).Encode()
	f.Add(good, "running", "", "devarch-fz-net", "hash")
	f.Add(strings.Replace(good, `"dev"`, `"prod"`, 1), "exited", "unhealthy", "bridge", "")
	f.Add(`{"v":1,"env":{"DATABASE_URL":"postgres://app:old@db/app","POSTGRES_PASSWORD":"x"},"command":["a b"]}`, "running", "unhealthy", "", "x")
	f.Add("", "created", "", "", "")
	f.Add("{", "dead", "starting", "n", "h")
	f.Fuzz(func(t *testing.T, record, state, health, network, configHash string) {
		c := spec.Container{
			ID: "c0ffee0000000000000000000000000000000000000000000000000000000001", Name: "/devarch-fz-db",
			StackID: st.ID, InstanceID: st.Instances[0].ID, ConfigHash: configHash, Image: "postgres:16",
			Labels:   map[string]string{spec.LabelSpec: record, spec.LabelManagedBy: spec.ManagedByValue},
			Networks: map[string]string{network: "n1"}, State: state, Health: health, Created: time.Unix(0, 0),
		}
		p, err := plan.Compute(plan.Desired{Stack: st, Paths: paths}, plan.Observed{Containers: []spec.Container{c}}, time.Unix(0, 0))
		if err != nil {
			t.Fatalf("Compute: %v", err)
		}
		var out bytes.Buffer
		if err := p.WriteJSON(&out); err != nil {
			t.Fatal(err)
		}
		if err := p.WriteText(&out, plan.TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), fuzzSecret) {
			t.Fatalf("the plan shows the secret:\n%s", out.String())
		}
	})
}
