package plan

import (
	"fmt"
	"slices"

	"github.com/docker/compose/v5/pkg/api"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// Notice kinds, conditions and actions.
const (
	// NoticeVolume: the notice is about a volume.
	NoticeVolume = "volume"
	// NoticeOtherLabels: the volume exists but does not carry the labels
	// compose gives the volumes it creates for the stack's project (it was
	// created by hand, by another tool or for another compose project).
	// Compose uses it as it is.
	NoticeOtherLabels = "other_labels"
	// NoticeOtherConfig: the volume carries the project's labels but
	// another configuration hash than compose computes for it now (it was
	// created by another version of compose or of the stack). Compose
	// would offer to recreate it, losing its data; the controller always
	// declines.
	NoticeOtherConfig = "other_config"
	// NoticeKeep: apply leaves the resource and its data as they are.
	NoticeKeep = "keep"
)

// Notice is something on the engine that apply will leave as it is
// although compose would not expect it, such as a volume holding data
// that the stack's project would use but did not create. A notice changes
// nothing: it is not a change, and a plan with only notices is empty.
type Notice struct {
	// Kind is the kind of resource: "volume".
	Kind string `json:"kind"`
	// Name is the resource's name on the engine.
	Name string `json:"name"`
	// Condition says what is unexpected: "other_labels" or "other_config".
	Condition string `json:"condition"`
	// Action is what apply does about it: "keep".
	Action string `json:"action"`
	// Instances are the instances that use the resource.
	Instances []string `json:"instances"`
	// Summary is one short line, e.g. "volume devarch-shop_data exists
	// with other labels: kept".
	Summary string `json:"summary"`
	// Message is a full sentence: what was found, what apply does, what
	// the user can do.
	Message string `json:"message"`
}

// VolumeNotices returns a notice for every named volume the stack's
// compose project would use that exists in vols (by name) with other
// labels or another configuration than compose expects for it. Apply
// never deletes or recreates such a volume: it is used as it is. A nil
// vols means volumes were not observed and yields none.
func VolumeNotices(s spec.Stack, vols map[string]Volume) ([]Notice, error) {
	if vols == nil {
		return nil, nil
	}
	projectName := spec.ProjectName(s.Name)
	desired := project.Volumes(s)
	keys := make([]string, 0, len(desired))
	for k := range desired {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var notices []Notice
	for _, key := range keys {
		cfg := desired[key]
		v, ok := vols[cfg.Name]
		if !ok || bool(cfg.External) {
			continue
		}
		expected, err := project.VolumeHash(projectName, key, cfg)
		if err != nil {
			return nil, err
		}
		n, ok := volumeNotice(v, projectName, key, expected)
		if !ok {
			continue
		}
		n.Instances = instancesUsingVolume(s, key)
		notices = append(notices, n)
	}
	return notices, nil
}

// volumeNotice compares a live volume with what compose expects for the
// volume key of project projectName, whose configuration hash is
// expected. It follows compose: a volume of another project, or of none,
// is used as it is (compose warns); one of this project with another
// hash is one compose asks to recreate.
func volumeNotice(v Volume, projectName, key, expected string) (Notice, bool) {
	n := Notice{Kind: NoticeVolume, Name: v.Name, Action: NoticeKeep}
	owner, hash := v.Labels[api.ProjectLabel], v.Labels[api.ConfigHashLabel]
	const advice = " To start this stack with an empty volume instead, back up what you need, remove the volume yourself (its data is lost) and apply again."
	switch {
	case owner == projectName && v.Labels[api.VolumeLabel] == key && hash == expected:
		return Notice{}, false
	case owner == projectName && hash != "" && hash != expected:
		n.Condition = NoticeOtherConfig
		n.Summary = fmt.Sprintf("volume %s exists with another configuration: kept", v.Name)
		n.Message = fmt.Sprintf("Volume %q belongs to compose project %q but was created with another configuration than this stack's (for example by another version of compose or devarch); compose would recreate it and lose its data, so apply keeps it and its data as they are.", v.Name, projectName) + advice
	default:
		n.Condition = NoticeOtherLabels
		n.Summary = fmt.Sprintf("volume %s exists with other labels: kept", v.Name)
		switch owner {
		case "":
			n.Message = fmt.Sprintf("Volume %q exists but was not created by compose for this stack (it has other labels); apply uses it as it is and keeps its data.", v.Name) + advice
		case projectName:
			n.Message = fmt.Sprintf("Volume %q carries compose project %q's label but not the other labels compose gives its volumes; apply uses it as it is and keeps its data.", v.Name, projectName) + advice
		default:
			n.Message = fmt.Sprintf("Volume %q exists but belongs to compose project %q, not this stack's %q; apply uses it as it is and keeps its data.", v.Name, owner, projectName) + advice
		}
	}
	return n, true
}

func instancesUsingVolume(s spec.Stack, key string) []string {
	names := []string{}
	for _, inst := range s.Instances {
		if !s.Enabled || !inst.Enabled {
			continue
		}
		if slices.ContainsFunc(inst.Effective.Volumes.Value, func(v spec.Volume) bool {
			return v.Type == spec.VolumeTypeVolume && v.Source == key
		}) {
			names = append(names, inst.Name)
		}
	}
	slices.Sort(names)
	return names
}
