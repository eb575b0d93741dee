package plan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// Set DEVARCH_UPDATE_GOLDEN=1 to rewrite the golden files in testdata/.
var update = os.Getenv("DEVARCH_UPDATE_GOLDEN") == "1"

// allActionsPlan has one add, one modify (with a secret, a config file and
// a user field) and one remove.
func allActionsPlan(t *testing.T) *Plan {
	t.Helper()
	s := shopStack()
	obs := observedFor(s)
	ghost := obs.Containers[1]
	ghost.ID, ghost.InstanceID, ghost.InstanceName, ghost.Name = strings.Repeat("c", 64), 40, "worker", "/devarch-shop-worker"
	obs.Containers = append(obs.Containers[:1], ghost)
	s.Instances[0].Template.Spec.Env[1].Value = "n3w-s3cret-value"
	s.Instances[0].Overrides.Image = "postgres:17"
	s.Instances[0].Overrides.Env = append(s.Instances[0].Overrides.Env, spec.EnvVar{Key: "APP_KEY", Value: "base64:canary-key", Secret: true})
	return mustCompute(remerge(s), obs)
}

func TestGoldenPlans(t *testing.T) {
	converged := shopStack()
	cases := map[string]*Plan{
		"all-actions":   allActionsPlan(t),
		"converged":     mustCompute(converged, observedFor(converged)),
		"volume-notice": volumeNoticePlan(t),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			var js, text bytes.Buffer
			if err := p.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			if err := p.WriteText(&text, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".json", js.Bytes())
			golden(t, name+".txt", text.Bytes())
		})
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with DEVARCH_UPDATE_GOLDEN=1 to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (DEVARCH_UPDATE_GOLDEN=1 go test ./plan rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestSecretsNeverAppear(t *testing.T) {
	p := allActionsPlan(t)
	var js, text, colored bytes.Buffer
	_ = p.WriteJSON(&js)
	_ = p.WriteText(&text, TextOptions{})
	_ = p.WriteText(&colored, TextOptions{Color: true})
	for _, out := range []string{js.String(), text.String(), colored.String()} {
		for _, secret := range []string{"n3w-s3cret-value", "canary-key", "devarch\""} {
			if strings.Contains(out, secret) {
				t.Errorf("plan output contains secret %q:\n%s", secret, out)
			}
		}
	}
	var sensitive int
	for _, c := range p.Changes {
		for _, f := range c.Fields {
			if f.Sensitive {
				sensitive++
				for _, v := range []*string{f.Old, f.New} {
					if v != nil && *v != spec.RedactedValue {
						t.Errorf("%s: sensitive value not redacted: %q", f.Path, *v)
					}
				}
			}
		}
	}
	if sensitive != 2 {
		t.Errorf("want 2 sensitive fields (POSTGRES_PASSWORD changed, APP_KEY set), got %d", sensitive)
	}
}

func TestTextRendering(t *testing.T) {
	p := allActionsPlan(t)
	var plain, colored bytes.Buffer
	_ = p.WriteText(&plain, TextOptions{})
	_ = p.WriteText(&colored, TextOptions{Color: true})
	for _, want := range []string{"  ~ db (postgres)", "  + edge (traefik)", "  - worker", "image:", "postgres:18.2 → postgres:17 (user)", "Plan: 1 to add, 1 to modify, 1 to remove."} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, plain.String())
		}
	}
	if strings.Contains(plain.String(), "\x1b[") {
		t.Error("plain text contains ANSI escapes")
	}
	if !strings.Contains(colored.String(), ansiGreen+"+"+ansiReset) {
		t.Error("coloured text lacks a green +")
	}
}

func TestJSONShape(t *testing.T) {
	var m map[string]any
	b, _ := json.Marshal(allActionsPlan(t))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format_version", "stack_id", "stack", "token", "generated_at", "summary", "changes", "warnings"} {
		if _, ok := m[k]; !ok {
			t.Errorf("plan JSON lacks %q", k)
		}
	}
	if m["generated_at"] != "2026-11-26T12:00:00Z" {
		t.Errorf("generated_at = %v", m["generated_at"])
	}
	for _, c := range m["changes"].([]any) {
		if c.(map[string]any)["fields"] == nil {
			t.Errorf("fields is null in %v", c)
		}
	}
}

func TestSecretsInsideOtherFieldsAreScrubbed(t *testing.T) {
	s := shopStack()
	obs := observedFor(s)
	s.Instances[0].Overrides.Env = append(s.Instances[0].Overrides.Env,
		spec.EnvVar{Key: "REPLICATION_DSN", Value: "postgres://rep:devarch-dsn-secret@db/app"},
		spec.EnvVar{Key: "DB_PASSWORD", Value: "devarch-dsn-secret"})
	s.Instances[0].Overrides.Command = []string{"postgres", "--password=devarch-dsn-secret"}
	p := mustCompute(remerge(s), obs)
	var js, text bytes.Buffer
	_ = p.WriteJSON(&js)
	_ = p.WriteText(&text, TextOptions{})
	for _, out := range []string{js.String(), text.String()} {
		if strings.Contains(out, "devarch-dsn-secret") {
			t.Fatalf("a secret inside a non-secret field leaked:\n%s", out)
		}
	}
	if !strings.Contains(js.String(), "postgres://rep:(sensitive)@db/app") {
		t.Errorf("the DSN should still show with its secret replaced:\n%s", js.String())
	}
}

// TestScrubKeepsGeneratedNames: the catalog's postgres default password
// "devarch" is hidden where it is a value, never inside the names the
// controller generates (the network, a container named in a DSN).
func TestScrubKeepsGeneratedNames(t *testing.T) {
	s := shopStack() // POSTGRES_PASSWORD is the template's "devarch"
	s.Instances[1].Overrides.Env = []spec.EnvVar{
		{Key: "DB_HOST", Value: "devarch-shop-db"},
		{Key: "DATABASE_URL", Value: "postgres://postgres:devarch@devarch-shop-db:5432/shop"},
	}
	s = remerge(s)
	obs := observedFor(s)
	obs.Containers = obs.Containers[:1] // edge is added
	obs.Containers[0].Networks = map[string]string{"bridge": "b1"}
	p := mustCompute(s, obs)
	want := map[string]string{
		"db networks":           "devarch-shop-net",
		"edge env.DB_HOST":      "devarch-shop-db",
		"edge env.DATABASE_URL": "postgres://postgres:(sensitive)@devarch-shop-db:5432/shop",
	}
	for _, c := range p.Changes {
		for _, f := range c.Fields {
			key := c.Instance + " " + f.Path
			if w, ok := want[key]; ok {
				if got := deref(f.New); got != w {
					t.Errorf("%s new = %q, want %q", key, got, w)
				}
				delete(want, key)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("fields missing from the plan: %v\n%+v", want, p.Changes)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
