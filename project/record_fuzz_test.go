package project_test

import (
	"reflect"
	"testing"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// FuzzDecodeRecord: the devarch.spec label is read back from containers,
// and anyone who can reach the engine can create a container carrying any
// label. Decoding never panics, accepts only the current record version,
// and whatever it accepts encodes and decodes back to the same record.
func FuzzDecodeRecord(f *testing.F) {
	inst := spec.Instance{ID: 7, Name: "db", Enabled: true, Effective: spec.Merge(nil, spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Image: "postgres:16", Command: []string{"postgres", "-c", "fsync=off"},
		Env:         []spec.EnvVar{{Key: "POSTGRES_PASSWORD", Value: "s3cret-value"}, {Key: "MODE", Value: "dev"}},
		Ports:       []spec.Port{{HostPort: 15432, ContainerPort: 5432, Protocol: "tcp"}},
		ConfigFiles: []spec.ConfigFile{{Path: "init.sql", Target: "/docker-entrypoint-initdb.d/init.sql", Content: "select 1;"}},
	}})}
	st := spec.Stack{ID: 3, Name: "shop", Enabled: true, Instances: []spec.Instance{inst}}
	ring := keyring.Ring{Current: keyring.Key{ID: 3, Secret: []byte("0123456789abcdef0123456789abcdef")}}
	f.Add(project.NewRecord(st, inst, project.Options{StateDir: "/state", WorkspaceDir: "/state/workspace", Keys: ring}).Encode())
	for _, s := range []string{"", "{}", `{"v":1}`, `{"v":2}`, `{"v":1,"env":{"A":1}}`, `{"v":1,"ports":[{"container_port":70000}]}`, "null", `{"v":1}{"v":1}`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, label string) {
		r, ok := project.DecodeRecord(label)
		if !ok {
			if !reflect.DeepEqual(r, project.Record{}) {
				t.Fatalf("rejected label %q decoded to %+v", label, r)
			}
			return
		}
		if r.Version != project.RecordVersion {
			t.Fatalf("accepted record version %d", r.Version)
		}
		back, ok := project.DecodeRecord(r.Encode())
		if !ok || back.Encode() != r.Encode() {
			t.Fatalf("record does not round-trip:\n%s\n%s", r.Encode(), back.Encode())
		}
	})
}
