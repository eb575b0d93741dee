package plan

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

func TestTokenIsStableUnderReordering(t *testing.T) {
	s := shopStack()
	want := tok(s)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		c := shopStack()
		r.Shuffle(len(c.Instances), func(i, j int) { c.Instances[i], c.Instances[j] = c.Instances[j], c.Instances[i] })
		for k := range c.Instances {
			inst := &c.Instances[k]
			shuffle(r, inst.Overrides.Env)
			shuffle(r, inst.Overrides.Ports)
			shuffle(r, inst.Template.Spec.Env)
			shuffle(r, inst.Template.Spec.Labels)
		}
		c = remerge(c)
		if got := tok(c); got != want {
			t.Fatalf("token changed after reordering: %s != %s", got, want)
		}
	}
}

func shuffle[T any](r *rand.Rand, xs []T) {
	r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
}

func TestTokenIsTheSameInAnyTimeZone(t *testing.T) {
	if os.Getenv("DEVARCH_TOKEN_CHILD") == "1" {
		os.Stdout.WriteString(tok(shopStack()))
		return
	}
	var tokens []string
	for _, tz := range []string{"UTC", "America/Los_Angeles", "Asia/Kathmandu"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTokenIsTheSameInAnyTimeZone$")
		cmd.Env = append(os.Environ(), "DEVARCH_TOKEN_CHILD=1", "TZ="+tz)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child process in %s: %v", tz, err)
		}
		tokens = append(tokens, string(out[:64]))
	}
	tokens = append(tokens, tok(shopStack()))
	for _, tok := range tokens[1:] {
		if tok != tokens[0] {
			t.Fatalf("tokens differ across processes/time zones: %q", tokens)
		}
	}
}

// TestTokenChangesWithEveryField changes one field of the stack, an
// instance, a template, an override or a config file at a time.
func TestTokenChangesWithEveryField(t *testing.T) {
	edits := map[string]func(s *spec.Stack){
		"stack id":                func(s *spec.Stack) { s.ID++ },
		"stack name":              func(s *spec.Stack) { s.Name = "shop2" },
		"stack network":           func(s *spec.Stack) { s.NetworkName = "n" },
		"stack engine":            func(s *spec.Stack) { s.Engine = "edge" },
		"stack subnet":            func(s *spec.Stack) { s.Subnet = "10.128.3.0/24" },
		"stack enabled":           func(s *spec.Stack) { s.Enabled = false },
		"wire added":              func(s *spec.Stack) { s.Wires = []spec.Wire{{ConsumerInstance: "edge", ProviderInstance: "db"}} },
		"instance id":             func(s *spec.Stack) { s.Instances[0].ID = 77 },
		"instance name":           func(s *spec.Stack) { s.Instances[0].Name = "pg" },
		"instance enabled":        func(s *spec.Stack) { s.Instances[1].Enabled = false },
		"instance removed":        func(s *spec.Stack) { s.Instances = s.Instances[:1] },
		"template id":             func(s *spec.Stack) { s.Instances[0].Template.ID = 99 },
		"template name":           func(s *spec.Stack) { s.Instances[0].Template.Name = "pg" },
		"template image":          func(s *spec.Stack) { s.Instances[0].Template.Spec.Image = "postgres:19" },
		"overridden template env": func(s *spec.Stack) { s.Instances[0].Template.Spec.Env[2].Value = "other" },
		"template healthcheck":    func(s *spec.Stack) { s.Instances[0].Template.Spec.Healthcheck.Timeout = spec.Duration(time.Second) },
		"template config content": func(s *spec.Stack) { s.Instances[1].Template.Spec.ConfigFiles[0].Content += "#" },
		"template config mode":    func(s *spec.Stack) { s.Instances[1].Template.Spec.ConfigFiles[0].Mode = 0o600 },
		"template config target":  func(s *spec.Stack) { s.Instances[1].Template.Spec.ConfigFiles[0].Target = "/x" },
		"secret value":            func(s *spec.Stack) { s.Instances[0].Template.Spec.Env[1].Value = "devarch2" },
		"secret flag":             func(s *spec.Stack) { s.Instances[0].Template.Spec.Env[0].Secret = true },
		"override env":            func(s *spec.Stack) { s.Instances[0].Overrides.Env[0].Value = "x" },
		"override port":           func(s *spec.Stack) { s.Instances[0].Overrides.Ports[0].HostPort = 1 },
		"override volume":         func(s *spec.Stack) { s.Instances[0].Overrides.Volumes = []spec.Volume{{Type: "volume", Target: "/v"}} },
		"override label":          func(s *spec.Stack) { s.Instances[1].Overrides.Labels = []spec.Label{{Key: "a", Value: "b"}} },
		"override command":        func(s *spec.Stack) { s.Instances[1].Overrides.Command = []string{"x"} },
		"override entrypoint":     func(s *spec.Stack) { s.Instances[1].Overrides.Entrypoint = []string{"x"} },
		"override restart":        func(s *spec.Stack) { s.Instances[1].Overrides.Restart = "no" },
		"override depends_on":     func(s *spec.Stack) { s.Instances[1].Overrides.DependsOn = []spec.Dependency{{Name: "db"}} },
		"override config file": func(s *spec.Stack) {
			s.Instances[1].Overrides.ConfigFiles = []spec.ConfigFile{{Path: "a", Target: "/a", Content: "x"}}
		},
		"override domain": func(s *spec.Stack) { s.Instances[1].Overrides.Domains = []spec.Domain{{Domain: "x.local"}} },
		"override same as template": func(s *spec.Stack) {
			s.Instances[1].Overrides.Image = s.Instances[1].Template.Spec.Image
		},
	}
	base := tok(shopStack())
	seen := map[string]string{base: "base"}
	for name, edit := range edits {
		s := shopStack()
		edit(&s)
		s = remerge(s)
		tok := tok(s)
		if tok == base {
			t.Errorf("%s: token did not change", name)
		}
		if other, dup := seen[tok]; dup {
			t.Errorf("%s: token equals that of %s", name, other)
		}
		seen[tok] = name
	}
}

