package serve

import (
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/api"
	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
)

// newFleet connects to the configured engines (no I/O: an engine that is
// down at start turns only its own stacks to Error).
func newFleet(cfg config.Config, log *zap.Logger) (*deploy.Fleet, error) {
	var specs []deploy.EngineSpec
	for _, e := range cfg.EngineList() {
		s := deploy.EngineSpec{Name: e.Name, Host: e.Host}
		if e.TLS != nil {
			s.TLSCA, s.TLSCert, s.TLSKey = e.TLS.CA, e.TLS.Cert, e.TLS.Key
		}
		specs = append(specs, s)
	}
	return deploy.NewFleet(specs, cfg.DefaultEngine(), log)
}

// engineChecks are the readiness checks of the engines: "docker" for the
// one engine of a configuration without an engines section, else
// "engine:NAME" for each, so /readyz says which engine is down.
func engineChecks(cfg config.Config, fleet *deploy.Fleet) []api.Check {
	if len(cfg.Engines) == 0 {
		return []api.Check{{Name: "docker", Fn: fleet.Runtime(fleet.Default()).Ping}}
	}
	var checks []api.Check
	for _, name := range fleet.Names() {
		checks = append(checks, api.Check{Name: "engine:" + name, Fn: fleet.Runtime(name).Ping})
	}
	return checks
}
