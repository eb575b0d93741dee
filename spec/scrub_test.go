package spec

import (
	"slices"
	"strings"
	"testing"
)

// scrubStack is a stack like the catalog's postgres template makes:
// POSTGRES_PASSWORD defaults to "devarch", which is also the prefix of
// every name the controller generates.
func scrubStack(name, password string) Stack {
	tmpl := &Template{Name: "postgres", Spec: ServiceSpec{Env: []EnvVar{{Key: "POSTGRES_PASSWORD", Value: "devarch"}}}}
	o := Overrides{ServiceSpec: ServiceSpec{
		Env:     []EnvVar{{Key: "POSTGRES_PASSWORD", Value: password}, {Key: "MODE", Value: "dev"}},
		Volumes: []Volume{{Type: VolumeTypeVolume, Source: "postgres_data", Target: "/var/lib/postgresql/data"}},
	}}
	return Stack{ID: 912345, Name: name, Enabled: true, Instances: []Instance{
		{ID: 912346, Name: "postgres", Enabled: true, Template: tmpl, Overrides: o, Effective: Merge(&tmpl.Spec, o)},
	}}
}

func TestScrubber(t *testing.T) {
	tests := []struct {
		name string
		sc   Scrubber
		in   string
		want string
	}{
		// The report that led to this design: every message mangled.
		{"network name kept", scrubStack("ceo-demo", "devarch").Scrubber(),
			`network "devarch-ceo-demo-net" belongs to another stack (stack id 12)`,
			`network "devarch-ceo-demo-net" belongs to another stack (stack id 12)`},
		{"network name at the end of a sentence", scrubStack("ceo-demo", "devarch").Scrubber(),
			"create network devarch-ceo-demo-net.", "create network devarch-ceo-demo-net."},
		{"container name in compose output", scrubStack("ceo-demo", "devarch").Scrubber(),
			"Container devarch-ceo-demo-postgres  Started\nContainer /devarch-ceo-demo-postgres: exit 1",
			"Container devarch-ceo-demo-postgres  Started\nContainer /devarch-ceo-demo-postgres: exit 1"},
		{"volume named after the project", scrubStack("ceo-demo", "devarch").Scrubber(),
			`Volume "devarch-ceo-demo_postgres_data" exists but doesn't match configuration in compose file`,
			`Volume "devarch-ceo-demo_postgres_data" exists but doesn't match configuration in compose file`},
		{"compose project", scrubStack("ceo-demo", "devarch").Scrubber(),
			"project devarch-ceo-demo: no service", "project devarch-ceo-demo: no service"},
		{"label keys and the managed-by label", scrubStack("ceo-demo", "devarch").Scrubber(),
			"filter label=devarch.stack_id=912345 label=devarch.managed_by=devarch",
			"filter label=devarch.stack_id=912345 label=devarch.managed_by=devarch"},
		{"state directory of the controller", scrubStack("ceo-demo", "devarch").Scrubber(),
			"write /root/.local/state/devarch-controller/stacks/ceo-demo/postgres/pg.conf: disk full",
			"write /root/.local/state/devarch-controller/stacks/ceo-demo/postgres/pg.conf: disk full"},

		// The secret where it is a value is always hidden.
		{"secret as an env value", scrubStack("ceo-demo", "devarch").Scrubber(),
			"env POSTGRES_PASSWORD=devarch refused", "env POSTGRES_PASSWORD=(sensitive) refused"},
		{"secret in a DSN next to a container name", scrubStack("ceo-demo", "devarch").Scrubber(),
			"postgres://postgres:devarch@devarch-ceo-demo-postgres:5432/app",
			"postgres://postgres:(sensitive)@devarch-ceo-demo-postgres:5432/app"},
		{"secret quoted by the engine", scrubStack("ceo-demo", "devarch").Scrubber(),
			`exec: "devarch": executable file not found in $PATH`, `exec: "(sensitive)": executable file not found in $PATH`},
		{"a name glued to more name characters is not a name", scrubStack("ceo-demo", "devarch").Scrubber(),
			"devarch-ceo-demo-netx xdevarch-ceo-demo-net", "(sensitive)-ceo-demo-netx x(sensitive)-ceo-demo-net"},
		{"the bare product word is a value", scrubStack("ceo-demo", "devarch").Scrubber(),
			"belongs to another devarch stack", "belongs to another (sensitive) stack"},

		// A secret equal to a name: where it stands alone it may be the
		// value, so it is hidden; longer names holding it are kept.
		{"secret equal to the stack name, quoted as a value", scrubStack("devarch", "devarch").Scrubber(),
			"env POSTGRES_PASSWORD=devarch refused", "env POSTGRES_PASSWORD=(sensitive) refused"},
		{"secret equal to the stack name, the stack named alone", scrubStack("devarch", "devarch").Scrubber(),
			`lock stack "devarch": timeout`, `lock stack "(sensitive)": timeout`},
		{"secret equal to the stack name, inside longer names", scrubStack("devarch", "devarch").Scrubber(),
			`network "devarch-devarch-net" on devarch-devarch-postgres`, `network "devarch-devarch-net" on devarch-devarch-postgres`},
		{"secret equal to the network name", scrubStack("ceo-demo", "devarch-ceo-demo-net").Scrubber(),
			`network "devarch-ceo-demo-net" exists`, `network "(sensitive)" exists`},
		{"secret holding a name", scrubStack("ceo-demo", "xdevarch-ceo-demo-netx").Scrubber(),
			"pw=xdevarch-ceo-demo-netx and devarch-ceo-demo-net", "pw=(sensitive) and devarch-ceo-demo-net"},
		{"secret inside an instance name", scrubStack("ceo-demo", "postgre").Scrubber(),
			"instance postgres, password postgre", "instance postgres, password (sensitive)"},

		// Several secrets.
		{"overlapping secrets are hidden whole", NewScrubber([]string{"hunter22", "22xyz99"}, nil),
			"auth hunter22xyz99 failed", "auth (sensitive) failed"},
		{"overlapping occurrences of one secret", NewScrubber([]string{"abcdabcd"}, nil),
			"x abcdabcdabcd y", "x (sensitive) y"},
		{"adjacent secrets make one redaction", NewScrubber([]string{"hunter22", "swordfish"}, nil),
			"hunter22swordfish", "(sensitive)"},
		{"a name cut by another secret protects nothing", NewScrubber([]string{"devarch", "demo-net rest"}, []string{"devarch-ceo-demo-net"}),
			"devarch-ceo-demo-net rest", "(sensitive)-ceo-(sensitive)"},
		{"secret longer and shorter than a name", NewScrubber([]string{"demo", "devarch-ceo-demo-net!"}, []string{"devarch-ceo-demo-net"}),
			"devarch-ceo-demo-net! devarch-ceo-demo-net", "(sensitive) devarch-ceo-demo-net"},

		// Odd secrets.
		{"regex and format characters", NewScrubber([]string{`p@$$.w*rd(1)[x]\%s`}, nil),
			`auth p@$$.w*rd(1)[x]\%s refused; pXXXw.rd`, `auth (sensitive) refused; pXXXw.rd`},
		{"non-ASCII secret", NewScrubber([]string{"pässwörd"}, nil), "pw pässwörd.", "pw (sensitive)."},
		{"non-ASCII next to a name", NewScrubber([]string{"devarch"}, []string{"devarch-ceo-demo-net"}),
			"édevarch-ceo-demo-net", "é(sensitive)-ceo-demo-net"},
		{"empty secret", NewScrubber([]string{""}, []string{""}), "nothing to hide", "nothing to hide"},
		{"secret below the minimum length", NewScrubber([]string{"abc"}, nil), "abc abc", "abc abc"},
		{"no secrets", NewScrubber(nil, []string{"devarch"}), "devarch devarch-x", "devarch devarch-x"},
		{"empty text", scrubStack("ceo-demo", "devarch").Scrubber(), "", ""},
		{"short numeric secret and the stack id", scrubStack("ceo-demo", "1234").Scrubber(),
			"stack id 912345, port 1234", "stack id 912345, port (sensitive)"},
		{"zero scrubber", Scrubber{}, "devarch", "devarch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sc.Scrub(tt.in); got != tt.want {
				t.Errorf("Scrub(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := tt.sc.Scrub(tt.want); got != tt.want {
				t.Errorf("Scrub is not idempotent: Scrub(%q) = %q", tt.want, got)
			}
		})
	}
}

