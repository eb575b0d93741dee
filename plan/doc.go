// Package plan turns one stack's effective desired state and the containers
// observed for it into a Terraform-style plan: one change per instance that
// is not converged (add, modify, remove) with per-field detail and where each
// change comes from (user, template or runtime), a staleness token over the
// whole desired state (keyed with the installation key, which the caller
// passes in Desired), and text/JSON renderings.
//
// Compute is pure: no Docker, no database, no files, no clock (the caller
// passes now). Its JSON form (format_version 1, see docs/plan-format.md) is
// the contract shared by the CLI, the API, the dashboard and approval rows.
//
// Secrets never appear in a plan: a changed secret shows as changed, with
// its values replaced by spec.RedactedValue.
package plan
