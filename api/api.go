package api

import (
	"context"
	"crypto/sha256"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/approval/filing"
	"github.com/devarch/devarch-controller/lock"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/stackfile"
	"github.com/devarch/devarch-controller/state"
)

// StackReader reads the desired state (implemented by *state.Store).
type StackReader interface {
	// Stacks returns every live stack, and every deleting one.
	Stacks(ctx context.Context) ([]spec.Stack, error)
	// Stack returns one live (else deleting) stack; the error wraps state.ErrNotFound
	// when there is none.
	Stack(ctx context.Context, name string) (spec.Stack, error)
}

// StatusReader reads the reconcile loop's stack statuses (implemented by
// *state.Store).
type StatusReader interface {
	StackStatuses(ctx context.Context) (map[int64]state.StackStatus, error)
}

// ApprovalReader reads approvals and their progress events (implemented by
// *state.Store). Errors wrap state.ErrNotFound for an unknown approval.
type ApprovalReader interface {
	Approval(ctx context.Context, id int64) (approval.Approval, error)
	Approvals(ctx context.Context, stackID int64, limit int) ([]approval.Approval, error)
	ApprovalEvents(ctx context.Context, id int64, after int) ([]approval.Event, error)
}

// ApprovalWriter files and cancels approvals (implemented by *state.Store).
// CancelApproval's error wraps state.ErrNotPending when the approval is
// past pending.
type ApprovalWriter interface {
	CreateApproval(ctx context.Context, stackID int64, token string, plan []byte, requestedBy string, ttl time.Duration) (approval.Approval, error)
	CancelApproval(ctx context.Context, id int64, message string) (approval.Approval, error)
}

// ApplyingLister tells which stacks have an approval applying (implemented
// by *state.Store).
type ApplyingLister interface {
	ActiveApprovalStacks(ctx context.Context) (pending, applying []int64, err error)
}

// ApprovalStore is everything the API does with approvals.
type ApprovalStore interface {
	ApprovalReader
	ApprovalWriter
	ApplyingLister
}

// LockLister lists the sessions holding stack locks (implemented by
// *lock.Locker).
type LockLister interface {
	Holders(ctx context.Context) ([]lock.Holder, error)
}

// Listener subscribes to NOTIFY channels (implemented by *state.Store).
type Listener interface {
	Listen(ctx context.Context, channels ...string) (<-chan state.Notification, error)
}

// InstallationReader reads the installation a stack's plan and staleness
// token are computed with: the recorded host paths and the installation
// keys (implemented by *state.Store).
type InstallationReader interface {
	Installation(ctx context.Context) (project.Options, error)
}

// Planner computes a fresh plan of a stack (read with the installation)
// against what runs now (implemented by *planner.Planner; a function
// becomes one with filing.PlannerFunc). Its plans are
// already redacted. Errors are shown to the user (with the stack's secret
// values scrubbed).
type Planner interface {
	Plan(ctx context.Context, d plan.Desired) (*plan.Plan, error)
}

// Check is one readiness check (GET /readyz): Fn returns nil when the
// dependency Name (for example "database" or "docker") is usable.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Deps are what the API reads and writes through. Stacks, Statuses,
// Approvals, Installation, Planner, Locks and Notifications are required;
// Ready may be empty, Metrics nil (GET /metrics then answers 404) and
// Logger nil (no logging).
type Deps struct {
	Stacks        StackReader
	Statuses      StatusReader
	Approvals     ApprovalStore
	Installation  InstallationReader
	Planner       Planner
	Locks         LockLister
	Notifications Listener
	Ready         []Check
	Metrics       http.Handler
	Logger        *zap.Logger
	// Edits changes the desired state (PUT, PATCH, revisions, revert);
	// nil: those endpoints answer 501.
	Edits EditStore
	// Lifecycle deletes, disables and enables stacks and instances; nil
	// answers those endpoints 501.
	Lifecycle LifecycleStore
	// Orphans lists orphaned containers and networks; nil answers 501.
	Orphans OrphanLister
	// Pages serves GET /api/v1/stacks?limit=&cursor=; nil: paginated
	// requests answer 501 (the whole list is still served).
	Pages StackPager
	// FirstPassDone reports whether the controller has planned every
	// stack since it started; until then the stack lists say
	// "first_pass_in_progress": the statuses may be an earlier process's.
	// nil: always done.
	FirstPassDone func() bool
}

// Defaults of Options.
const (
	DefaultMaxBodyBytes      = 1 << 20
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultPollInterval      = 2 * time.Second
)