// TestStackIdentifiers lists what the controller generates for a stack.
func TestStackIdentifiers(t *testing.T) {
	s := scrubStack("ceo-demo", "devarch")
	got := map[string]bool{}
	for _, id := range s.Identifiers() {
		got[id] = true
	}
	for _, want := range []string{"ceo-demo", "912345", "devarch-ceo-demo", "devarch-ceo-demo-net", "postgres", "912346",
		"devarch-ceo-demo-postgres", "devarch-ceo-demo_postgres_data", LabelStackID, LabelManagedBy,
		LabelManagedBy + "=" + ManagedByValue, "devarch-controller"} {
		if !got[want] {
			t.Errorf("Identifiers() lacks %q: %v", want, s.Identifiers())
		}
	}
	custom := s
	custom.NetworkName = "shared-net"
	if ids := custom.Identifiers(); !slices.Contains(ids, "shared-net") || slices.Contains(ids, "devarch-ceo-demo-net") {
		t.Errorf("Identifiers() with network_name = %v, want the stack's own network only", ids)
	}
}

// TestScrubberSecretsOfTheStack: the scrubber built from a stack hides
// every secret value of it (explicit or by name), and nothing else.
func TestScrubberSecretsOfTheStack(t *testing.T) {
	s := Stack{Name: "shop", Instances: []Instance{{Name: "db", Effective: Merge(nil, Overrides{ServiceSpec: ServiceSpec{Env: []EnvVar{
		{Key: "DB_PASSWORD", Value: "hunter2"}, {Key: "PIN", Value: "12", Secret: true}, {Key: "MODE", Value: "dev-mode"},
		{Key: "TOKEN_FILE", Value: "s3cret-token", Secret: true},
	}}})}}}
	got := s.Scrubber().Scrub("error: auth failed for hunter2 with s3cret-token in dev-mode 12")
	if got != "error: auth failed for (sensitive) with (sensitive) in dev-mode 12" {
		t.Fatalf("Scrub = %q", got)
	}
}

