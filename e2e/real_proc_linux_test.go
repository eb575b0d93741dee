package e2e

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the child when the test
// process dies without running its cleanups (a test timeout's panic), so no
// `serve` outlives the run holding a port and database connections.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
