package serve

import (
	"runtime"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// registerProcessMetrics registers the collectors no producer owns on reg:
// the Go runtime and process collectors, and devarch_build_info{version,
// go_version} = 1. A version that is not valid UTF-8 (it comes from build
// flags) has its invalid bytes replaced by "?". It panics when reg already
// holds them (a registry given to two Runs), as prometheus.MustRegister.
func registerProcessMetrics(reg prometheus.Registerer, version string) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promauto.With(reg).NewGaugeVec(prometheus.GaugeOpts{
		Name: "devarch_build_info",
		Help: "Always 1; labels carry the controller's version and the Go version it was built with.",
	}, []string{"version", "go_version"}).WithLabelValues(strings.ToValidUTF8(version, "?"), runtime.Version()).Set(1)
}
