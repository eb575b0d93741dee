package plan

import (
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// TestEngineChecks: a key the engine cannot apply makes the instance
// "cannot be applied" (runtime, storage_opt) or gives a warning (keys the
// engine silently ignores); an unknown engine checks nothing.
func TestEngineChecks(t *testing.T) {
	old := Engine{APIVersion: "1.41", Runtimes: []string{"io.containerd.runc.v2", "runc"}, StorageDriver: "overlay2", BackingFilesystem: "extfs"}
	recent := Engine{APIVersion: "1.47", Runtimes: []string{"runc"}, StorageDriver: "overlay2", BackingFilesystem: "xfs"}
	podman := Engine{APIVersion: "1.41", Runtimes: []string{"crun", "runc"}, StorageDriver: "overlay", BackingFilesystem: "extfs", Kind: EnginePodman}
	tests := []struct {
		name        string
		options     spec.Options
		engine      Engine
		wantRefusal string
		wantWarning string
	}{
		{"runtime missing", spec.Options{Runtime: "nvidia"}, old, `runtime "nvidia" is not configured on the engine (it has io.containerd.runc.v2, runc)`, ""},
		{"runtime present", spec.Options{Runtime: "runc"}, old, "", ""},
		{"storage_opt on extfs", spec.Options{StorageOpt: map[string]string{"size": "1G"}}, old, "storage_opt needs the overlay2 storage driver on xfs", ""},
		{"storage_opt on xfs", spec.Options{StorageOpt: map[string]string{"size": "1G"}}, recent, "", ""},
		{"mac_address on API 1.41", spec.Options{MacAddress: "02:42:ac:11:00:09"}, old, "", "sets mac_address, which this engine (API 1.41) ignores"},
		{"mac_address on API 1.47", spec.Options{MacAddress: "02:42:ac:11:00:09"}, recent, "", ""},
		{"annotations on API 1.41", spec.Options{Annotations: map[string]string{"a": "b"}}, old, "", "sets annotations, which this engine (API 1.41) ignores"},
		{"unknown engine", spec.Options{Runtime: "nvidia", MacAddress: "02:42:ac:11:00:09"}, Engine{}, "", ""},
		{"links on Podman", spec.Options{Links: []string{"cache:c"}}, podman, "links are not supported by Podman", ""},
		{"links on Docker", spec.Options{Links: []string{"cache:c"}}, old, "", ""},
		{"domainname on Podman", spec.Options{Domainname: "example.test"}, podman, "", "sets domainname, which Podman ignores"},
		{"device_cgroup_rules on Podman", spec.Options{DeviceCgroupRules: []string{"c 1:3 mr"}}, podman, "", "sets device_cgroup_rules, which Podman ignores"},
		{"cgroup on Podman", spec.Options{Cgroup: "private"}, podman, "", "sets cgroup, which Podman ignores"},
		{"logging max-file on Podman", spec.Options{Logging: &spec.Logging{Driver: "json-file", Options: map[string]string{"max-file": "2"}}}, podman, "", "sets logging.options.max-file, which Podman ignores"},
		{"logging max-size on Podman", spec.Options{Logging: &spec.Logging{Driver: "json-file", Options: map[string]string{"max-size": "1m"}}}, podman, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := shopStack()
			s.Instances[0].Overrides.Options = tt.options
			s = remerge(s)
			obs := observedFor(shopStack())
			obs.Engine = tt.engine
			p := mustCompute(s, obs)
			var db *Change
			for i := range p.Changes {
				if p.Changes[i].Instance == "db" {
					db = &p.Changes[i]
				}
			}
			switch {
			case tt.wantRefusal != "":
				if db == nil || !strings.Contains(db.Reason, "cannot be applied: "+tt.wantRefusal) {
					t.Fatalf("want db refused with %q, got %+v", tt.wantRefusal, db)
				}
			case db != nil && strings.Contains(db.Reason, "cannot be applied"):
				t.Fatalf("db refused: %s", db.Reason)
			}
			warned := strings.Join(p.Warnings, "\n")
			if tt.wantWarning != "" && !strings.Contains(warned, tt.wantWarning) {
				t.Errorf("warnings %q lack %q", p.Warnings, tt.wantWarning)
			}
			if tt.wantWarning == "" && strings.Contains(warned, "ignores") {
				t.Errorf("unexpected warning: %q", p.Warnings)
			}
		})
	}
}

// TestInstanceProblemCannotBeApplied: an instance whose desired state
// could not be built (its template needs a variable the stack lacks) is
// "cannot be applied" with the reason, and its container is left alone.
func TestInstanceProblemCannotBeApplied(t *testing.T) {
	s := shopStack()
	obs := observedFor(s)
	s.Instances[0].Problem = "its template cannot be resolved with the stack's variables: HOST_NAME is required"
	p := mustCompute(s, obs)
	if len(p.Changes) != 1 || p.Changes[0].Instance != "db" || p.Changes[0].Action != ActionModify ||
		!strings.Contains(p.Changes[0].Reason, "cannot be applied: instance \"db\": its template cannot be resolved") {
		t.Fatalf("changes: %+v", p.Changes)
	}
}
