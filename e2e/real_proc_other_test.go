//go:build !linux

package e2e

import "os/exec"

// setParentDeathSignal is Linux-only; elsewhere the test's cleanup stops
// the child.
func setParentDeathSignal(*exec.Cmd) {}
