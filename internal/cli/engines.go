package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/devarch/devarch-controller/config"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/state"
)

// stackRuntime connects to the engine the stack named name runs on (its
// engine field, else the configuration's default engine). A stack that
// does not exist gets the default engine: planning it reports that.
func stackRuntime(ctx context.Context, app *App, cfg config.Config, st *state.Store, name string) (*deploy.Runtime, error) {
	engine := cfg.DefaultEngine()
	s, err := st.Stack(ctx, name)
	switch {
	case err == nil && s.Engine != "":
		engine = s.Engine
	case err != nil && !errors.Is(err, state.ErrNotFound):
		return nil, err
	}
	for _, e := range cfg.EngineList() {
		if e.Name != engine {
			continue
		}
		spec := deploy.EngineSpec{Name: e.Name, Host: e.Host}
		if e.TLS != nil {
			spec.TLSCA, spec.TLSCert, spec.TLSKey = e.TLS.CA, e.TLS.Cert, e.TLS.Key
		}
		return deploy.NewEngineRuntime(spec, app.Logger())
	}
	return nil, fmt.Errorf("stack %q runs on engine %q, which this configuration does not have (its engines are %s); add it to the engines section of the config file",
		name, engine, strings.Join(cfg.EngineNames(), ", "))
}
