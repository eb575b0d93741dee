// Package filing is the one way an approval is filed: File checks a
// user's go-ahead for a stack's plan and records it as a pending approval.
// The API (POST /api/v1/stacks/{name}/apply) and the CLI
// (devarch-controller apply) both call it, so they validate the same way,
// refuse with the same errors and leave the same audit: the approval row
// (the redacted plan, its staleness token, who asked) and the log line
// "approval filed".
//
// File checks, in this order: a token was given; the stack exists; the
// token is the stack's current one (plan.Token of the stack and the
// installation); nobody is applying the stack (no session holds its lock,
// no approval of it is applying); a fresh plan still has that token. The
// reconcile loop checks the token and the lock again, under the lock,
// before it applies.
//
// This package must not apply anything, hold locks or talk to the
// container engine itself: it reads through the small interfaces in Deps.
package filing
