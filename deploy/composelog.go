package deploy

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/devarch/devarch-controller/spec"
)

// The compose library (and the docker CLI code it runs on) logs through
// logrus's standard logger, a process-wide value, and by default prints
// those lines raw on stderr. Runtime routes them into zap instead: the
// standard logger's output is discarded and a hook hands every entry to
// composeLogs, which writes it to the log of the apply it belongs to, with
// that apply's stack and approval_id.
//
// The standard logger cannot say which apply a line comes from: compose
// logs from goroutines of its own, without a context, and two stacks may
// be applied at once (workers > 1). composeLogs attributes a line by the
// names it quotes: each running compose session registers the names of
// its stack's resources (its compose project, network, containers and
// volumes), and a line that quotes, as a whole word, the names of exactly
// one running session is that session's. A line that quotes no devarch
// name at all is attributed to the only running session when there is
// one. Otherwise it is logged once without a stack: with the candidate
// stacks and approvals in "stacks" and "approval_ids" when several
// sessions may have written it (a line quoting only a service name, such
// as a dependency warning, while two stacks are applied), with neither
// when it names resources of no running session (a late line of an apply
// that ended). Every line is scrubbed of the secret values of every
// running session and of every session that ended within endedLinger,
// whichever session it is attributed to.
//
// Compose's questions (prompts) never go through logrus: each session
// answers them itself (see composeSession.prompt).
//
// composeLogs is the module's one package-level variable holding state
// (internal/lint allows it by name): it adapts logrus's standard logger,
// itself process-wide, and one router must see every running session of
// the process so that each line is scrubbed of all their secrets. Its
// fields are written only under its mutex.
var composeLogs = &composeLogRouter{sessions: map[*composeLogSession]struct{}{}, fallback: zap.NewNop()}

// routeComposeLogs sends logrus's standard logger to composeLogs (once
// per process) and makes log the logger of lines that belong to no compose
// session (until the next runtime is created or this one is closed).
// Debug lines reach zap only when log enables debug.
func routeComposeLogs(log *zap.Logger) {
	composeLogs.install.Do(func() {
		std := logrus.StandardLogger()
		std.SetOutput(io.Discard)
		std.SetFormatter(discardFormatter{})
		std.AddHook(composeLogs)
	})
	composeLogs.mu.Lock()
	composeLogs.fallback = log
	composeLogs.mu.Unlock()
	logrus.SetLevel(logrusLevel(log))
}

// logrusLevel is the logrus level that lets through what log enables.
// The docker CLI resets logrus's level when compose starts; newCompose
// passes this level to it.
func logrusLevel(log *zap.Logger) logrus.Level {
	if log.Core().Enabled(zapcore.DebugLevel) {
		return logrus.DebugLevel
	}
	return logrus.InfoLevel
}

// discardFormatter formats nothing: every entry already went to zap
// through the hook, and the output is discarded.
type discardFormatter struct{}

func (discardFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }

// composeLogRouter is a logrus hook that writes each entry to the zap
// logger of the compose session it belongs to.
type composeLogRouter struct {
	// install hooks the router into logrus's standard logger, once.
	install  sync.Once
	mu       sync.Mutex
	sessions map[*composeLogSession]struct{}
	ended    []endedSession // recently ended sessions, still scrubbed
	fallback *zap.Logger
}

// composeLogSession is what the router knows of one running compose
// session.
type composeLogSession struct {
	stack      string
	approvalID int64
	// names are the names of the stack's resources as compose quotes them.
	names []string
	// log carries the stack and approval_id.
	log *zap.Logger
	// secrets and idents make the scrubber of the stack's lines (see
	// spec.NewScrubber); scrub is that scrubber.
	secrets, idents []string
	scrub           spec.Scrubber
}

// forgetFallback stops sending lines logged outside a session to log (a
// runtime that closed; its logger may end with it, as a test's does).
func (r *composeLogRouter) forgetFallback(log *zap.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fallback == log {
		r.fallback = zap.NewNop()
	}
}

// endedLinger is how long the secrets of a session that ended are still
// scrubbed from lines: compose may log a little after an apply returned.
const endedLinger = 30 * time.Second

// register adds a running session; the returned function removes it.
func (r *composeLogRouter) register(s *composeLogSession) func() {
	r.mu.Lock()
	r.sessions[s] = struct{}{}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.sessions, s)
		r.ended = append(r.ended, endedSession{session: s, at: time.Now()})
		r.mu.Unlock()
	}
}

// endedSession is a session that ended at at.
type endedSession struct {
	session *composeLogSession
	at      time.Time
}

