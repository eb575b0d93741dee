package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// Apply phases, in order. They name the duration metrics and the phase of
// an ApplyError.
const (
	PhaseBuild   = "build"
	PhaseNetwork = "network"
	PhaseConfigs = "configs"
	PhaseCompose = "compose"
	PhaseTotal   = "total"
)

// ApplyOptions configure an apply.
type ApplyOptions struct {
	// Paths say where config files are materialized and where relative
	// bind mounts resolve (the same values the plan was computed with).
	Paths project.Options
	// PullPolicy is compose's pull policy for every service: "missing"
	// (default: pull only absent images), "never" (fail on a missing
	// image without contacting a registry), "always".
	PullPolicy string
	// StopTimeout bounds how long a container may take to stop before it
	// is killed (default: compose's 10 s).
	StopTimeout time.Duration
	// BeforePhase, when set, is called before each phase that changes the
	// engine or the state directory (network, configs, compose). An error
	// stops the apply before that phase: it fails with an *ApplyError of
	// that phase wrapping the error, and the phase does nothing. The
	// reconcile loop confirms its stack lock here.
	BeforePhase func(ctx context.Context, phase string) error

	// ApprovalID is the approval being applied (0: none). Every log line
	// of the apply, compose's included, carries it as approval_id.
	ApprovalID int64

	// OrphanStack, when set, reports whether a stack id is not in the
	// desired state's database: a network of such a stack, holding the
	// stack's network name with no container attached, is adopted (see
	// adoptOrphanNetwork). Without it such a network is refused.
	OrphanStack func(ctx context.Context, stackID int64) (bool, error)
}

// Result says what an apply did. It holds no secret.
type Result struct {
	NetworkCreated bool     `json:"network_created"`
	ConfigFiles    int      `json:"config_files"`
	Created        []string `json:"created"`
	Recreated      []string `json:"recreated"`
	Started        []string `json:"started"`
	Restarted      []string `json:"restarted"`
	Removed        []string `json:"removed"`
	// Built are the tags of the images the apply built.
	Built     []string                 `json:"built,omitempty"`
	Durations map[string]time.Duration `json:"durations"`
	// ComposeOutput is compose's error output when the compose phase
	// failed, kept for the approval row and the dashboard.
	ComposeOutput string `json:"compose_output,omitempty"`
	// Mismatches are how the engine after a successful apply differs from
	// what the apply's plan predicted (see plan.Verify); none when it did
	// what the plan said. The reconcile loop fills them in.
	Mismatches []plan.Mismatch `json:"mismatches,omitempty"`
	// NetworksCreated are the stack's other networks the apply created.
	NetworksCreated []string `json:"networks_created,omitempty"`
}

// ApplyError says which phase of an apply failed. Nothing after that phase
// ran; see Apply for what each failure leaves behind.
type ApplyError struct {
	Phase string
	Err   error
}

func (e *ApplyError) Error() string { return e.Phase + ": " + e.Err.Error() }
func (e *ApplyError) Unwrap() error { return e.Err }

