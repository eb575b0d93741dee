package project_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

const (
	recordPassword = "devarch"
	recordConfig   = "auth_password = \"devarch-sonic-password\"\n"
)

func testRing(ids ...int64) keyring.Ring {
	var r keyring.Ring
	for i, id := range ids {
		k := keyring.Key{ID: id, Secret: bytes.Repeat([]byte{byte(id)}, keyring.SecretSize)}
		if i == 0 {
			r.Current = k
		} else {
			r.Retired = append(r.Retired, k)
		}
	}
	return r
}

// secretStack has one instance with a secret env value (the catalog's
// default password), a plain one and a config file holding a password.
func secretStack(password, config string) (spec.Stack, spec.Instance) {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Image:       "postgres:16",
		Env:         []spec.EnvVar{{Key: "POSTGRES_PASSWORD", Value: password}, {Key: "MODE", Value: "dev"}},
		ConfigFiles: []spec.ConfigFile{{Path: "sonic.cfg", Target: "/etc/sonic.cfg", Content: config}},
	}}
	inst := spec.Instance{ID: 71, Name: "db", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)}
	return spec.Stack{ID: 7, Name: "shop", Enabled: true, Instances: []spec.Instance{inst}}, inst
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// unkeyedDigests are every unkeyed SHA-256 a reader could compute from a
// guessed secret: of the value alone and with the salt the record used to
// have (instance id and variable name), bare and with the "sha256:" prefix.
func unkeyedDigests(instanceID int64, name string, values ...string) []string {
	var out []string
	for _, v := range values {
		for _, h := range []string{sha(v), sha(fmt.Sprintf("%d\x00%s\x00", instanceID, name) + v)} {
			out = append(out, h, "sha256:"+h)
		}
	}
	return out
}

func TestRecordDigestsAreKeyed(t *testing.T) {
	s, inst := secretStack(recordPassword, recordConfig)
	ring := testRing(5)
	opts := project.Options{StateDir: "/state", WorkspaceDir: "/state/workspace", Keys: ring}
	r := project.NewRecord(s, inst, opts)
	if r.KeyID != 5 {
		t.Errorf("record key id %d, want the current key's 5", r.KeyID)
	}
	if want := project.SecretDigest(ring.Current, inst.ID, "POSTGRES_PASSWORD", recordPassword); r.Env["POSTGRES_PASSWORD"] != want {
		t.Errorf("secret digest %q, want the keyed digest %q", r.Env["POSTGRES_PASSWORD"], want)
	}
	if r.Env["MODE"] != "dev" {
		t.Errorf("plain value %q, want it verbatim", r.Env["MODE"])
	}
	if want := project.ContentDigest(ring.Current, recordConfig); r.ConfigFiles["sonic.cfg"].Digest != want {
		t.Errorf("config digest %q, want the keyed digest %q", r.ConfigFiles["sonic.cfg"].Digest, want)
	}
	svc, _, err := project.Service(s, inst, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Every label value, and the record inside devarch.spec, is free of
	// every unkeyed digest of the secrets.
	forbidden := append(unkeyedDigests(inst.ID, "POSTGRES_PASSWORD", recordPassword), unkeyedDigests(inst.ID, "sonic.cfg", recordConfig)...)
	for k, v := range svc.Labels {
		for _, f := range forbidden {
			if strings.Contains(v, f) {
				t.Errorf("label %s holds the unkeyed digest %s:\n%s", k, f, v)
			}
		}
		if strings.Contains(v, recordPassword+"\"") || strings.Contains(v, "devarch-sonic-password") {
			t.Errorf("label %s holds a secret:\n%s", k, v)
		}
	}
	if !strings.HasPrefix(svc.Labels[spec.LabelConfigDigest], keyring.DigestPrefix) {
		t.Errorf("config digest label %q is not keyed", svc.Labels[spec.LabelConfigDigest])
	}
}

func TestDigestsDifferBetweenInstallations(t *testing.T) {
	s, inst := secretStack(recordPassword, recordConfig)
	a := project.Options{StateDir: "/state", Keys: testRing(1)}
	b := a
	b.Keys = keyring.Ring{Current: keyring.Key{ID: 1, Secret: bytes.Repeat([]byte{9}, keyring.SecretSize)}}
	ra, rb := project.NewRecord(s, inst, a), project.NewRecord(s, inst, b)
	if ra.Env["POSTGRES_PASSWORD"] == rb.Env["POSTGRES_PASSWORD"] || ra.ConfigFiles["sonic.cfg"].Digest == rb.ConfigFiles["sonic.cfg"].Digest {
		t.Error("two installations (same key id, other secrets) give the same digests")
	}
	if project.ConfigDigest(a.Keys.Current, inst.Effective.ConfigFiles) == project.ConfigDigest(b.Keys.Current, inst.Effective.ConfigFiles) {
		t.Error("two installations give the same devarch.config_digest")
	}
}

// TestRecordWithoutDigestsHasNoKey: a rotation must not recreate
// containers whose labels hold no digest.
func TestRecordWithoutDigestsHasNoKey(t *testing.T) {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "redis:7", Env: []spec.EnvVar{{Key: "MODE", Value: "dev"}}}}
	inst := spec.Instance{ID: 72, Name: "cache", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)}
	s := spec.Stack{ID: 7, Name: "shop", Enabled: true, Instances: []spec.Instance{inst}}
	before := project.NewRecord(s, inst, project.Options{StateDir: "/state", Keys: testRing(1)}).Encode()
	after := project.NewRecord(s, inst, project.Options{StateDir: "/state", Keys: testRing(2, 1)}).Encode()
	if before != after || strings.Contains(before, "key_id") {
		t.Errorf("a record without digests changed with the key:\n%s\n%s", before, after)
	}
}