// scrubberLocked is the scrubber of every line: the secrets of every
// running session and of those that ended within endedLinger, whichever
// session the line is attributed to (attribution by names can be wrong;
// hiding cannot be skipped). Called with r.mu held.
func (r *composeLogRouter) scrubberLocked() spec.Scrubber {
	cut := time.Now().Add(-endedLinger)
	r.ended = slices.DeleteFunc(r.ended, func(e endedSession) bool { return e.at.Before(cut) })
	var secrets, idents []string
	add := func(s *composeLogSession) {
		secrets = append(secrets, s.secrets...)
		idents = append(idents, s.idents...)
	}
	for s := range r.sessions {
		add(s)
	}
	for _, e := range r.ended {
		add(e.session)
	}
	return spec.NewScrubber(secrets, idents)
}

// Levels implements logrus.Hook: every level.
func (r *composeLogRouter) Levels() []logrus.Level { return logrus.AllLevels }

// Fire implements logrus.Hook. It never fails: logrus would print the
// failure on stderr.
func (r *composeLogRouter) Fire(e *logrus.Entry) error {
	log, fields, scrub := r.attribute(e.Message)
	level := zapLevel(e.Level)
	if !log.Core().Enabled(level) {
		return nil
	}
	fields = append(fields, zap.String("library", "compose"))
	if len(e.Data) > 0 {
		data := make(map[string]string, len(e.Data))
		for k, v := range e.Data {
			data[k] = scrub.Scrub(fmt.Sprint(v))
		}
		fields = append(fields, zap.Any("compose_fields", data))
	}
	if ce := log.Check(level, scrub.Scrub(strings.TrimSpace(e.Message))); ce != nil {
		ce.Write(fields...)
	}
	return nil
}

// attribute picks the logger of the session a message belongs to (see
// composeLogs), the fields to add, and the scrubber of every line (see
// scrubberLocked).
func (r *composeLogRouter) attribute(msg string) (*zap.Logger, []zap.Field, spec.Scrubber) {
	r.mu.Lock()
	defer r.mu.Unlock()
	scrub := r.scrubberLocked()
	// Attribute by the names the line quotes once secrets are hidden: a
	// secret that looks like a resource name names nothing.
	msg = scrub.Scrub(msg)
	var quoted []*composeLogSession
	for s := range r.sessions {
		if slices.ContainsFunc(s.names, func(name string) bool { return quotesName(msg, name) }) {
			quoted = append(quoted, s)
		}
	}
	candidates := quoted
	if len(candidates) == 0 && !quotesProjectPrefix(msg) {
		for s := range r.sessions {
			candidates = append(candidates, s)
		}
	}
	switch len(candidates) {
	case 0:
		return r.fallback, nil, scrub
	case 1:
		return candidates[0].log, nil, scrub
	}
	slices.SortFunc(candidates, func(a, b *composeLogSession) int { return strings.Compare(a.stack, b.stack) })
	var stacks []string
	var approvals []int64
	for _, s := range candidates {
		stacks = append(stacks, s.stack)
		approvals = append(approvals, s.approvalID)
	}
	return r.fallback, []zap.Field{zap.Strings("stacks", stacks), zap.Int64s("approval_ids", approvals)}, scrub
}

// quotesName reports whether msg contains name as a whole word: not
// preceded or followed by a character that may continue a resource name
// (so "devarch-a" is not found in "devarch-a-b" or "devarch-a_data"); a
// full stop after the name ends it when a sentence ends there.
func quotesName(msg, name string) bool {
	for i := 0; name != ""; {
		j := strings.Index(msg[i:], name)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(name)
		if (start == 0 || !isNameByte(msg[start-1])) && endsWord(msg, end) {
			return true
		}
		i = start + 1
	}
	return false
}

// quotesProjectPrefix reports whether msg quotes a word that begins like
// a devarch resource name ("devarch-"): such a line that names no running
// session's resource is about another stack (a late line of an apply that
// ended), not about the one running now.
func quotesProjectPrefix(msg string) bool {
	prefix := spec.ProjectName("")
	for i := 0; ; {
		j := strings.Index(msg[i:], prefix)
		if j < 0 {
			return false
		}
		start := i + j
		// The program's own name (its default state directory) is not a
		// resource of another stack.
		if (start == 0 || !isNameByte(msg[start-1])) && !strings.HasPrefix(msg[start:], spec.ControllerName) {
			return true
		}
		i = start + 1
	}
}

// endsWord reports whether a name may end at msg[end]: at the end, before
// a character that cannot continue a name, or before a full stop that
// ends a sentence.
func endsWord(msg string, end int) bool {
	if end < len(msg) && msg[end] == '.' {
		end++
	}
	return end == len(msg) || !isNameByte(msg[end])
}

func isNameByte(c byte) bool {
	return c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func zapLevel(l logrus.Level) zapcore.Level {
	switch l {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		return zapcore.ErrorLevel
	case logrus.WarnLevel:
		return zapcore.WarnLevel
	case logrus.InfoLevel:
		return zapcore.InfoLevel
	}
	return zapcore.DebugLevel
}