// Apply converges a stack's containers to its desired state: build the
// images of instances that build theirs (see buildImages), ensure the
// stack's networks (its own, the others it owns, and that the external
// ones exist), materialize its config files, then compose up in
// process with orphan removal (removed and disabled instances go away).
// The caller holds the stack's advisory lock.
//
// Failures follow devarch's error model and return an *ApplyError:
//   - build, images or network: no container was touched (images built
//     before a failed build stay, tagged);
//   - configs: partial files were removed, the previous files are intact;
//   - compose: config files are kept for debugging, Result.ComposeOutput
//     holds the engine's error text; containers already changed stay as
//     they are (no rollback).
//
// Secrets reach the containers but never the logs, the progress events or
// the result.
func (r *Runtime) Apply(ctx context.Context, s spec.Stack, o ApplyOptions, progress ProgressFunc) (Result, error) {
	defer r.applies.Add(1)
	if s.Deleting {
		return r.Remove(ctx, s, o, progress)
	}
	start := time.Now()
	res := Result{Durations: map[string]time.Duration{}, Created: []string{}, Recreated: []string{}, Started: []string{}, Restarted: []string{}, Removed: []string{}}
	defer func() { res.Durations[PhaseTotal] = time.Since(start) }()
	log := r.applyLog(s, o)
	emit := func(container, action, status, msg string) {
		if progress != nil {
			progress(Progress{Time: time.Now(), Container: container, Action: action, Status: status, Message: msg})
		}
	}

	p, err := project.Build(s, o.Paths)
	if err != nil {
		return res, &ApplyError{Phase: PhaseBuild, Err: err}
	}
	for name, svc := range p.Services {
		svc.PullPolicy = o.PullPolicy
		p.Services[name] = svc
	}

	if err := r.applyImages(ctx, s, o, log, emit, &res); err != nil {
		return res, err
	}

	if err := o.beforePhase(ctx, PhaseNetwork); err != nil {
		return res, err
	}
	t := time.Now()
	emit("network "+s.Network(), "ensure", ProgressWorking, "")
	created, err := r.ensureOwnNetwork(ctx, s)
	if adopted, aerr := r.adoptOrphanNetwork(ctx, s, err, o.OrphanStack, emit); aerr != nil {
		err = aerr
	} else if adopted {
		created, err = r.ensureOwnNetwork(ctx, s)
	}
	res.Durations[PhaseNetwork] = time.Since(t)
	if err != nil {
		emit("network "+s.Network(), "ensure", ProgressError, err.Error())
		return res, &ApplyError{Phase: PhaseNetwork, Err: err}
	}
	res.NetworkCreated = created
	emit("network "+s.Network(), map[bool]string{true: "created", false: "exists"}[created], ProgressDone, "")
	nets, _ := project.Networks(s)
	t = time.Now()
	res.NetworksCreated, err = r.EnsureStackNetworks(ctx, s, nets, func(name, action, status, msg string) { emit("network "+name, action, status, msg) })
	res.Durations[PhaseNetwork] += time.Since(t)
	if err != nil {
		return res, &ApplyError{Phase: PhaseNetwork, Err: err}
	}

	if err := o.beforePhase(ctx, PhaseConfigs); err != nil {
		return res, err
	}
	t = time.Now()
	mat, err := MaterializeConfigs(ctx, o.Paths.StateDir, s)
	res.Durations[PhaseConfigs] = time.Since(t)
	if err != nil {
		emit("config files", "write", ProgressError, err.Error())
		return res, &ApplyError{Phase: PhaseConfigs, Err: err}
	}
	res.ConfigFiles = len(mat.Files)
	emit("config files", "write", ProgressDone, fmt.Sprintf("%d file(s)", len(mat.Files)))

	if err := o.beforePhase(ctx, PhaseCompose); err != nil {
		return res, err
	}
	t = time.Now()
	err = r.composeUp(ctx, s, p, o, progress, &res)
	res.Durations[PhaseCompose] = time.Since(t)
	if err != nil {
		// compose and engine errors can quote the spec (an entrypoint, a
		// command): scrub the stack's secrets before logging.
		log.Warn("compose up failed", zap.NamedError("err", errors.New(s.Scrubber().Scrub(err.Error()))))
		return res, &ApplyError{Phase: PhaseCompose, Err: err}
	}
	log.Info("stack applied",
		zap.Int("created", len(res.Created)), zap.Int("recreated", len(res.Recreated)),
		zap.Int("started", len(res.Started)), zap.Int("removed", len(res.Removed)))
	return res, nil
}

// beforePhase runs the BeforePhase hook, then checks ctx: a phase never
// starts once the apply's context is done.
func (o ApplyOptions) beforePhase(ctx context.Context, phase string) error {
	if o.BeforePhase != nil {
		if err := o.BeforePhase(ctx, phase); err != nil {
			return &ApplyError{Phase: phase, Err: fmt.Errorf("not started: %w", err)}
		}
	}
	if err := ctx.Err(); err != nil {
		return &ApplyError{Phase: phase, Err: fmt.Errorf("not started: %w", context.Cause(ctx))}
	}
	return nil
}

// composeUp runs compose up for the project, removes containers of the
// stack that belong to another compose project (left behind by a stack
// rename) and restarts unhealthy containers.
func (r *Runtime) composeUp(ctx context.Context, s spec.Stack, p *project.Project, o ApplyOptions, progress ProgressFunc, res *Result) (err error) {
	cs, err := r.newComposeSession(ctx, s, p, o, progress)
	if err != nil {
		return err
	}
	defer func() { cs.close(err != nil) }()
	svc, bus := cs.svc, cs.bus
	create := api.CreateOptions{RemoveOrphans: true, Recreate: api.RecreateDiverged, RecreateDependencies: api.RecreateDiverged}
	if o.StopTimeout > 0 {
		create.Timeout = &o.StopTimeout
	}
	if err := r.removeStrays(ctx, s, p.Name, bus); err != nil {
		return err
	}
	if err := r.unpause(ctx, s, bus, res); err != nil {
		return err
	}
	if err := r.removeRetired(ctx, s, o.StopTimeout, bus); err != nil {
		return err
	}
	if len(p.Services) == 0 {
		err = svc.Down(ctx, p.Name, api.DownOptions{RemoveOrphans: true, Project: p.Project, Timeout: create.Timeout})
	} else {
		if err := r.checkExternalVolumes(ctx, p); err != nil {
			res.ComposeOutput = err.Error()
			return err
		}
		r.keepVolumes(ctx, s, bus, cs.log)
		err = svc.Up(ctx, p.Project, api.UpOptions{Create: create, Start: api.StartOptions{Project: p.Project}})
	}
	bus.summarize(res)
	if err != nil {
		res.ComposeOutput = composeOutput(err, bus, &cs.out)
		return errors.New(res.ComposeOutput)
	}
	return r.restartUnhealthy(ctx, s, bus, res)
}

