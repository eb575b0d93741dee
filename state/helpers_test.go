package state_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// secretValue is the secret every fixture carries; no notification, error
// or log may contain it.
const secretValue = "hunter2-do-not-leak"

// newStore migrates a fresh database and opens a store on it.
func newStore(t *testing.T, opts ...state.Option) *state.Store {
	t.Helper()
	url := testenv.DatabaseURL(t)
	ctx := testContext(t)
	if err := state.Migrate(ctx, url); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s, err := state.Open(ctx, url, "state-test", opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// seededStore returns a fresh store holding the fixture templates, and a
// test context.
func seededStore(t *testing.T) (*state.Store, context.Context) {
	t.Helper()
	s := newStore(t)
	seedTemplates(t, s)
	return s, testContext(t)
}

// seedTemplates stores the fixture templates.
func seedTemplates(t *testing.T, s *state.Store) {
	t.Helper()
	for _, tmpl := range fixtureTemplates() {
		if _, err := s.UpsertTemplate(testContext(t), tmpl, "digest-"+tmpl.Name); err != nil {
			t.Fatalf("UpsertTemplate(%s): %v", tmpl.Name, err)
		}
	}
}

func fixtureTemplates() []spec.Template {
	return []spec.Template{
		{
			Name: "postgres", Category: "database", SourcePath: "database/postgres/compose.yml",
			Spec: spec.ServiceSpec{
				Image: "postgres:16",
				Env: []spec.EnvVar{
					{Key: "POSTGRES_DB", Value: "app"},
					{Key: "POSTGRES_USER", Value: "app"},
				},
				Ports:       []spec.Port{{HostPort: 5432, ContainerPort: 5432, Protocol: "tcp"}},
				Volumes:     []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "pgdata", Target: "/var/lib/postgresql/data"}},
				Healthcheck: &spec.Healthcheck{Test: []string{"CMD-SHELL", "pg_isready"}, Interval: spec.Duration(10 * time.Second), Retries: 5},
				Restart:     "unless-stopped",
			},
		},
		{
			Name: "vite-web", Category: "frontend", SourcePath: "frontend/vite/compose.yml",
			Spec: spec.ServiceSpec{
				Image:   "node:20-alpine",
				Command: []string{"npm", "run", "dev"},
				Env:     []spec.EnvVar{{Key: "NODE_ENV", Value: "development"}},
				Ports:   []spec.Port{{HostPort: 5173, ContainerPort: 5173, Protocol: "tcp"}},
				Labels:  []spec.Label{{Key: "com.example.tier", Value: "web"}},
			},
		},
	}
}

// shopStack is a stack using both fixture templates and one instance with
// a full spec of its own.
func shopStack(name string) spec.Stack {
	return spec.Stack{
		Name:        name,
		Description: "Shop fixture.",
		Enabled:     true,
		Wires:       []spec.Wire{{ConsumerInstance: "web", ProviderInstance: "db", ImportContract: "postgres"}},
		Instances: []spec.Instance{
			{
				Name: "db", Enabled: true, Template: &spec.Template{Name: "postgres"},
				Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{
					Env: []spec.EnvVar{
						{Key: "POSTGRES_USER", Value: "shop"},
						{Key: "POSTGRES_PASSWORD", Value: secretValue},
					},
					Ports: []spec.Port{{HostIP: "127.0.0.1", HostPort: 15432, ContainerPort: 5432, Protocol: "tcp"}},
				}},
			},
			{
				Name: "web", Enabled: true, Template: &spec.Template{Name: "vite-web"},
				Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{
					DependsOn: []spec.Dependency{{Name: "db", Condition: spec.ConditionHealthy}},
				}},
			},
			{
				Name: "worker", Enabled: false,
				Overrides: spec.Overrides{ServiceSpec: spec.ServiceSpec{
					Image:   "busybox:1.36",
					Command: []string{"sleep", "infinity"},
					Env:     []spec.EnvVar{{Key: "QUEUE", Value: "default"}},
				}},
			},
		},
	}
}

// importStack imports a stack and fails the test on error.
func importStack(t *testing.T, s *state.Store, st spec.Stack) state.ImportResult {
	t.Helper()
	res, err := s.ImportStack(testContext(t), st)
	if err != nil {
		t.Fatalf("ImportStack(%s): %v", st.Name, err)
	}
	return res
}

// count returns the number of rows a query counts.
func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(testContext(t), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// updatedAt reads one row's updated_at.
func updatedAt(t *testing.T, pool *pgxpool.Pool, table string, id int64) time.Time {
	t.Helper()
	var at time.Time
	if err := pool.QueryRow(testContext(t), "SELECT updated_at FROM "+table+" WHERE id = $1", id).Scan(&at); err != nil {
		t.Fatalf("read %s %d updated_at: %v", table, id, err)
	}
	return at
}

// pgCode returns the SQLSTATE and constraint of a PostgreSQL error.
func pgCode(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, secretValue) {
		t.Errorf("%s contains the secret value: %s", what, text)
	}
}
