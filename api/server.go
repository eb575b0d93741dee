package api

import (
	"context"
	"net"
	"net/http"
	"time"
)

// Timeouts of the server Server returns. Event streams lift the write
// deadline of their own response.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	// WriteTimeout leaves room for a plan, which observes the runtime.
	WriteTimeout   = 2 * time.Minute
	IdleTimeout    = 2 * time.Minute
	MaxHeaderBytes = 64 << 10
)

// Server returns an HTTP server for h with timeouts against slow or idle
// clients. Shutdown also ends open event streams (their requests'
// contexts are cancelled), so that it does not wait for them until its
// deadline.
func Server(addr string, h http.Handler) *http.Server {
	return newServer(addr, h, ReadTimeout, WriteTimeout)
}

func newServer(addr string, h http.Handler, read, write time.Duration) *http.Server {
	base, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       read,
		WriteTimeout:      write,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	srv.RegisterOnShutdown(cancel)
	return srv
}
