package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

// Engine is what the plan knows of the engine a stack runs on: enough to
// tell, before apply, that a key of an instance cannot be applied there.
// The zero Engine (unknown) checks nothing.
type Engine struct {
	// APIVersion is the API version the controller speaks with the engine
	// ("1.41").
	APIVersion string
	// Runtimes are the OCI runtimes the engine has ("runc", ...).
	Runtimes []string
	// StorageDriver and BackingFilesystem are the engine's storage driver
	// ("overlay2") and the filesystem under it ("xfs", "extfs").
	StorageDriver     string
	BackingFilesystem string
	// Kind is the engine's kind: EngineDocker or EnginePodman (its
	// Docker-compatible API); "" when unknown.
	Kind string
}

// Engine kinds.
const (
	EngineDocker = "docker"
	EnginePodman = "podman"
)

// known reports whether anything is known about the engine.
func (e Engine) known() bool { return e.APIVersion != "" || len(e.Runtimes) > 0 }

// APIAtLeast reports whether the engine speaks API version v ("1.44")
// or later.
func (e Engine) APIAtLeast(v string) bool {
	parse := func(s string) (int, int) {
		major, minor, _ := strings.Cut(s, ".")
		a, _ := strconv.Atoi(major)
		b, _ := strconv.Atoi(minor)
		return a, b
	}
	ha, hb := parse(e.APIVersion)
	wa, wb := parse(v)
	return ha > wa || (ha == wa && hb >= wb)
}

// engineChecks returns why an instance cannot be applied on the engine
// ("" when it can) and the keys the engine would silently ignore.
func engineChecks(e Engine, inst spec.Instance) (refusal string, warnings []string) {
	if !e.known() {
		return "", nil
	}
	o := inst.Effective.Options
	var refusals []string
	if o.Runtime != "" && len(e.Runtimes) > 0 && !slices.Contains(e.Runtimes, o.Runtime) {
		refusals = append(refusals, fmt.Sprintf("runtime %q is not configured on the engine (it has %s); install it and declare it under \"runtimes\" in the engine's daemon.json, or remove runtime from the instance",
			o.Runtime, strings.Join(e.Runtimes, ", ")))
	}
	if len(o.StorageOpt) > 0 && e.StorageDriver == "overlay2" && e.BackingFilesystem != "" && e.BackingFilesystem != "xfs" {
		refusals = append(refusals, fmt.Sprintf("storage_opt needs the overlay2 storage driver on xfs mounted with pquota, and the engine's overlay2 is on %s; remove storage_opt or move the engine's data root to such a filesystem",
			e.BackingFilesystem))
	}
	if o.MacAddress != "" && e.APIVersion != "" && !e.APIAtLeast("1.44") {
		warnings = append(warnings, fmt.Sprintf("Instance %q sets mac_address, which this engine (API %s) ignores: a MAC address per network needs API 1.44 (Docker Engine 25) or later.", inst.Name, e.APIVersion))
	}
	if e.Kind == EnginePodman {
		r, w := podmanChecks(inst)
		refusals, warnings = append(refusals, r...), append(warnings, w...)
	}
	if len(o.Annotations) > 0 && e.APIVersion != "" && !e.APIAtLeast("1.43") {
		warnings = append(warnings, fmt.Sprintf("Instance %q sets annotations, which this engine (API %s) ignores: annotations need API 1.43 (Docker Engine 24) or later.", inst.Name, e.APIVersion))
	}
	return strings.Join(refusals, "; "), warnings
}
