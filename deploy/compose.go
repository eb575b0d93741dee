package deploy

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/client"
	"github.com/sirupsen/logrus"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// Progress is one step of an apply, for the CLI, the API stream and the
// approval row: which container, what happened, how it ended.
type Progress struct {
	Time      time.Time `json:"time"`
	Container string    `json:"container"`
	Action    string    `json:"action"`
	Status    string    `json:"status"`
	Message   string    `json:"message,omitempty"`
}

// Progress statuses.
const (
	ProgressWorking = "working"
	ProgressDone    = "done"
	ProgressWarning = "warning"
	ProgressError   = "error"
)

// ProgressFunc receives progress events. It must not block for long.
type ProgressFunc func(Progress)

// newCompose returns an in-process compose service talking to the engine
// of opts (its host and TLS files; see endpoint.composeOptions), sending
// its events to bus, its text output to out and its questions to prompt.
// Its logrus lines go to zap (see composeLogs) at level.
// A non-nil engine is the client compose uses instead of its own.
func newCompose(opts *flags.ClientOptions, bus api.EventProcessor, out io.Writer, prompt compose.Prompt, level logrus.Level, engine client.APIClient) (api.Compose, error) {
	cliOpts := []command.CLIOption{command.WithOutputStream(out), command.WithErrorStream(out)}
	if engine != nil {
		cliOpts = append(cliOpts, command.WithAPIClient(engine))
	}
	cli, err := command.NewDockerCli(cliOpts...)
	if err != nil {
		return nil, fmt.Errorf("create docker cli: %w", err)
	}
	// Initialize sets logrus's process-wide level from LogLevel ("" means
	// info); keep the level composeLogs needs.
	opts.LogLevel = level.String()
	if err := cli.Initialize(opts); err != nil {
		return nil, fmt.Errorf("initialize docker cli: %w", err)
	}
	return compose.NewComposeService(cli, compose.WithEventProcessor(bus), compose.WithOutputStream(out), compose.WithErrorStream(out),
		compose.WithPrompt(prompt))
}

// composeSession is one compose run for a stack's apply: the in-process
// compose service, its event bus, its text output, and the log every
// message of compose goes to, with the stack and the approval.
type composeSession struct {
	svc api.Compose
	bus *eventBus
	out bytes.Buffer
	log *zap.Logger
	// scrub hides the stack's secret values in what is logged.
	scrub      spec.Scrubber
	unregister func()
}

// newComposeSession starts a compose session for stack s (built as p):
// from now until close, compose's log lines that name the stack's
// resources go to the apply's log (see composeLogs).
func (r *Runtime) newComposeSession(ctx context.Context, s spec.Stack, p *project.Project, o ApplyOptions, progress ProgressFunc) (*composeSession, error) {
	engine, err := r.composeClient(ctx)
	if err != nil {
		return nil, err
	}
	cs := &composeSession{log: r.applyLog(s, o), scrub: s.Scrubber()}
	cs.bus = newEventBus(progress, time.Now)
	cs.bus.stack = s.Name
	cs.unregister = composeLogs.register(&composeLogSession{
		stack: s.Name, approvalID: o.ApprovalID, names: resourceNames(s, p), log: cs.log,
		secrets: s.SecretValues(), idents: s.Identifiers(), scrub: cs.scrub,
	})
	svc, err := newCompose(r.ep.composeOptions(r.cli.DaemonHost()), cs.bus, &cs.out, cs.prompt, logrusLevel(r.log), engine)
	if err != nil {
		cs.unregister()
		return nil, err
	}
	cs.svc = svc
	return cs, nil
}

// close ends the session. Text compose printed on an apply that succeeded
// is logged (a failed apply keeps it in Result.ComposeOutput).
func (cs *composeSession) close(failed bool) {
	cs.unregister()
	if text := strings.TrimSpace(cs.out.String()); text != "" && !failed {
		cs.log.Info("compose output", zap.String("library", "compose"), zap.String("output", cs.scrub.Scrub(text)))
	}
}

