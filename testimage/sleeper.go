package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment knobs of the sleeper. All are optional.
const (
	// envExitAfter makes the sleeper exit on its own after a Go duration
	// ("1500ms", "2s"), to simulate a crashing container.
	envExitAfter = "SLEEPER_EXIT_AFTER"
	// envExitCode is the exit code used with envExitAfter (0-255, default 1).
	envExitCode = "SLEEPER_EXIT_CODE"
	// envHTTPAddr makes the sleeper serve a tiny page on that address
	// (":8080"): the container's hostname and envMessage.
	envHTTPAddr = "SLEEPER_HTTP_ADDR"
	// envMessage is shown on the HTTP page.
	envMessage = "SLEEPER_MESSAGE"
)

// Exit codes of the sleeper besides the configurable one.
const (
	exitOK    = 0
	exitUsage = 2 // a knob holds an invalid value, or the HTTP server failed
)

// shutdownGrace bounds how long in-flight HTTP requests may delay the exit
// after a stop signal.
const shutdownGrace = 500 * time.Millisecond

// sleeperConfig is the parsed form of the environment knobs.
type sleeperConfig struct {
	exitAfter time.Duration // 0: never exit on its own
	exitCode  int
	httpAddr  string // "": no HTTP server
	message   string
}

// loadConfig reads the knobs through getenv.
func loadConfig(getenv func(string) string) (sleeperConfig, error) {
	cfg := sleeperConfig{
		exitCode: 1,
		httpAddr: strings.TrimSpace(getenv(envHTTPAddr)),
		message:  getenv(envMessage),
	}
	if v := strings.TrimSpace(getenv(envExitAfter)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return sleeperConfig{}, fmt.Errorf("parse %s: %w", envExitAfter, err)
		}
		if d <= 0 {
			return sleeperConfig{}, fmt.Errorf("parse %s: duration %q is not positive", envExitAfter, v)
		}
		cfg.exitAfter = d
	}
	if v := strings.TrimSpace(getenv(envExitCode)); v != "" {
		code, err := strconv.Atoi(v)
		if err != nil || code < 0 || code > 255 {
			return sleeperConfig{}, fmt.Errorf("parse %s: %q is not an exit code between 0 and 255", envExitCode, v)
		}
		cfg.exitCode = code
	}
	return cfg, nil
}

// runSleeper runs the sleeper mode and returns the process exit code. It
// prints "sleeper: ready" once the signal handlers are installed, so tests
// know when a stop signal can no longer kill the process by default action.
func runSleeper(getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sleeper: %v; fix the variable or unset it\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if os.Getpid() == 1 {
		go reapChildren(ctx)
	}

	serveErr := make(chan error, 1)
	if cfg.httpAddr != "" {
		srv, addr, err := startHTTP(cfg)
		if err != nil {
			fmt.Fprintf(stderr, "sleeper: %v\n", err)
			return exitUsage
		}
		defer shutdownHTTP(srv)
		go func() { serveErr <- srv.serve() }()
		fmt.Fprintf(stdout, "sleeper: serving HTTP on %s\n", addr)
	}

	var exitTimer <-chan time.Time
	if cfg.exitAfter > 0 {
		t := time.NewTimer(cfg.exitAfter)
		defer t.Stop()
		exitTimer = t.C
	}

	fmt.Fprintln(stdout, "sleeper: ready")
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "sleeper: stop signal received, exiting")
		return exitOK
	case <-exitTimer:
		fmt.Fprintf(stdout, "sleeper: %s elapsed, exiting with code %d\n", envExitAfter, cfg.exitCode)
		return cfg.exitCode
	case err := <-serveErr:
		fmt.Fprintf(stderr, "sleeper: serve HTTP: %v\n", err)
		return exitUsage
	}
}

// httpServer couples a server with the listener it was started on.
type httpServer struct {
	*http.Server
	ln net.Listener
}

func (s httpServer) serve() error {
	if err := s.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func startHTTP(cfg sleeperConfig) (httpServer, string, error) {
	ln, err := net.Listen("tcp", cfg.httpAddr)
	if err != nil {
		return httpServer{}, "", fmt.Errorf("listen on %s=%s: %w", envHTTPAddr, cfg.httpAddr, err)
	}
	srv := &http.Server{
		Handler:           newHandler(cfg.message, os.Hostname),
		ReadHeaderTimeout: 5 * time.Second,
	}
	return httpServer{Server: srv, ln: ln}, ln.Addr().String(), nil
}

func shutdownHTTP(srv httpServer) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

// newHandler serves the demo page on every path; /healthz answers "ok".
func newHandler(message string, hostname func() (string, error)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		host, err := hostname()
		if err != nil {
			host = "unknown"
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = fmt.Fprintf(w, "hostname: %s\nmessage: %s\n", host, message)
	})
	return mux
}
