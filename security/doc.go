// Package security holds the controller's cross-cutting security tests and
// nothing else: a canary secret followed through every output of a real
// controller (logs, plans, API responses, metrics, approval rows, status
// rows, NOTIFY payloads, CLI output, error messages), path traversal and
// symlink tricks against config file materialization and template loading,
// the API's authentication and cross-origin matrix, advisory lock key
// spaces, and a scan of the source for SQL built from non-constant text.
// SECURITY.md at the repository root is the threat model these tests
// defend.
//
// It has no code of its own: every file but this one is a _test.go file,
// and other packages must not import it.
package security