// Options tune the API. The zero value serves without authentication.
type Options struct {
	// APIToken, when set, is the bearer token every /api/v1 request must
	// carry (except GET /api/v1/openapi.yaml). Empty disables auth.
	APIToken string
	// ApprovalTTL is how long a filed approval waits for a controller to
	// claim it before it expires; 0 means it never expires.
	ApprovalTTL time.Duration
	// MaxBodyBytes caps request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// RequestedBy names who asks for an apply or a cancel (stored in the
	// approval). Default: the X-Devarch-User header when it holds a short
	// printable name, else "api".
	RequestedBy func(r *http.Request) string
	// HeartbeatInterval is how often an event stream sends a comment to
	// keep proxies from closing it (default DefaultHeartbeatInterval).
	HeartbeatInterval time.Duration
	// PollInterval is how often an event stream re-reads its approval in
	// case a notification was missed (default DefaultPollInterval).
	PollInterval time.Duration
	// Secrets resolves the ${SECRET:NAME} references of a stack file sent
	// with PUT /api/v1/stacks/{name}; nil: none resolve (the file is
	// refused, naming the secret).
	Secrets stackfile.SecretLookup
	// Engines are the names of the controller's engines: a stack file
	// naming another engine is refused. Nil accepts any engine name.
	Engines []string
	// DefaultEngine is the engine of stacks that name none, as the API
	// shows it (default "default").
	DefaultEngine string
}

// String hides the API token.
func (o Options) String() string {
	auth := "off"
	if o.APIToken != "" {
		auth = "bearer token (<secret>)"
	}
	return "api.Options{auth: " + auth + ", approval_ttl: " + o.ApprovalTTL.String() + "}"
}

func (o Options) withDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.RequestedBy == nil {
		o.RequestedBy = headerUser
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	return o
}

// UserHeader names the caller in the default Options.RequestedBy.
const UserHeader = "X-Devarch-User"

const maxUserLen = 128

// headerUser returns the X-Devarch-User header when it is a short,
// printable name, else "api".
func headerUser(r *http.Request) string {
	u := strings.TrimSpace(r.Header.Get(UserHeader))
	if u == "" || len(u) > maxUserLen || !utf8.ValidString(u) {
		return "api"
	}
	for _, c := range u {
		if !unicode.IsPrint(c) {
			return "api"
		}
	}
	return u
}

// server is the API's state: dependencies, options and the shared
// notification hub.
type server struct {
	deps      Deps
	opts      Options
	log       *zap.Logger
	tokenHash *[sha256.Size]byte
	csrf      *http.CrossOriginProtection
	hub       *hub
	filer     *filing.Filer
	mux       *http.ServeMux
}

// New returns the API's handler. It panics when a required dependency is
// missing, as that is a wiring mistake.
func New(deps Deps, opts Options) http.Handler {
	requireDeps(deps)
	log := deps.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.With(zap.String("component", "api"))
	s := &server{deps: deps, opts: opts.withDefaults(), log: log, csrf: http.NewCrossOriginProtection(), mux: http.NewServeMux()}
	if opts.APIToken != "" {
		h := sha256.Sum256([]byte(opts.APIToken))
		s.tokenHash = &h
	}
	s.hub = newHub(deps.Notifications, log)
	s.filer = filing.New(filing.Deps{
		Desired: desiredReader{deps.Stacks, deps.Installation}, Locks: deps.Locks, Applying: deps.Approvals,
		Approvals: deps.Approvals, Planner: deps.Planner, Logger: log,
	}, s.opts.ApprovalTTL)
	for _, rt := range s.routes() {
		s.mux.Handle(rt.method+" "+rt.path, s.guard(rt))
	}
	return s.logRequests(s.recoverPanics(http.HandlerFunc(s.dispatch)))
}

func requireDeps(d Deps) {
	required := []struct {
		name string
		set  bool
	}{
		{"Stacks", d.Stacks != nil}, {"Statuses", d.Statuses != nil}, {"Approvals", d.Approvals != nil},
		{"Installation", d.Installation != nil}, {"Planner", d.Planner != nil}, {"Locks", d.Locks != nil},
		{"Notifications", d.Notifications != nil},
	}
	for _, dep := range required {
		if !dep.set {
			panic("api.New: Deps." + dep.name + " is nil")
		}
	}
	for _, c := range d.Ready {
		if c.Name == "" || c.Fn == nil {
			panic("api.New: every readiness check needs a name and a function")
		}
	}
}
