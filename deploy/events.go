package deploy

import (
	"context"
	"maps"
	"time"

	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/spec"
)

// settleTimeout bounds the wait for the engine to finish handling a
// container's exit (see HandleEvent).
const settleTimeout = 30 * time.Second

// death is a die event the engine is still handling: its generation, the
// exit code it reported and the container's stack.
type death struct {
	gen      uint64
	exitCode int
	stackID  int64
}

// HandleEvent tells the Observer that the engine reported ev, so that its
// next pass sees the change although the engine's container list lags
// behind its events (at a killed container's "die" the list may still say
// "running"):
//
//   - Most events mark the container: the next pass inspects it whatever
//     the list says, or shows it at all. A pass already running when the
//     event came does not consume the mark; the pass after it inspects.
//   - "die": the engine reports the exit while it still holds the
//     container, and goes on releasing its network and mounts for tens of
//     milliseconds more; an inspect waits for all of that. So the next
//     pass shows the container as exited with the event's exit code at
//     once (a provisional observation, from the cached one), while an
//     inspect in the background waits for the engine. When that returns,
//     the Observer calls the function given to OnSettled with the
//     container's stack, and the pass after it inspects the container: a
//     restart policy may already have restarted it.
//   - "kill" marks nothing: it only says a signal was sent (the process
//     may ignore it); if the process dies, "die" follows. An inspect now
//     would wait for the engine as well.
//
// Events about containers outside the Observer's selection (another
// stack's, when it observes one stack) are ignored.
func (o *Observer) HandleEvent(ev Event) {
	if ev.ContainerID == "" || !ev.ChangesState() {
		return
	}
	if ev.labels != nil && !o.matches(ev.labels) {
		return
	}
	o.dirtyMu.Lock()
	defer o.dirtyMu.Unlock()
	o.gen++
	o.dirty[ev.ContainerID] = o.gen
	o.dirtyStack[ev.ContainerID] = ev.StackID
	if ev.Action == "die" {
		o.died[ev.ContainerID] = death{gen: o.gen, exitCode: ev.ExitCode, stackID: ev.StackID}
		go o.settle(ev.ContainerID, o.gen)
	}
}

// OnSettled sets the function called with a stack's id once the engine
// has finished handling the exit of one of its containers (see
// HandleEvent). The reconcile loop enqueues the stack.
func (o *Observer) OnSettled(f func(stackID int64)) {
	o.dirtyMu.Lock()
	defer o.dirtyMu.Unlock()
	o.settled = f
}

// settle waits until the engine has finished handling a container's exit
// (an inspect returns only then), then ends the provisional observation of
// the die with generation gen, unless a later event replaced it.
func (o *Observer) settle(id string, gen uint64) {
	ctx, cancel := context.WithTimeout(o.rt.ctx, settleTimeout)
	defer cancel()
	o.rt.calls.inspects.Add(1)
	if _, err := o.rt.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err != nil {
		o.rt.log.Debug("inspect after a die event", zap.String("container_id", id), zap.NamedError("err", err))
	}
	o.dirtyMu.Lock()
	d, ok := o.died[id]
	ok = ok && d.gen == gen
	if ok {
		delete(o.died, id)
	}
	notify := o.settled
	o.dirtyMu.Unlock()
	if ok && notify != nil {
		notify(d.stackID)
	}
}

// takeDirty returns copies of the marked containers and of the deaths
// still being handled: all of them, or those of stack stackID (> 0).
func (o *Observer) takeDirty(stackID int64) (map[string]uint64, map[string]death) {
	o.dirtyMu.Lock()
	defer o.dirtyMu.Unlock()
	if stackID == 0 {
		return maps.Clone(o.dirty), maps.Clone(o.died)
	}
	dirty, died := map[string]uint64{}, map[string]death{}
	for id, gen := range o.dirty {
		if o.dirtyStack[id] == stackID {
			dirty[id] = gen
			if d, ok := o.died[id]; ok {
				died[id] = d
			}
		}
	}
	return dirty, died
}

// clearDirty forgets the marks a pass handled, keeping those made again
// since the pass took them and those of deaths still being handled (the
// pass showed them provisionally).
func (o *Observer) clearDirty(handled map[string]uint64, died map[string]death) {
	o.dirtyMu.Lock()
	defer o.dirtyMu.Unlock()
	for id, gen := range handled {
		if d, ok := died[id]; ok && d.gen == gen {
			continue
		}
		if o.dirty[id] == gen {
			delete(o.dirty, id)
			delete(o.dirtyStack, id)
		}
	}
}

// provisional returns the observation of a container whose last event is
// a die the engine is still handling: its cached observation, exited with
// the event's exit code. It needs a cached observation (a container never
// inspected is inspected, however long that takes).
func (o *Observer) provisional(id string, dirty map[string]uint64, died map[string]death) (observed, bool) {
	d, ok := died[id]
	prev, cached := o.seen[id]
	if !ok || !cached || prev.listed || d.gen != dirty[id] {
		return observed{}, false
	}
	c := prev.container // only its scalar fields change
	c.State, c.ExitCode, c.Health = spec.StateExited, d.exitCode, ""
	// No fingerprint: once the death is settled, the list entry never
	// matches it, so the container is inspected.
	return observed{container: c}, true
}
