package plan

import (
	"fmt"

	"github.com/devarch/devarch-controller/spec"
)

// podmanChecks returns what Podman's Docker-compatible API (4.3) refuses
// of an instance's keys, and the keys it accepts but ignores, measured on
// the engine (deploy's options test leaves exactly these out on Podman).
func podmanChecks(inst spec.Instance) (refusals, warnings []string) {
	o := inst.Effective.Options
	if len(o.Links) > 0 {
		refusals = append(refusals, "links are not supported by Podman (its API answers \"link is not supported\"); remove links: the services of a stack reach each other by name on the stack's network")
	}
	ignored := func(key, what string) {
		warnings = append(warnings, fmt.Sprintf("Instance %q sets %s, which Podman ignores: %s.", inst.Name, key, what))
	}
	if o.Domainname != "" {
		ignored("domainname", "the container gets no domain name")
	}
	if len(o.DeviceCgroupRules) > 0 {
		ignored("device_cgroup_rules", "the device cgroup gets no rule beyond those of devices")
	}
	if o.Cgroup != "" {
		ignored("cgroup", "Podman's compatible API creates no cgroup namespace on request")
	}
	if o.Logging != nil && o.Logging.Options["max-file"] != "" {
		ignored("logging.options.max-file", "Podman keeps one log file per container (max-size still limits its size)")
	}
	return refusals, warnings
}
