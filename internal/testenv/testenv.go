// Package testenv gives integration tests the real components they run
// against: a fresh PostgreSQL database on the project's private cluster and
// the Docker engine. scripts/test.sh (the README's test command) starts both
// and exports the variables below.
//
// When a component is not configured a test is skipped, unless
// DEVARCH_TEST_REQUIRE=1 is set (as scripts/test.sh and CI do): then it fails,
// so integration tests can never be skipped silently in CI. Every skip in
// the module goes through Skip (or a helper built on it), except the few
// the suite itself decides, which docs/development.md lists.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
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

// Required reports whether DEVARCH_TEST_REQUIRE=1 is set: a test that
// cannot run must then fail instead of skipping.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Skip skips the test because something it needs is missing, or fails it
// when DEVARCH_TEST_REQUIRE=1: under the test command a skip is a failure.
// reason says what is missing and what to do about it.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("cannot run (%s=1 turns a skip into a failure): %s", EnvRequire, reason)
		return
	}
	t.Skip(reason)
}

// Skipf is Skip with a formatted reason.
func Skipf(t testing.TB, format string, args ...any) {
	t.Helper()
	Skip(t, fmt.Sprintf(format, args...))
}

func missing(t testing.TB, what string) {
	t.Helper()
	Skipf(t, "%s not configured; run the tests through scripts/test.sh", what)
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

// UniqueIDs moves the stack and instance id sequences of a migrated test
// database to a random offset. Every test database starts its ids at 1,
// containers carry only the ids in their labels, and the engine is shared
// by every test running at once: without this, two tests' "stack 1" would
// see (and an apply would remove, as strays) each other's containers. A
// test that creates containers from a fresh database calls it after the
// migrations ran and before it creates stacks.
func UniqueIDs(t testing.TB, url string) {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	base := 1_000_000 + int64(binary.BigEndian.Uint32(b[:])%3_000_000_000) // below lock.MaxStackID
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to test database: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `SELECT setval('stacks_id_seq', $1), setval('instances_id_seq', $1)`, base); err != nil {
		t.Fatalf("move id sequences (run the migrations first): %v", err)
	}
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
