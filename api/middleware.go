package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/internal/logging"
)

// logRequests logs one line per request: method, path, status, bytes and
// duration_ms. Probes and metric scrapes log at debug level. Bodies, query
// strings and headers (the Authorization header above all) are never
// logged.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			level := zap.InfoLevel
			switch {
			case r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics":
				level = zap.DebugLevel
			case status >= 500:
				level = zap.WarnLevel
			}
			s.log.Log(level, "http request",
				zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Int("status", status),
				zap.Int64("bytes", rec.bytes), zap.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
		}()
		next.ServeHTTP(rec, r)
	})
}

// recoverPanics turns a handler panic into a logged 500 (when nothing was
// written yet) instead of a dropped connection.
func (s *server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.log.Error("handler panicked", zap.String("method", r.Method), zap.String("path", r.URL.Path),
				logging.Err(fmt.Errorf("panic: %v", v)), zap.Stack("stacktrace"))
			if rec.status == 0 {
				writeError(rec, http.StatusInternalServerError, codeInternal,
					"The controller failed while handling the request. Try again; if it keeps failing, see the controller's log.")
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// recorder remembers the status and size of a response. Unwrap lets
// http.ResponseController reach the connection (flush, deadlines) through
// it, which event streams need.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush makes the recorder an http.Flusher for code that checks for one.
func (r *recorder) Flush() {
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
