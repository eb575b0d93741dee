// Command testimage is the only program inside the test and demo container
// image devarch-test/sleeper:latest (see scripts/images.sh). No image
// registry is reachable in development and CI, so every template of the
// catalog runs this static binary under its own image name.
//
// It is a multi-call binary chosen by the base name of argv[0]:
//
//   - as "sleeper" (the image ENTRYPOINT) it blocks until SIGTERM or SIGINT
//     and then exits 0 at once, so `docker stop` and compose recreates never
//     wait for the kill timeout. Arguments are ignored: a template's command
//     (say `sh -c "npm run dev"`) arrives as arguments of the entrypoint.
//     Environment knobs for tests and the demo are described in sleeper.go.
//   - under any other name (/bin/sh, /usr/bin/curl, pg_isready, ...: the
//     symlinks scripts/images.sh creates for every healthcheck command of the
//     corpus) it exits 0 immediately, so healthchecks pass and containers
//     become healthy.
//
// It must stay dependency-free (standard library only) and must never print
// its environment or arguments: templates pass secrets through both.
package main

import (
	"os"
	"path/filepath"
)

// sleeperName is the argv[0] base name that selects the long-running mode.
const sleeperName = "sleeper"

func main() {
	if filepath.Base(os.Args[0]) != sleeperName {
		// A healthcheck or helper command: succeed without doing anything.
		os.Exit(0)
	}
	os.Exit(runSleeper(os.Getenv, os.Stdout, os.Stderr))
}
