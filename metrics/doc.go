// Package metrics owns devarch-controller's Prometheus collectors: their
// names, types, help texts, histogram buckets and the bounded sets of label
// values they accept. Every collector is registered on a registry the caller
// injects ([New]); the package keeps no global state and never touches the
// default registry.
//
// Callers (reconcile, deploy, api, the CLI wiring) report what happened in
// the domain's words — a stack's state, an apply's result, an approval count —
// and this package turns it into series. It must not decide anything, do I/O,
// log, or panic on bad input.
//
// Label values are bounded. result, phase, status and condition accept only
// the values documented on each method; any other value is rejected: the call
// records nothing for it and increments
// devarch_metrics_invalid_label_values_total{label="..."} instead, so a caller
// bug shows on the dashboard rather than as an unbounded new series. Stack
// names are bounded by the stacks that exist: [Metrics.DeleteStack] and
// [Metrics.RetainStacks] remove every series of a stack that is gone.
//
// Every label combination that can be known up front is created at 0 in
// [New], so rate(), increase() and alerts work from the first scrape.
//
// A nil *Metrics is valid and records nothing, so packages can be tested
// without metrics.
package metrics
