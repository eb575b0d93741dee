package filing_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// The filing path against real PostgreSQL and a real engine is tested
// from both callers (api/integration and internal/cli filing tests); these
// tests cover File's own logic with fakes: the order of its checks and
// that a planner's error reaches nobody with a secret in it.

const secret = "s3cr3t-database-password"

// world is one stack and records what File asked for.
type world struct {
	stack   spec.Stack
	reads   int
	created int
}

func (w *world) Stack(_ context.Context, name string) (spec.Stack, error) {
	w.reads++
	return w.stack, nil
}
func (w *world) Installation(context.Context) (project.Options, error) {
	return project.Options{StateDir: "/state", WorkspaceDir: "/state/workspace"}, nil
}
func (w *world) Holders(context.Context) ([]lock.Holder, error) { return nil, nil }
func (w *world) ActiveApprovalStacks(context.Context) (pending, applying []int64, err error) {
	return nil, nil, nil
}
func (w *world) CreateApproval(_ context.Context, stackID int64, token string, _ []byte, who string, _ time.Duration) (approval.Approval, error) {
	w.created++
	return approval.Approval{ID: 1, StackID: stackID, Token: token, RequestedBy: who, Status: approval.Pending}, nil
}

func newWorld() *world {
	return &world{stack: spec.Stack{ID: 7, Name: "shop", Enabled: true, Instances: []spec.Instance{{
		ID: 1, Name: "db", Enabled: true,
		Effective: spec.Effective{Env: []spec.EnvVar{{Key: "POSTGRES_PASSWORD", Value: secret, Secret: true}}},
	}}}}
}

func newFiler(w *world, p filing.PlannerFunc) *filing.Filer {
	return filing.New(filing.Deps{Desired: w, Locks: w, Applying: w, Approvals: w, Planner: p}, time.Hour)
}

func TestEmptyTokenIsRefusedBeforeAnythingIsRead(t *testing.T) {
	w := newWorld()
	_, err := newFiler(w, nil).File(t.Context(), "shop", "", "alice")
	if !errors.Is(err, filing.ErrTokenRequired) || w.reads != 0 || w.created != 0 {
		t.Errorf("File with no token: %v after %d reads, %d approvals; want ErrTokenRequired before any read", err, w.reads, w.created)
	}
}

func TestPlanErrorIsScrubbed(t *testing.T) {
	w := newWorld()
	token := plan.Token(plan.Desired{Stack: w.stack, Paths: project.Options{StateDir: "/state", WorkspaceDir: "/state/workspace"}})
	failing := func(context.Context, plan.Desired) (*plan.Plan, error) {
		return nil, errors.New("engine said: bad env POSTGRES_PASSWORD=" + secret)
	}
	_, err := newFiler(w, failing).File(t.Context(), "shop", token, "alice")
	var pe *filing.PlanError
	if !errors.As(err, &pe) || pe.Stack != "shop" {
		t.Fatalf("File with a failing planner: %v, want a *PlanError of stack shop", err)
	}
	if strings.Contains(err.Error(), secret) || strings.Contains(pe.Message, secret) || errors.Unwrap(err) != nil {
		t.Errorf("the plan error carries the secret or unwraps to the planner's error: %v", err)
	}
	if w.created != 0 {
		t.Errorf("%d approvals filed after a failed plan", w.created)
	}
	_, err = newFiler(w, func(context.Context, plan.Desired) (*plan.Plan, error) { return nil, nil }).File(t.Context(), "shop", token, "alice")
	if !errors.As(err, &pe) {
		t.Errorf("File with a planner returning no plan: %v, want a *PlanError", err)
	}
}
