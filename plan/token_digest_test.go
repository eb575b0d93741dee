package plan

import (
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// withDigests returns s with content digests as the store sets them when
// it reads a stack (a SHA-256 of each row's stored content), so that Token
// takes its digest path.
func withDigests(s spec.Stack) spec.Stack {
	sum := func(v ...any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		d := sha256.Sum256(b)
		return d[:]
	}
	s.ContentDigest = sum(s.Wires, s.Variables)
	insts := make([]spec.Instance, len(s.Instances))
	copy(insts, s.Instances)
	for i := range insts {
		insts[i].ContentDigest = sum(insts[i].Overrides)
		if t := insts[i].Template; t != nil {
			c := *t
			c.ContentDigest = sum(c.Spec, c.Compose)
			insts[i].Template = &c
		}
	}
	s.Instances = insts
	return s
}

// TestDigestTokenChangesWithEveryItem: the token of a stack read from the
// store changes with each item it covers, and with each digest.
func TestDigestTokenChangesWithEveryItem(t *testing.T) {
	other := sha256.Sum256([]byte("other content"))
	edits := map[string]func(s *spec.Stack, p *project.Options){
		"stack id":           func(s *spec.Stack, _ *project.Options) { s.ID++ },
		"stack name":         func(s *spec.Stack, _ *project.Options) { s.Name = "shop2" },
		"stack network":      func(s *spec.Stack, _ *project.Options) { s.NetworkName = "n" },
		"stack enabled":      func(s *spec.Stack, _ *project.Options) { s.Enabled = false },
		"stack engine":       func(s *spec.Stack, _ *project.Options) { s.Engine = "edge" },
		"stack subnet":       func(s *spec.Stack, _ *project.Options) { s.Subnet = "10.128.3.0/24" },
		"stack content":      func(s *spec.Stack, _ *project.Options) { s.ContentDigest = other[:] },
		"instance id":        func(s *spec.Stack, _ *project.Options) { s.Instances[0].ID = 77 },
		"instance name":      func(s *spec.Stack, _ *project.Options) { s.Instances[0].Name = "pg" },
		"instance enabled":   func(s *spec.Stack, _ *project.Options) { s.Instances[1].Enabled = false },
		"instance removed":   func(s *spec.Stack, _ *project.Options) { s.Instances = s.Instances[:1] },
		"instance overrides": func(s *spec.Stack, _ *project.Options) { s.Instances[0].ContentDigest = other[:] },
		"template id":        func(s *spec.Stack, _ *project.Options) { s.Instances[0].Template.ID = 99 },
		"template name":      func(s *spec.Stack, _ *project.Options) { s.Instances[0].Template.Name = "pg" },
		"template category":  func(s *spec.Stack, _ *project.Options) { s.Instances[0].Template.Category = "other" },
		"template content":   func(s *spec.Stack, _ *project.Options) { s.Instances[0].Template.ContentDigest = other[:] },
		"template dropped":   func(s *spec.Stack, _ *project.Options) { s.Instances[0].Template = nil },
		"state dir":          func(_ *spec.Stack, p *project.Options) { p.StateDir = "/srv/other" },
		"workspace dir":      func(_ *spec.Stack, p *project.Options) { p.WorkspaceDir = "/srv/other/ws" },
		"key id":             func(_ *spec.Stack, p *project.Options) { p.Keys.Current.ID++ },
		"key secret": func(_ *spec.Stack, p *project.Options) {
			p.Keys.Current.Secret = []byte("another-installation-secret-0003")
		},
		"build context":         func(_ *spec.Stack, p *project.Options) { p.Builds = map[int64]project.BuildContext{1: {Digest: "a"}} },
		"build context changed": func(_ *spec.Stack, p *project.Options) { p.Builds = map[int64]project.BuildContext{1: {Digest: "b"}} },
		"build context error":   func(_ *spec.Stack, p *project.Options) { p.Builds = map[int64]project.BuildContext{1: {Err: "a"}} },
	}
	base := Token(Desired{Stack: withDigests(shopStack()), Paths: testPaths})
	if full := tok(shopStack()); full == base {
		t.Fatal("the digest token equals the token of the encoded content")
	}
	seen := map[string]string{base: "base"}
	for name, edit := range edits {
		s := withDigests(shopStack())
		p := testPaths
		p.Keys.Current.Secret = append([]byte(nil), testPaths.Keys.Current.Secret...)
		edit(&s, &p)
		got := Token(Desired{Stack: s, Paths: p})
		if !hasDigests(s) {
			t.Errorf("%s: the edited stack lost its digests", name)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%s: token equals that of %s", name, other)
		}
		seen[got] = name
	}
	// Instance order does not matter.
	s := withDigests(shopStack())
	s.Instances[0], s.Instances[1] = s.Instances[1], s.Instances[0]
	if got := Token(Desired{Stack: s, Paths: testPaths}); got != base {
		t.Error("reordering the instances changed the digest token")
	}
}

// TestTokenWithoutEveryDigestEncodesTheContent: one instance or template
// without a digest (built in memory, or changed after it was read) makes
// the token encode the whole content, so a stale digest elsewhere cannot
// hide the change.
func TestTokenWithoutEveryDigestEncodesTheContent(t *testing.T) {
	full := tok(shopStack())
	for name, drop := range map[string]func(s *spec.Stack){
		"stack":    func(s *spec.Stack) { s.ContentDigest = nil },
		"instance": func(s *spec.Stack) { s.Instances[1].ContentDigest = nil },
		"template": func(s *spec.Stack) { s.Instances[0].Template.ContentDigest = nil },
	} {
		s := withDigests(shopStack())
		drop(&s)
		if got := tok(s); got != full {
			t.Errorf("a stack whose %s has no digest: token %s, want the encoded content's %s", name, got, full)
		}
	}
}
