// Package api serves the controller's HTTP interface: the JSON API under
// /api/v1 (stacks, their redacted views and fresh plans, approvals and the
// live progress of an apply as Server-Sent Events), the OpenAPI document
// that describes it (GET /api/v1/openapi.yaml, api/openapi.yaml), the
// liveness and readiness probes (/healthz, /readyz) and the Prometheus
// endpoint (/metrics, a handler it is given). docs/api.md is the reference.
//
// It owns request handling only: bearer-token authentication, the
// cross-origin and content-type checks of state-changing requests, body
// limits and strict JSON decoding, the error format
// {"error":{"code":...,"message":...}}, request logging, and one shared
// LISTEN subscription that wakes event streams. Its dependencies are small
// interfaces declared here (see Deps) and implemented by *state.Store,
// *lock.Locker and a planner the caller wires in.
//
// This package must not apply anything (POST .../apply only files an
// approval, which the reconcile loop claims and applies), talk to Docker
// (the planner does), take a stack lock, or put a secret in a response or
// a log line: stacks are shown through view.Redact, plans are redacted by
// construction, approvals store the redacted plan, and request bodies and
// the Authorization header are never logged.
package api
