package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/plan"
)

func TestMetricsUnset(t *testing.T) {
	hs := newHarness(t, Options{})
	planner := func(context.Context, plan.Desired) (*plan.Plan, error) { return nil, errors.New("unused") }
	h := New(Deps{Stacks: hs.store, Statuses: hs.store, Approvals: hs.store, Installation: hs.store, Planner: filing.PlannerFunc(planner), Locks: hs.locks,
		Notifications: hs.listener}, Options{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != 404 {
		t.Fatalf("status %d, want 404 without a metrics handler", w.Code)
	}
}

func TestNewPanicsOnMissingDeps(t *testing.T) {
	defer func() {
		if v := recover(); v == nil || !strings.Contains(v.(string), "Deps.Stacks") {
			t.Fatalf("recover() = %v, want a panic naming Deps.Stacks", v)
		}
	}()
	New(Deps{}, Options{})
}

func TestOptionsStringHidesToken(t *testing.T) {
	o := Options{APIToken: "s3cr3t-token"}
	if s := fmt.Sprint(o); strings.Contains(s, "s3cr3t") {
		t.Fatalf("Options prints its token: %s", s)
	}
}

func TestPanicIsA500(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	hs := newLoggedHarness(t, Options{}, zap.New(core))
	hs.h = New(Deps{Stacks: hs.store, Statuses: hs.store, Approvals: hs.store, Installation: hs.store, Locks: hs.locks, Notifications: hs.listener,
		Planner: filing.PlannerFunc(func(context.Context, plan.Desired) (*plan.Plan, error) { panic("boom") }), Logger: zap.New(core)}, Options{})
	w := hs.do(t, request{path: "/api/v1/stacks/shop/plan"})
	if e := decodeError(t, w); w.Code != 500 || e.Code != "internal_error" {
		t.Fatalf("status %d error %+v", w.Code, e)
	}
	if logs.FilterMessage("handler panicked").Len() != 1 {
		t.Error("the panic was not logged")
	}
	req := logs.FilterMessage("http request").All()
	if len(req) != 1 || req[0].ContextMap()["status"] != int64(500) {
		t.Errorf("request log = %+v, want one line with status 500", req)
	}
}
