// Command devarch-controller reconciles devarch stacks stored in PostgreSQL
// into Docker containers. This file only wires process concerns (signals,
// exit code) to package cli, which owns the command line.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/devarch/devarch-controller/internal/cli"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run())
}

// run exists so deferred calls run before os.Exit.
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default handling so a second
		// Ctrl-C kills a shutdown that hangs.
		<-ctx.Done()
		stop()
	}()
	return cli.Execute(ctx, os.Args[1:], version)
}
