// Package testenv gives integration tests the real components they run
// against: a fresh PostgreSQL database on the project's private cluster and
// the Docker engine. scripts/test.sh (the README's test command) starts both
// and exports the variables below.
//
// When a component is not configured a test is skipped, unless
// DEVARCH_TEST_REQUIRE=1 is set (as scripts/test.sh and CI do): then it fails,
// so integration tests can never be skipped silently in CI.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"
)

const (
	// EnvDatabaseURL names an admin connection URL for the test cluster.
	EnvDatabaseURL = "DEVARCH_TEST_DATABASE_URL"
	// EnvDocker, when "1", says a Docker engine is reachable through
	// DOCKER_HOST or the default socket.
	EnvDocker = "DEVARCH_TEST_DOCKER"
	// EnvRequire, when "1", turns a missing component into a failure.
	EnvRequire = "DEVARCH_TEST_REQUIRE"

	// TestImage is the locally built image tests run: a static binary that
	// sleeps until SIGTERM and answers healthcheck commands with success.
	// scripts/images.sh builds it and tags it under more names on request.
	TestImage = "devarch-test/sleeper:latest"
)

func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s is required (%s=1) but not configured; run the tests through scripts/test.sh", what, EnvRequire)
	}
	t.Skipf("%s not configured; run the tests through scripts/test.sh", what)
}

// DatabaseURL creates a fresh, empty database on the test cluster and
// returns its URL. The database is dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(EnvDatabaseURL)
	if admin == "" {
		missing(t, "PostgreSQL ("+EnvDatabaseURL+")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to test cluster: %v", err)
	}
	defer conn.Close(context.Background())
	name := "t_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Logf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvDatabaseURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Docker returns a client for the test engine, API version negotiated.
func Docker(t testing.TB) *client.Client {
	t.Helper()
	if os.Getenv(EnvDocker) != "1" {
		missing(t, "Docker ("+EnvDocker+")")
	}
	c, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		t.Fatalf("ping docker engine: %v", err)
	}
	return c
}

// UniqueName returns prefix plus a random suffix, for resources that must
// not collide between test runs (stacks, networks, containers).
func UniqueName(prefix string) string { return prefix + randomHex(4) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