// FuzzScrubber checks the scrubber's promise on any input: no secret is
// left in the output except strictly inside a whole, delimited name, and
// text without a secret is returned unchanged.
func FuzzScrubber(f *testing.F) {
	f.Add(`network "devarch-ceo-demo-net" belongs to another stack; POSTGRES_PASSWORD=devarch`, "devarch", "demo-net", "ceo-demo", "postgres")
	f.Add("hunter22xyz99 devarch-a-net", "hunter22", "22xyz99", "a", "b")
	f.Add("devarch-devarch-net devarch", "devarch", "", "devarch", "devarch")
	f.Add("aaaaaaaaa-aaaa", "aaaa", "aaaaa", "aaaa", "a")
	f.Add("devarch-ceo-demo-net rest", "devarch", "demo-net rest", "ceo-demo", "db")
	f.Fuzz(func(t *testing.T, text, secret1, secret2, stack, instance string) {
		secrets := []string{secret1, secret2}
		for _, s := range secrets {
			if strings.Contains(s, "\x00") {
				return
			}
		}
		idents := []string{stack, instance, ProjectName(stack), "devarch-" + stack + "-net", ContainerName(stack, instance),
			ProjectName(stack) + "_" + instance, LabelManagedBy + "=" + ManagedByValue}
		sc := NewScrubber(secrets, idents)
		sc.marker = "\x00" // a marker that can never be part of a secret
		out := sc.Scrub(text)
		hides := false
		for _, s := range secrets {
			if len(s) < MinScrubLength {
				continue
			}
			hides = hides || strings.Contains(text, s)
			for i := 0; i < len(out); i++ {
				j := strings.Index(out[i:], s)
				if j < 0 {
					break
				}
				start := i + j
				if !insideDelimitedName(out, start, start+len(s), idents) {
					t.Fatalf("secret %q left at %d outside a name: Scrub(%q) = %q", s, start, text, out)
				}
				i = start
			}
		}
		if !hides && out != text {
			t.Fatalf("text without a secret changed: Scrub(%q) = %q", text, out)
		}
	})
}

// insideDelimitedName is the fuzz target's own, naive statement of a
// protected name: some identifier longer than [start, end) occurs around
// it, delimited on both sides.
func insideDelimitedName(text string, start, end int, idents []string) bool {
	for _, id := range idents {
		if len(id) <= end-start {
			continue
		}
		for a := max(0, end-len(id)); a <= start && a+len(id) <= len(text); a++ {
			if text[a:a+len(id)] != id {
				continue
			}
			b := a + len(id)
			if (a == 0 || !isNameByte(text[a-1])) && (b == len(text) || !isNameByte(text[b])) {
				return true
			}
		}
	}
	return false
}