// composeOutput is the error text kept for the user: compose's error, the
// per-container errors it reported, and what it printed.
func composeOutput(err error, bus *eventBus, out *bytes.Buffer) string {
	parts := []string{err.Error()}
	for _, e := range bus.errorTexts() {
		if !strings.Contains(parts[0], e) {
			parts = append(parts, e)
		}
	}
	if text := strings.TrimSpace(out.String()); text != "" {
		parts = append(parts, text)
	}
	return strings.Join(parts, "\n")
}

// removeStrays removes containers labeled with the stack's id that belong
// to another compose project: compose's orphan removal only sees its own
// project, and a renamed stack has a new project name.
func (r *Runtime) removeStrays(ctx context.Context, s spec.Stack, projectName string, bus *eventBus) error {
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+fmt.Sprint(s.ID))
	list, err := r.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		return fmt.Errorf("list containers of stack %q: %w", s.Name, err)
	}
	for _, c := range list.Items {
		if c.Labels[api.ProjectLabel] == projectName {
			continue
		}
		name := "Container " + strings.TrimPrefix(firstName(c.Names), "/")
		bus.On(api.Resource{ID: name, Status: api.Working, Text: api.StatusRemoving})
		if _, err := r.cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			return fmt.Errorf("remove container %s of stack %q left by a rename: %w", name, s.Name, err)
		}
		bus.On(api.Resource{ID: name, Status: api.Done, Text: api.StatusRemoved})
	}
	return nil
}

// unpause unpauses the stack's paused containers before compose up, which
// would try to start them and fail ("cannot start a paused container").
func (r *Runtime) unpause(ctx context.Context, s spec.Stack, bus *eventBus, res *Result) error {
	f := make(client.Filters).Add("label", spec.LabelStackID+"="+fmt.Sprint(s.ID)).Add("status", "paused")
	list, err := r.cli.ContainerList(ctx, client.ContainerListOptions{Filters: f})
	if err != nil {
		return fmt.Errorf("list paused containers of stack %q: %w", s.Name, err)
	}
	for _, c := range list.Items {
		name := strings.TrimPrefix(firstName(c.Names), "/")
		bus.On(api.Resource{ID: "Container " + name, Status: api.Working, Text: "Unpausing"})
		if _, err := r.cli.ContainerUnpause(ctx, c.ID, client.ContainerUnpauseOptions{}); err != nil {
			return fmt.Errorf("unpause container %s: %w", name, err)
		}
		bus.On(api.Resource{ID: "Container " + name, Status: api.Done, Text: "Unpaused"})
		res.Started = append(res.Started, name)
	}
	return nil
}

// restartUnhealthy restarts the stack's containers that report unhealthy
// or are in a restart loop (state restarting): compose up leaves them
// alone, the plan promises a restart.
func (r *Runtime) restartUnhealthy(ctx context.Context, s spec.Stack, bus *eventBus, res *Result) error {
	stack := make(client.Filters).Add("label", spec.LabelStackID+"="+fmt.Sprint(s.ID))
	unhealthy, err := r.cli.ContainerList(ctx, client.ContainerListOptions{Filters: stack.Clone().Add("health", "unhealthy")})
	if err != nil {
		return fmt.Errorf("list unhealthy containers of stack %q: %w", s.Name, err)
	}
	looping, err := r.restartingContainers(ctx, stack)
	if err != nil {
		return fmt.Errorf("list restarting containers of stack %q: %w", s.Name, err)
	}
	seen := map[string]bool{}
	for _, c := range slices.Concat(unhealthy.Items, looping) {
		if seen[c.ID] {
			continue
		}
		seen[c.ID] = true
		name := strings.TrimPrefix(firstName(c.Names), "/")
		bus.On(api.Resource{ID: "Container " + name, Status: api.Working, Text: api.StatusRestarting})
		if _, err := r.cli.ContainerRestart(ctx, c.ID, client.ContainerRestartOptions{}); err != nil {
			return fmt.Errorf("restart unhealthy container %s: %w", name, err)
		}
		bus.On(api.Resource{ID: "Container " + name, Status: api.Done, Text: api.StatusRestarted})
		res.Restarted = append(res.Restarted, name)
	}
	return nil
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// summarize fills the result's created/recreated/started/removed lists
// from the containers' status history.
func (b *eventBus) summarize(res *Result) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, statuses := range b.byContainer {
		name, ok := strings.CutPrefix(id, "Container ")
		if !ok {
			continue
		}
		switch {
		case slices.Contains(statuses, "Recreated"):
			res.Recreated = append(res.Recreated, name)
		case slices.Contains(statuses, api.StatusCreated):
			res.Created = append(res.Created, name)
		case slices.Contains(statuses, api.StatusRemoved):
			res.Removed = append(res.Removed, name)
		case slices.Contains(statuses, api.StatusStarted):
			res.Started = append(res.Started, name)
		}
	}
	for _, l := range [][]string{res.Created, res.Recreated, res.Started, res.Removed} {
		slices.Sort(l)
	}
}
