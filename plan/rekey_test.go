package plan

import (
	"fmt"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

var rotatedKey = keyring.Key{ID: 2, Secret: []byte("devarch-controller-test-key-0002")}

// rotatedPaths is the test installation after a key rotation: key 2 is
// current, key 1 (which made the converged containers' labels) retired.
func rotatedPaths() project.Options {
	p := testPaths
	p.Keys = keyring.Ring{Current: rotatedKey, Retired: []keyring.Key{testKey}}
	return p
}

func computeWith(t *testing.T, s spec.Stack, o Observed, paths project.Options) *Plan {
	t.Helper()
	p, err := Compute(Desired{Stack: s, Paths: paths}, o, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func changeOf(t *testing.T, p *Plan, instance string) Change {
	t.Helper()
	for _, c := range p.Changes {
		if c.Instance == instance {
			return c
		}
	}
	t.Fatalf("no change of %s in the plan:\n%s", instance, render(p))
	return Change{}
}

func fieldOf(t *testing.T, c Change, path string) FieldChange {
	t.Helper()
	for _, f := range c.Fields {
		if f.Path == path {
			return f
		}
	}
	t.Fatalf("no field %s in the change of %s: %+v", path, c.Instance, c.Fields)
	return FieldChange{}
}

func render(p *Plan) string {
	var b strings.Builder
	_ = p.WriteText(&b, TextOptions{})
	return b.String()
}

// TestKeyRotationIsNamedAsTheReason: after a key rotation, containers whose
// labels hold digests (a secret env value, a config file) are recreated,
// and every field says it was re-keyed with the value unchanged — not that
// a secret changed.
func TestKeyRotationIsNamedAsTheReason(t *testing.T) {
	s := shopStack()
	p := computeWith(t, s, observedFor(s), rotatedPaths())
	if p.Summary != (Summary{Modify: 2}) {
		t.Fatalf("summary %+v, want both instances recreated:\n%s", p.Summary, render(p))
	}
	db := changeOf(t, p, "db")
	if !db.Recreate || db.Reason != "recreate: digests of its secrets and config files were made with retired installation key 1" {
		t.Errorf("db: recreate %v, reason %q", db.Recreate, db.Reason)
	}
	pw := fieldOf(t, db, "env.POSTGRES_PASSWORD")
	if len(db.Fields) != 1 || !pw.Sensitive || pw.Source != spec.SourceUser ||
		pw.Reason != "value unchanged; re-keyed: its digest was made with retired installation key 1" {
		t.Errorf("db fields %+v", db.Fields)
	}
	edge := changeOf(t, p, "edge")
	cf := fieldOf(t, edge, "config_files.traefik.yml")
	if len(edge.Fields) != 1 || !strings.Contains(cf.Reason, "re-keyed") || !strings.Contains(edge.Reason, "retired installation key 1") {
		t.Errorf("edge: reason %q, fields %+v", edge.Reason, edge.Fields)
	}
	text := render(p)
	if strings.Contains(text, "secret value changed") || strings.Contains(text, "content changed") {
		t.Errorf("the rotation shows as a changed value:\n%s", text)
	}
	// Applied with the new key, the stack converges again.
	converged := computeWith(t, s, Observed{Containers: convergedWith(s, rotatedPaths()), ImageIDs: imageIDs(s), NetworkID: testNetworkID}, rotatedPaths())
	if !converged.Empty() {
		t.Errorf("not converged after the re-keying apply:\n%s", render(converged))
	}
}

// TestKeyRotationWithAChangedSecret: a secret that changed after the
// rotation still shows as changed.
func TestKeyRotationWithAChangedSecret(t *testing.T) {
	s := shopStack()
	obs := observedFor(s)
	s.Instances[0].Template.Spec.Env[1].Value = "another-password"
	s = remerge(s)
	db := changeOf(t, computeWith(t, s, obs, rotatedPaths()), "db")
	if f := fieldOf(t, db, "env.POSTGRES_PASSWORD"); f.Reason != "secret value changed" {
		t.Errorf("reason %q, want a changed secret", f.Reason)
	}
	if db.Reason != "recreate: configuration changed" {
		t.Errorf("change reason %q", db.Reason)
	}
}

// TestUnknownKeyIsSaid: a digest made with a key the ring no longer holds
// cannot be checked; the plan says so.
func TestUnknownKeyIsSaid(t *testing.T) {
	s := shopStack()
	paths := testPaths
	paths.Keys = keyring.Ring{Current: rotatedKey}
	db := changeOf(t, computeWith(t, s, observedFor(s), paths), "db")
	if f := fieldOf(t, db, "env.POSTGRES_PASSWORD"); !strings.Contains(f.Reason, "installation key 1, which is no longer known") {
		t.Errorf("reason %q", f.Reason)
	}
}

// TestUnkeyedRecordIsReKeyed: a container whose devarch.spec label was
// written before digests were keyed (sha256: digests, no key id) is
// recreated with that reason.
func TestUnkeyedRecordIsReKeyed(t *testing.T) {
	s := shopStack()
	obs := observedFor(s)
	for i, c := range obs.Containers {
		inst := s.Instances[i]
		r, ok := project.DecodeRecord(c.Labels[spec.LabelSpec])
		if !ok {
			t.Fatal("converged container has no record")
		}
		r.KeyID = 0
		for _, v := range inst.Effective.Env {
			if v.IsSecret() {
				r.Env[v.Key] = "sha256:" + hexSHA256(fmt.Sprintf("%d\x00%s\x00", inst.ID, v.Key)+v.Value)
			}
		}
		for _, f := range inst.Effective.ConfigFiles {
			cf := r.ConfigFiles[f.Path]
			cf.Digest = "sha256:" + hexSHA256(f.Content)
			r.ConfigFiles[f.Path] = cf
		}
		obs.Containers[i].Labels[spec.LabelSpec] = r.Encode()
		obs.Containers[i].ConfigHash = "from-an-earlier-version"
	}
	p := computeWith(t, s, obs, testPaths)
	db := changeOf(t, p, "db")
	if f := fieldOf(t, db, "env.POSTGRES_PASSWORD"); !strings.Contains(f.Reason, "without an installation key") {
		t.Errorf("reason %q", f.Reason)
	}
	if !strings.Contains(db.Reason, "without an installation key") {
		t.Errorf("change reason %q", db.Reason)
	}
	// An unkeyed content digest is not shown, not even in part: a piece of
	// an unkeyed hash confirms a guessed secret offline.
	seen := 0
	for _, c := range p.Changes {
		for _, f := range c.Fields {
			if !strings.HasPrefix(f.Path, "config_files.") || f.Old == nil {
				continue
			}
			for _, file := range s.Instances {
				for _, cf := range file.Effective.ConfigFiles {
					if strings.Contains(*f.Old, hexSHA256(cf.Content)[:12]) {
						t.Errorf("%s shows part of the unkeyed content digest: %q", f.Path, *f.Old)
					}
				}
			}
			if !strings.Contains(*f.Old, "digest made without a key") {
				t.Errorf("%s old value %q, want it to say the digest was made without a key", f.Path, *f.Old)
			}
			seen++
		}
	}
	if seen == 0 {
		t.Error("no config file change in the plan: the test checks nothing")
	}
}

// TestKeyRotationLeavesDigestFreeContainersAlone: a container whose labels
// hold no digest (no secret, no config file) is not touched by a rotation.
func TestKeyRotationLeavesDigestFreeContainersAlone(t *testing.T) {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "redis:7", Env: []spec.EnvVar{{Key: "MODE", Value: "dev"}}}}
	s := spec.Stack{ID: 5, Name: "plain", Enabled: true, Instances: []spec.Instance{instance(51, "cache", nil, o)}}
	if p := computeWith(t, s, observedFor(s), rotatedPaths()); !p.Empty() {
		t.Errorf("a rotation changes a stack without digests:\n%s", render(p))
	}
}