// prompt answers compose's questions. Compose asks before it destroys
// data (in compose up: "Volume … exists but doesn't match configuration
// in compose file. Recreate (data will be lost)?"); the controller never
// destroys a volume, or anything else that holds data, without a planned,
// approved change, and no plan ever contains such a change: the answer
// is always no. The question and the answer are logged and reported as a
// warning progress event (and so in the approval's history).
func (cs *composeSession) prompt(question string, defaultAnswer bool) (bool, error) {
	question = cs.scrub.Scrub(strings.TrimSpace(question))
	cs.log.Warn("compose asked to confirm a destructive step; answered no",
		zap.String("library", "compose"), zap.String("question", question), zap.Bool("compose_default", defaultAnswer))
	id := "compose"
	if m := volumeQuestion.FindStringSubmatch(question); m != nil {
		id = "Volume " + m[1]
	}
	cs.bus.On(api.Resource{ID: id, Status: api.Warning, Text: "Recreate declined",
		Details: "compose asked: " + question + " The controller answered no: it never destroys a volume or other data without a planned, approved change; the volume and its data are kept."})
	return false, nil
}

// volumeQuestion finds the volume compose asks about.
var volumeQuestion = regexp.MustCompile(`^Volume "([^"]+)"`)

// resourceNames are the names compose may quote in a log line about stack
// s: its compose project, network, containers (of every instance, also
// those being removed) and volumes.
func resourceNames(s spec.Stack, p *project.Project) []string {
	names := []string{p.Name, s.Network()}
	for _, n := range p.Networks {
		names = append(names, n.Name)
	}
	for _, inst := range s.Instances {
		names = append(names, spec.ContainerName(s.Name, inst.Name))
	}
	for _, v := range p.Volumes {
		names = append(names, v.Name)
	}
	return names
}

// applyLog is the log of one apply: the runtime's, with the stack and,
// for an apply of an approval, its id.
func (r *Runtime) applyLog(s spec.Stack, o ApplyOptions) *zap.Logger {
	log := r.log.With(zap.String("stack", s.Name))
	if o.ApprovalID != 0 {
		log = log.With(zap.Int64("approval_id", o.ApprovalID))
	}
	return log
}

// eventBus adapts compose's EventProcessor to a ProgressFunc and remembers
// every container's last status, from which the apply result is derived.
type eventBus struct {
	mu       sync.Mutex
	progress ProgressFunc
	now      func() time.Time
	// byContainer maps a container (compose resource id) to the statuses
	// it went through, in order.
	byContainer map[string][]string
	errors      []string
	// stack names the stack being applied, for displayName.
	stack string
}

func newEventBus(progress ProgressFunc, now func() time.Time) *eventBus {
	return &eventBus{progress: progress, now: now, byContainer: map[string][]string{}}
}

// displayName turns compose's resource ids into what users see: a
// container's name ("Container devarch-shop-web" → "devarch-shop-web"), a
// service's errors under its container's name ("service:web:1" →
// "devarch-shop-web"), volumes and networks with their kind in lower case.
func (b *eventBus) displayName(id string) string {
	if name, ok := strings.CutPrefix(id, "Container "); ok {
		return name
	}
	if rest, ok := strings.CutPrefix(id, "service:"); ok && b.stack != "" {
		svc, _, _ := strings.Cut(rest, ":")
		return spec.ContainerName(b.stack, svc)
	}
	for _, kind := range []string{"Volume ", "Network "} {
		if name, ok := strings.CutPrefix(id, kind); ok {
			return strings.ToLower(strings.TrimSpace(kind)) + " " + name
		}
	}
	return id
}

func (b *eventBus) Start(context.Context, string) {}

// Done is called when a compose operation ends. Note: compose v5.6.0 passes
// success inverted (true means failed); the controller relies on Up's error
// return instead, so the flag is ignored here.
func (b *eventBus) Done(string, bool) {}

func (b *eventBus) On(events ...api.Resource) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range events {
		status := ProgressWorking
		switch e.Status {
		case api.Done:
			status = ProgressDone
		case api.Warning:
			status = ProgressWarning
		case api.Error:
			status = ProgressError
			b.errors = append(b.errors, e.ID+": "+cmp.Or(e.Details, e.Text))
		}
		history := b.byContainer[e.ID]
		if n := len(history); n > 0 && history[n-1] == e.Text && e.Status != api.Error {
			continue // compose repeats some events (a volume shared by services); report each step once
		}
		b.byContainer[e.ID] = append(history, e.Text)
		if b.progress != nil {
			b.progress(Progress{Time: b.now(), Container: b.displayName(e.ID), Action: e.Text, Status: status, Message: e.Details})
		}
	}
}

func (b *eventBus) errorTexts() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.errors)
}
