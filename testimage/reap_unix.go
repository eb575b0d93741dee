//go:build unix

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// reapChildren waits for orphaned processes re-parented to the sleeper when
// it runs as PID 1 without `init: true`, so they do not linger as zombies.
// The sleeper starts no children of its own, so it cannot steal an exit
// status someone else waits for.
func reapChildren(ctx context.Context) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sigs:
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