func TestTokenIgnoresOtherStacks(t *testing.T) {
	a, b := shopStack(), shopStack()
	b.ID, b.Name = 4, "other"
	before := tok(a)
	b.Instances[0].Overrides.Image = "postgres:1"
	_ = tok(remerge(b))
	if tok(a) != before {
		t.Fatal("editing another stack changed this stack's token")
	}
}

// FuzzToken mutates one random field of one random instance: the token
// must change, and recomputing it must give the same value.
func FuzzToken(f *testing.F) {
	f.Add(uint8(0), uint8(0), "x")
	f.Add(uint8(1), uint8(5), "")
	f.Add(uint8(1), uint8(9), "devarch")
	f.Fuzz(func(t *testing.T, which, field uint8, value string) {
		s := shopStack()
		base := tok(s)
		inst := &s.Instances[int(which)%len(s.Instances)]
		o := &inst.Overrides
		before := tok(remerge(shopStack()))
		if before != base {
			t.Fatal("token is not deterministic")
		}
		switch field % 10 {
		case 0:
			o.Image = "img-" + value
		case 1:
			o.Command = []string{"cmd", value}
		case 2:
			o.Env = append(slices.Clone(o.Env), spec.EnvVar{Key: "FUZZ", Value: value})
		case 3:
			o.Labels = []spec.Label{{Key: "fuzz", Value: value}}
		case 4:
			o.ConfigFiles = []spec.ConfigFile{{Path: "f", Target: "/f", Content: value}}
		case 5:
			o.Restart = "r" + value
		case 6:
			o.WorkingDir = "/w" + value
		case 7:
			o.Volumes = []spec.Volume{{Type: "volume", Source: "v" + value, Target: "/v"}}
		case 8:
			o.Healthcheck = &spec.Healthcheck{Test: []string{"CMD", value}}
		case 9:
			inst.Template.Spec.Env = append(slices.Clone(inst.Template.Spec.Env), spec.EnvVar{Key: "FUZZ_T", Value: value})
		}
		s = remerge(s)
		if tok(s) == base {
			t.Fatalf("field %d of instance %d set to %q did not change the token", field%10, which, value)
		}
		if tok(s) != tok(s) {
			t.Fatal("token is not deterministic")
		}
	})
}

// TestTokenDiffersBetweenInstallations: the same stack, planned in two
// installations (other key secrets, even under the same key id), or after
// a key rotation, has another token; so does the same stack with other
// host paths.
func TestTokenDiffersBetweenInstallations(t *testing.T) {
	s := shopStack()
	base := tok(s)
	other := testPaths
	other.Keys = keyring.Ring{Current: keyring.Key{ID: testKey.ID, Secret: []byte("another-installation-secret-0002")}}
	rotated := testPaths
	rotated.Keys = keyring.Ring{Current: keyring.Key{ID: 2, Secret: []byte("devarch-controller-test-key-0002")}, Retired: []keyring.Key{testKey}}
	sameSecretOtherID := testPaths
	sameSecretOtherID.Keys = keyring.Ring{Current: keyring.Key{ID: 9, Secret: testKey.Secret}}
	stateDir, workspace := testPaths, testPaths
	stateDir.StateDir = "/srv/devarch"
	workspace.WorkspaceDir = "/srv/devarch/workspace"
	seen := map[string]string{base: "the test installation"}
	for name, paths := range map[string]project.Options{
		"another installation's key": other, "a rotated key": rotated, "the same secret under another key id": sameSecretOtherID,
		"another state dir": stateDir, "another workspace dir": workspace,
	} {
		got := Token(Desired{Stack: s, Paths: paths})
		if prev, dup := seen[got]; dup {
			t.Errorf("%s gives the token of %s", name, prev)
		}
		seen[got] = name
		if again := Token(Desired{Stack: s, Paths: paths}); again != got {
			t.Errorf("%s: the token is not deterministic", name)
		}
	}
}

// TestTokenIsNotAnUnkeyedHash: the token equals no unkeyed SHA-256 a
// reader could compute: of a secret value alone or salted, or of the
// token document itself.
func TestTokenIsNotAnUnkeyedHash(t *testing.T) {
	s := shopStack()
	got := tok(s)
	if len(got) != 64 {
		t.Fatalf("token %q is not 64 hex digits", got)
	}
	candidates := []string{hexSHA256("devarch"), hexSHA256(fmt.Sprintf("%d\x00%s\x00devarch", 31, "POSTGRES_PASSWORD"))}
	// The version 1 token: an unkeyed hash over the stack's document.
	unkeyed := testPaths
	unkeyed.Keys = keyring.Ring{}
	doc := Token(Desired{Stack: s, Paths: unkeyed})
	for _, c := range append(candidates, doc) {
		if got == c {
			t.Errorf("the token equals an unkeyed hash %s", c)
		}
	}
}
