package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/internal/logging"
)

// readyCheckTimeout bounds each readiness check.
const readyCheckTimeout = 5 * time.Second

// health is the body of GET /healthz.
type health struct {
	Status string `json:"status"`
}

// readiness is the body of GET /readyz. Error is set when a check failed.
type readiness struct {
	Status string        `json:"status"`
	Checks []checkResult `json:"checks"`
	Error  *apiError     `json:"error,omitempty"`
}

// checkResult is one check's outcome. The reason of a failure is logged,
// not returned: the probe is unauthenticated.
type checkResult struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// healthz answers 200 while the process serves HTTP.
func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, health{Status: "ok"})
}

// readyz runs every readiness check concurrently and answers 200 when all
// pass, else 503 naming the ones that failed.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	results := make([]checkResult, len(s.deps.Ready))
	var wg sync.WaitGroup
	for i, c := range s.deps.Ready {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), readyCheckTimeout)
			defer cancel()
			results[i] = checkResult{Name: c.Name, Status: "ok"}
			if err := c.Fn(ctx); err != nil {
				s.log.Warn("readiness check failed", zap.String("check", c.Name), logging.Err(err))
				results[i].Status = "failed"
			}
		})
	}
	wg.Wait()
	var failed []string
	for _, res := range results {
		if res.Status != "ok" {
			failed = append(failed, res.Name)
		}
	}
	if len(failed) == 0 {
		writeJSON(w, http.StatusOK, readiness{Status: "ready", Checks: results})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, readiness{Status: "not_ready", Checks: results, Error: &apiError{
		Code:    codeNotReady,
		Message: "Not ready: " + strings.Join(failed, ", ") + " failed. See the controller's log for the cause.",
	}})
}

// metrics serves the Prometheus handler it was given.
func (s *server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.deps.Metrics == nil {
		writeError(w, http.StatusNotFound, codeNotFound, "Metrics are not enabled on this controller.")
		return
	}
	s.deps.Metrics.ServeHTTP(w, r)
}
