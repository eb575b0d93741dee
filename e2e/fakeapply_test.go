package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/plan"
)

// The fake's apply: pending → applying → progress events per change →
// final status, as reconcile does it (with short pauses so a browser sees
// each step). The outcome is the stack's: succeeded (the stack converges),
// failed (compose output recorded, the stack stays drifted), stale or
// conflict (nothing runs).
func (f *fakeAPI) run(s *fakeStack, a *fakeApproval, gate chan struct{}) {
	time.Sleep(150 * time.Millisecond)
	f.mu.Lock()
	outcome := s.outcome
	switch outcome {
	case approval.Stale:
		f.finishLocked(s, a, outcome, "Plan is stale: the stack changed since the plan was generated. Generate a new plan.", nil)
		f.mu.Unlock()
		return
	case approval.Conflict:
		f.finishLocked(s, a, outcome, "Stack is being applied by another session.", nil)
		f.mu.Unlock()
		return
	}
	now := time.Now()
	a.approval.Status, a.approval.StartedAt, a.approval.UpdatedAt, a.approval.ClaimedBy = approval.Applying, &now, now, "fake-replica"
	s.applying, s.lastReconcile = true, now
	changes := slices.Clone(s.drift)
	f.notifyLocked()
	f.mu.Unlock()

	pauseAt := min(1, len(changes)-1)
	for i, c := range changes {
		f.event(a, c.Container, progressVerb(c, false), "working", "")
		time.Sleep(120 * time.Millisecond)
		if i == pauseAt && gate != nil {
			<-gate
		}
		if outcome == approval.Failed && i == len(changes)-1 {
			f.event(a, c.Container, progressVerb(c, false), "error", "Bind for 0.0.0.0:8080 failed: port is already allocated")
			break
		}
		f.event(a, c.Container, progressVerb(c, true), "done", "")
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if outcome == approval.Failed {
		f.finishLocked(s, a, outcome, "Compose could not apply the stack; containers may be partly updated. Read compose's output, fix the cause and generate a new plan.",
			map[string]any{"compose_output": fakeComposeOutput, "created": []string{}, "recreated": []string{}, "removed": []string{}})
		return
	}
	res := map[string][]string{"created": {}, "recreated": {}, "removed": {}, "started": {}}
	for _, c := range changes {
		switch c.Action {
		case plan.ActionAdd:
			res["created"] = append(res["created"], c.Container)
		case plan.ActionModify:
			res["recreated"] = append(res["recreated"], c.Container)
		case plan.ActionRemove:
			res["removed"] = append(res["removed"], c.Container)
		}
	}
	s.drift = nil
	msg := fmt.Sprintf("Applied %d changes: created %d, recreated %d, removed %d containers.",
		len(changes), len(res["created"]), len(res["recreated"]), len(res["removed"]))
	if len(s.mismatches) > 0 {
		msg += " " + plan.SummarizeMismatches(s.mismatches)
		f.finishLocked(s, a, outcome, msg, map[string]any{"created": res["created"], "recreated": res["recreated"],
			"removed": res["removed"], "started": res["started"], "mismatches": s.mismatches})
		return
	}
	f.finishLocked(s, a, outcome, msg, res)
}

func progressVerb(c plan.Change, done bool) string {
	verbs := map[plan.Action][2]string{
		plan.ActionAdd:    {"Creating", "Started"},
		plan.ActionModify: {"Recreating", "Started"},
		plan.ActionRemove: {"Removing", "Removed"},
	}[c.Action]
	if done {
		return verbs[1]
	}
	return verbs[0]
}

// event appends a progress event and wakes the streams.
func (f *fakeAPI) event(a *fakeApproval, container, action, status, message string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a.events = append(a.events, approval.Event{ApprovalID: a.approval.ID, Seq: len(a.events) + 1, At: time.Now().UTC(),
		Container: container, Action: action, Status: status, Message: message})
	f.notifyLocked()
}

// finishLocked records an approval's final status. f.mu must be held.
func (f *fakeAPI) finishLocked(s *fakeStack, a *fakeApproval, status approval.Status, message string, result any) {
	now := time.Now()
	b, err := json.Marshal(result)
	if err != nil {
		f.t.Errorf("fake API: encode result: %v", err)
	}
	a.approval.Status, a.approval.Message, a.approval.Result = status, message, b
	a.approval.FinishedAt, a.approval.UpdatedAt = &now, now
	s.applying, s.lastReconcile = false, now
	f.notifyLocked()
}

// events streams an approval's progress as Server-Sent Events: stored
// events first, then live ones, then the final status, then EOF.
func (f *fakeAPI) events(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	a := f.approvalByID(w, r)
	broken := f.breakStreams
	f.mu.Unlock()
	if a == nil {
		return
	}
	if broken {
		writeError(w, http.StatusInternalServerError, "internal", "Event streaming is unavailable.")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "internal", "Streaming is not supported.")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	sent := 0
	for {
		f.mu.Lock()
		evs := slices.Clone(a.events[sent:])
		snapshot := a.approval
		changed := f.changed
		f.mu.Unlock()
		for _, ev := range evs {
			b, _ := json.Marshal(ev)
			fmt.Fprintf(w, "event: progress\nid: %d\ndata: %s\n\n", ev.Seq, b)
		}
		sent += len(evs)
		if snapshot.Status.Final() {
			b, _ := json.Marshal(snapshot)
			fmt.Fprintf(w, "event: status\ndata: %s\n\n", b)
			flusher.Flush()
			return
		}
		flusher.Flush()
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-time.After(10 * time.Second):
			fmt.Fprint(w, ": keep-alive\n\n")
		}
	}
}
