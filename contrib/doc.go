// Package contrib holds what runs devarch-controller outside Go code:
// Prometheus alerting rules and an example scrape config (prometheus/), a
// Grafana dashboard (grafana/), a systemd unit (systemd/) and the
// controller's own container image (image/). It has no Go API; its tests
// check the systemd unit and the image. The alerting rules and the
// dashboard are tested in package serve, against what a running serve
// exports on /metrics.
//
// Nothing here may be needed at run time: the controller must work without
// this folder.
package contrib
