// Package serve owns the lifecycle of `devarch-controller serve`: it
// migrates and opens the database, records this controller's host paths as
// the installation's, connects to the container runtime, builds the
// observer, the lock manager and the reconcile loop, serves the HTTP API,
// the dashboard and /metrics, and shuts all of it down when its context
// ends (an in-flight apply gets the configured shutdown timeout).
//
// [Run] is the whole process minus flags and signals: the cobra command
// builds [Options] from the configuration and calls it, and tests start
// and stop it in-process with a context, a loopback address chosen by the
// kernel ([Options.OnListen] tells them which) and a private registry.
//
// serve wires; it decides nothing. Reconciling, planning, applying and the
// HTTP handlers belong to reconcile, plan, deploy and api. Metrics are
// registered by the packages that produce them (reconcile registers the
// loop's on the registry serve gives it); serve registers only the
// process-wide collectors that no producer owns: devarch_build_info and
// the Go runtime and process collectors.
package serve
