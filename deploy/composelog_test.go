package deploy

import (
	"slices"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/devarch/devarch-controller/spec"
)

func TestQuotesName(t *testing.T) {
	tests := []struct {
		msg, name string
		want      bool
	}{
		{`volume "devarch-a_data" already exists`, "devarch-a_data", true},
		{`volume "devarch-a_data" already exists`, "devarch-a", false},
		{`container devarch-a-b is missing`, "devarch-a", false},
		{`container devarch-a-b is missing`, "devarch-a-b", true},
		{`devarch-a`, "devarch-a", true},
		{`x devarch-a-b, then devarch-a.`, "devarch-a", true},
		{`project "devarch-a"`, "devarch-a", true},
		{`devarch-ab`, "devarch-a", false},
		{`anything`, "", false},
	}
	for _, tt := range tests {
		if got := quotesName(tt.msg, tt.name); got != tt.want {
			t.Errorf("quotesName(%q, %q) = %v, want %v", tt.msg, tt.name, got, tt.want)
		}
	}
}

// TestComposeLogRouterAttributesLines feeds logrus entries to a router
// with sessions of two stacks whose names nest ("a" and "a-b"): each line
// goes to the session whose resource it names, with its stack and
// approval; a line that names none of them, while both run, goes once to
// the fallback log with both candidates; secrets of the candidates are
// scrubbed.
func TestComposeLogRouterAttributesLines(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	base := zap.New(core)
	r := &composeLogRouter{sessions: map[*composeLogSession]struct{}{}, fallback: base.With(zap.String("component", "deploy"))}
	session := func(stack string, approval int64, names []string, secrets []string) *composeLogSession {
		return &composeLogSession{stack: stack, approvalID: approval, names: names, secrets: secrets, idents: names, scrub: spec.NewScrubber(secrets, names),
			log: base.With(zap.String("stack", stack), zap.Int64("approval_id", approval))}
	}
	a := session("a", 1, []string{"devarch-a", "devarch-a-net", "devarch-a-b", "devarch-a_data"}, []string{"s3cret-of-a"})
	ab := session("a-b", 2, []string{"devarch-a-b", "devarch-a-b-net", "devarch-a-b-web", "devarch-a-b_data"}, []string{"s3cret-of-ab"})
	fire := func(level logrus.Level, msg string) {
		if err := r.Fire(&logrus.Entry{Level: level, Message: msg}); err != nil {
			t.Fatal(err)
		}
	}

	fire(logrus.WarnLevel, `no session runs`)
	unregisterA := r.register(a)
	fire(logrus.InfoLevel, `only one session runs`)
	fire(logrus.WarnLevel, `late line of another stack: devarch-gone_data`)
	unregisterAB := r.register(ab)
	fire(logrus.WarnLevel, `volume "devarch-a_data" already exists`)
	fire(logrus.WarnLevel, `volume "devarch-a-b_data" already exists`)
	fire(logrus.ErrorLevel, `network devarch-a-b-net is still in use`)
	fire(logrus.WarnLevel, `service "web" depends on "db" with password s3cret-of-ab`)
	fire(logrus.DebugLevel, `devarch-a-b`) // the container b of a, and the project of a-b
	unregisterA()
	unregisterAB()

	type line struct {
		msg, stack string
		approval   any
		stacks     any
		level      zapcore.Level
	}
	var got []line
	for _, e := range logs.All() {
		m := e.ContextMap()
		if m["library"] != "compose" {
			t.Errorf("line %q lacks library=compose: %v", e.Message, m)
		}
		stack, _ := m["stack"].(string)
		got = append(got, line{e.Message, stack, m["approval_id"], m["stacks"], e.Level})
	}
	both := []any{"a", "a-b"}
	want := []line{
		{`no session runs`, "", nil, nil, zapcore.WarnLevel},
		{`only one session runs`, "a", int64(1), nil, zapcore.InfoLevel},
		{`late line of another stack: devarch-gone_data`, "", nil, nil, zapcore.WarnLevel},
		{`volume "devarch-a_data" already exists`, "a", int64(1), nil, zapcore.WarnLevel},
		{`volume "devarch-a-b_data" already exists`, "a-b", int64(2), nil, zapcore.WarnLevel},
		{`network devarch-a-b-net is still in use`, "a-b", int64(2), nil, zapcore.ErrorLevel},
		{`service "web" depends on "db" with password (sensitive)`, "", nil, both, zapcore.WarnLevel},
		{`devarch-a-b`, "", nil, both, zapcore.DebugLevel},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		stacks, _ := g.stacks.([]any)
		wantStacks, _ := w.stacks.([]any)
		if g.msg != w.msg || g.stack != w.stack || g.approval != w.approval || !slices.Equal(stacks, wantStacks) || g.level != w.level {
			t.Errorf("line %d = %+v, want %+v", i, g, w)
		}
	}
}

// TestComposeLogRouterForgetsClosedRuntime: once the runtime whose log
// takes lines outside any apply is closed, such lines go nowhere (its
// logger may be gone, as a finished test's is).
func TestComposeLogRouterForgetsClosedRuntime(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	r := &composeLogRouter{sessions: map[*composeLogSession]struct{}{}, fallback: log}
	r.forgetFallback(zap.NewNop()) // another runtime: no effect
	_ = r.Fire(&logrus.Entry{Level: logrus.WarnLevel, Message: "before"})
	r.forgetFallback(log)
	_ = r.Fire(&logrus.Entry{Level: logrus.WarnLevel, Message: "after"})
	if got := messages(logs); !slices.Equal(got, []string{"before"}) {
		t.Errorf("logged %q, want only the line before the runtime closed", got)
	}
}

// TestComposeLogRouterScrubsEveryLine: whatever a line is attributed to —
// another stack's resource, no session at all, the program's state
// directory — the secrets of every running session, and of sessions that
// ended a moment ago, are hidden.
func TestComposeLogRouterScrubsEveryLine(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	base := zap.New(core)
	r := &composeLogRouter{sessions: map[*composeLogSession]struct{}{}, fallback: base}
	names := []string{"devarch-shop", "devarch-shop-net", "devarch-shop-db"}
	secrets := []string{"devarch-sonic-password"}
	shop := &composeLogSession{stack: "shop", approvalID: 7, names: names, secrets: secrets, idents: names,
		scrub: spec.NewScrubber(secrets, names), log: base.With(zap.String("stack", "shop"), zap.Int64("approval_id", 7))}
	fire := func(msg string) {
		if err := r.Fire(&logrus.Entry{Level: logrus.WarnLevel, Message: msg}); err != nil {
			t.Fatal(err)
		}
	}
	unregister := r.register(shop)
	fire(`invalid value SONIC_PASSWORD=devarch-sonic-password for devarch-other_data`)
	fire(`cannot read /root/.local/state/devarch-controller/stacks/shop/db/app.conf: devarch-sonic-password`)
	unregister()
	fire(`late line: devarch-sonic-password`)

	all := logs.All()
	if len(all) != 3 {
		t.Fatalf("%d lines, want 3", len(all))
	}
	for _, e := range all {
		if strings.Contains(e.Message, "devarch-sonic-password") {
			t.Errorf("line %q shows the secret", e.Message)
		}
	}
	if m := all[1].ContextMap(); m["stack"] != "shop" {
		t.Errorf("a line quoting the state directory went to %v, want the one running stack", m)
	}
}