func TestRecheckTellsRekeyingFromChange(t *testing.T) {
	s, inst := secretStack(recordPassword, recordConfig)
	old := project.NewRecord(s, inst, project.Options{Keys: testRing(1)})
	rotated := testRing(2, 1)
	forgotten := testRing(2) // key 1 deleted
	legacy := old
	legacy.KeyID = 0
	legacy.Env = map[string]string{"POSTGRES_PASSWORD": "sha256:" + sha(fmt.Sprintf("%d\x00%s\x00", inst.ID, "POSTGRES_PASSWORD")+recordPassword)}
	legacy.ConfigFiles = map[string]project.ConfigFile{"sonic.cfg": {Digest: "sha256:" + sha(recordConfig)}}
	tests := []struct {
		name   string
		rec    project.Record
		ring   keyring.Ring
		value  string
		config string
		want   project.Recheck
	}{
		{"same value, retired key", old, rotated, recordPassword, recordConfig, project.RecheckRekeyed},
		{"changed value, retired key", old, rotated, "other", "other", project.RecheckChanged},
		{"same value, unknown key", old, forgotten, recordPassword, recordConfig, project.RecheckUnknownKey},
		{"changed value, current key", old, testRing(1), "other", "other", project.RecheckChanged},
		{"same value, unkeyed record", legacy, rotated, recordPassword, recordConfig, project.RecheckUnkeyed},
		{"changed value, unkeyed record", legacy, rotated, "other", "other", project.RecheckChanged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rec.RecheckSecret(tc.ring, "POSTGRES_PASSWORD", tc.value, tc.rec.Env["POSTGRES_PASSWORD"]); got != tc.want {
				t.Errorf("RecheckSecret = %d, want %d", got, tc.want)
			}
			if got := tc.rec.RecheckContent(tc.ring, tc.config, tc.rec.ConfigFiles["sonic.cfg"].Digest); got != tc.want {
				t.Errorf("RecheckContent = %d, want %d", got, tc.want)
			}
		})
	}
	if got := old.RecheckSecret(rotated, "POSTGRES_PASSWORD", recordPassword, "plain-value"); got != project.RecheckChanged {
		t.Errorf("a plain recorded value rechecks as %d, want changed", got)
	}
}

