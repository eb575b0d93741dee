package deploy

import (
	"maps"
	"slices"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// podmanCannot are the keys of catalog/testdata/options that Podman 4.3's
// Docker-compatible API cannot apply, with the reason: the option tests
// leave them out on Podman (and only them), and the plan refuses them
// there (plan.engineChecks).
var podmanCannot = map[string]string{
	"links":               "Podman refuses container links (\"bad parameter: link is not supported\"); services reach each other by name on the stack's network",
	"domainname":          "Podman ignores it: the runtime spec of the container has no domainname",
	"device_cgroup_rules": "Podman ignores it: the device cgroup has only the rules of devices",
	"cgroup":              "Podman's compatible API ignores it: the container gets no cgroup namespace",
	"logging":             "Podman applies max-size only (its log size limit) and ignores max-file; its inspect reports no log options",
}

// podmanReadsBack is what Podman's Docker-compatible inspect reports for
// keys it applies but reports in another form than Docker (each checked
// in the runtime spec Podman gave runc, userdata/config.json): the
// controller reads none of these fields (it compares the record it
// wrote), so they cause no drift.
var podmanReadsBack = map[string]any{
	"cap_drop":     []string{"MKNOD", "NET_RAW"},                                               // without the CAP_ prefix
	"security_opt": []string{"no-new-privileges"},                                              // without ":true"
	"sysctls":      map[string]string{},                                                        // applied, not reported
	"ulimits":      map[string]string{"RLIMIT_NOFILE": "1024:2048", "RLIMIT_NPROC": "512:512"}, // kernel names
	"stop_signal":  "2",                                                                        // the signal's number
	"devices":      "[{/dev/null /dev/xnull }]",                                                // permissions not reported (rwm applied)
	"runtime":      "oci",                                                                      // runc runs it (podman inspect: OCIRuntime runc)
	"userns_mode":  "",                                                                         // host: no user namespace
	// read_only: Podman mounts a tmpfs on /var/tmp too (and /run, /tmp
	// unless given), and reports each tmpfs with its mount options.
	"tmpfs": map[string]string{"/run": "size=16m,rw,rprivate,nosuid,nodev,tmpcopyup", "/tmp": "rw,rprivate,nosuid,nodev,tmpcopyup", "/var/tmp": "rw,rprivate,nosuid,nodev,tmpcopyup"},
}

// podmanOptions removes from the instances' templates the keys Podman
// cannot apply (podmanCannot) when e is Podman, logging each with its
// reason.
func podmanOptions(t *testing.T, e testenv.Engine, insts []spec.Instance) []spec.Instance {
	t.Helper()
	if !e.Podman() {
		return insts
	}
	for _, key := range slices.Sorted(maps.Keys(podmanCannot)) {
		t.Logf("on Podman, key %s is left out: %s", key, podmanCannot[key])
	}
	out := slices.Clone(insts)
	for i := range out {
		tmpl := *out[i].Template
		o := &tmpl.Spec.Options
		o.Links = nil
		out[i].Template = &tmpl
		out[i].Effective = spec.Merge(&tmpl.Spec, out[i].Overrides)
	}
	return out
}

// engineCan reports whether the options test checks key on engine e.
func engineCan(e testenv.Engine, key string) bool {
	return !e.Podman() || podmanCannot[key] == ""
}

// engineReads returns what engine e's inspect reports for key set as
// the options test sets it (want on Docker).
func engineReads(e testenv.Engine, key string, want any) any {
	if w, ok := podmanReadsBack[key]; ok && e.Podman() {
		return w
	}
	return want
}
