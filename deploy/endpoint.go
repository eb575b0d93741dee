package deploy

import (
	"fmt"
	"net/url"
	"os"

	"github.com/docker/cli/cli/connhelper"
	"github.com/docker/cli/cli/flags"
	"github.com/docker/go-connections/tlsconfig"
	"github.com/moby/moby/client"
)

// endpoint is how a Runtime reaches its engine, as `docker context` does:
// the host (unix://, tcp://, npipe://, or ssh://USER@HOST, reached by
// running `docker system dial-stdio` on the host through the ssh command)
// and, for a tcp:// engine that requires it, the client TLS files of
// `docker --tlsverify`. The controller's own client and compose's both use
// it.
type endpoint struct {
	// name is the engine's name in the configuration ("" for NewRuntime).
	name string
	// host is the endpoint as configured; "" is DOCKER_HOST or the
	// default socket.
	host string
	// ca, cert and key are the client TLS files (all three, or none).
	ca, cert, key string
}

// endpointOf is the endpoint of an engine of a configuration.
func endpointOf(s EngineSpec) endpoint {
	return endpoint{name: s.Name, host: s.Host, ca: s.TLSCA, cert: s.TLSCert, key: s.TLSKey}
}

func (e endpoint) tls() bool { return e.ca != "" || e.cert != "" || e.key != "" }

// resolvedHost is the host, or DOCKER_HOST when none is configured.
func (e endpoint) resolvedHost() string {
	if e.host != "" {
		return e.host
	}
	return os.Getenv(client.EnvOverrideHost)
}

// clientOpts are the engine client's options, applied after
// client.FromEnv: the host (through the ssh command for ssh://) and the
// TLS files.
func (e endpoint) clientOpts() ([]client.Opt, error) {
	var opts []client.Opt
	if host := e.resolvedHost(); host != "" {
		if u, err := url.Parse(host); err == nil && u.Scheme == "ssh" {
			helper, err := connhelper.GetConnectionHelper(host)
			if err != nil {
				return nil, fmt.Errorf("engine at %s: %w", host, err)
			}
			opts = append(opts, client.WithHost(helper.Host), client.WithDialContext(helper.Dialer))
		} else if e.host != "" {
			opts = append(opts, client.WithHost(e.host))
		}
	}
	if e.tls() {
		opts = append(opts, client.WithTLSClientConfig(e.ca, e.cert, e.key))
	}
	return opts, nil
}

// composeOptions are the options of compose's docker CLI: the endpoint's
// host (daemonHost, the client's, when none is configured) and its TLS
// files, as `docker --host HOST --tlsverify --tlscacert CA --tlscert CERT
// --tlskey KEY` takes them.
func (e endpoint) composeOptions(daemonHost string) *flags.ClientOptions {
	opts := flags.NewClientOptions()
	switch host := e.resolvedHost(); {
	case host != "":
		opts.Hosts = []string{host}
	case daemonHost != "":
		opts.Hosts = []string{daemonHost}
	}
	if e.tls() {
		opts.TLS, opts.TLSVerify = true, true
		opts.TLSOptions = &tlsconfig.Options{CAFile: e.ca, CertFile: e.cert, KeyFile: e.key}
	}
	return opts
}

// EngineName is the configuration's name of the Runtime's engine (see
// NewEngineRuntime), "" for a Runtime of NewRuntime.
func (r *Runtime) EngineName() string { return r.ep.name }

// Host is the endpoint the Runtime reaches its engine at, as configured;
// without one, DOCKER_HOST or the default socket.
func (r *Runtime) Host() string {
	if h := r.ep.resolvedHost(); h != "" {
		return h
	}
	return r.cli.DaemonHost()
}