func TestIsDigest(t *testing.T) {
	for v, want := range map[string]bool{
		keyring.DigestPrefix + strings.Repeat("ab", 32): true,
		"sha256:" + strings.Repeat("0f", 32):            true,
		"sha256:" + strings.Repeat("zz", 32):            false,
		keyring.DigestPrefix + "abc":                    false,
		strings.Repeat("ab", 32):                        false,
		"devarch":                                       false,
	} {
		if got := project.IsDigest(v); got != want {
			t.Errorf("IsDigest(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestRecordHidesValuesThatEmbedASecret: a value that is not secret itself
// but embeds a secret value — a DSN holding the password, a command line or
// healthcheck passing it, a label quoting it — is recorded as a keyed
// digest, so the devarch.spec label holds no secret; a value that holds the
// secret only inside a name the controller generates stays readable.
func TestRecordHidesValuesThatEmbedASecret(t *testing.T) {
	const password = "Tr0ub4dor&3x"
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Image:      "redis:7",
		Command:    []string{"redis-server", "--requirepass", password},
		Entrypoint: []string{"/entry", "--token=" + password},
		WorkingDir: "/srv/" + password,
		Env: []spec.EnvVar{{Key: "REDIS_PASSWORD", Value: password},
			{Key: "DATABASE_URL", Value: "postgres://app:" + password + "@db/app"}, {Key: "MODE", Value: "dev"}},
		Labels:      []spec.Label{{Key: "dsn", Value: "redis://:" + password + "@cache"}, {Key: "team", Value: "web"}},
		Healthcheck: &spec.Healthcheck{Test: []string{"CMD", "redis-cli", "-a", password, "ping"}},
	}}
	inst := spec.Instance{ID: 72, Name: "cache", Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)}
	s := spec.Stack{ID: 8, Name: "web", Enabled: true, Instances: []spec.Instance{inst}}
	r := project.NewRecord(s, inst, project.Options{StateDir: "/state", Keys: testRing(3)})
	label := r.Encode()
	for _, leak := range []string{password, strings.ReplaceAll(password, "&", `\u0026`)} {
		if strings.Contains(label, leak) {
			t.Fatalf("the record holds the secret (%q):\n%s", leak, label)
		}
	}
	for what, v := range map[string]string{
		"command arg": r.Command[2], "entrypoint arg": r.Entrypoint[1], "working dir": r.WorkingDir,
		"env DATABASE_URL": r.Env["DATABASE_URL"], "label dsn": r.Labels["dsn"], "healthcheck arg": r.Healthcheck.Test[3],
	} {
		if !project.IsDigest(v) || !strings.HasPrefix(v, keyring.DigestPrefix) {
			t.Errorf("%s recorded as %q, want a keyed digest", what, v)
		}
	}
	if r.Command[0] != "redis-server" || r.Env["MODE"] != "dev" || r.Labels["team"] != "web" || r.Healthcheck.Test[2] != "-a" {
		t.Errorf("values without a secret changed: %+v", r)
	}
	if r.KeyID != 3 {
		t.Errorf("key id %d, want 3", r.KeyID)
	}
	// The same secret inside a generated name (a stack named after it) is
	// not a value: the container name stays readable.
	o2 := spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "app:1",
		Env:     []spec.EnvVar{{Key: "APP_PASSWORD", Value: "devarch"}},
		Command: []string{"--peer", spec.ContainerName("shop", "db")}}}
	inst2 := spec.Instance{ID: 73, Name: "app", Enabled: true, Overrides: o2, Effective: spec.Merge(nil, o2)}
	s2 := spec.Stack{ID: 9, Name: "shop", Enabled: true, Instances: []spec.Instance{inst2, {ID: 74, Name: "db", Enabled: true}}}
	if got := project.NewRecord(s2, inst2, project.Options{Keys: testRing(3)}).Command[1]; got != "devarch-shop-db" {
		t.Errorf("a generated name holding the secret was recorded as %q, want it readable", got)
	}
}
