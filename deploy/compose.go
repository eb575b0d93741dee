package deploy

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"

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

// newCompose returns an in-process compose service talking to host ("" =
// DOCKER_HOST or the default socket), sending its events to bus and its
// text output to out.
func newCompose(host string, bus api.EventProcessor, out io.Writer) (api.Compose, error) {
	cli, err := command.NewDockerCli(command.WithOutputStream(out), command.WithErrorStream(out))
	if err != nil {
		return nil, fmt.Errorf("create docker cli: %w", err)
	}
	opts := flags.NewClientOptions()
	if host != "" {
		opts.Hosts = []string{host}
	}
	if err := cli.Initialize(opts); err != nil {
		return nil, fmt.Errorf("initialize docker cli: %w", err)
	}
	return compose.NewComposeService(cli, compose.WithEventProcessor(bus), compose.WithOutputStream(out), compose.WithErrorStream(out))
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
