package deploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/client"
	"go.uber.org/zap"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// projectVolumes lists the volumes named like a stack's compose volume
// ("devarch-<stack>_<key>"; stack names hold no "_"), whatever their
// labels, grouped by compose project and keyed by name. A non-empty
// stack limits the list to that stack's project.
func (r *Runtime) projectVolumes(ctx context.Context, stack string) (map[string]map[string]plan.Volume, error) {
	prefix := spec.ProjectName(stack)
	if stack != "" {
		prefix += "_"
	}
	list, err := r.cli.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("name", prefix)})
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	byProject := map[string]map[string]plan.Volume{}
	for _, v := range list.Items {
		project, _, ok := strings.Cut(v.Name, "_")
		if !ok || !strings.HasPrefix(v.Name, prefix) {
			continue
		}
		if byProject[project] == nil {
			byProject[project] = map[string]plan.Volume{}
		}
		byProject[project][v.Name] = plan.Volume{Name: v.Name, Driver: v.Driver, Labels: v.Labels}
	}
	return byProject, nil
}

// keepVolumes reports, as warning progress events and log lines, the
// stack's volumes that exist with other labels or another configuration
// than compose expects (the plan's notices, observed again now): compose
// uses them as they are, and the controller declines every offer to
// recreate one (see composeSession.prompt). It only reports: when the
// volumes cannot be listed, the apply goes on, as safe as before.
func (r *Runtime) keepVolumes(ctx context.Context, s spec.Stack, bus *eventBus, log *zap.Logger) {
	vols, err := r.projectVolumes(ctx, s.Name)
	var notices []plan.Notice
	if err == nil {
		notices, err = plan.VolumeNotices(s, vols[spec.ProjectName(s.Name)])
	}
	if err != nil {
		log.Warn("cannot check the stack's volumes before compose up", zap.NamedError("err", err))
		return
	}
	for _, n := range notices {
		log.Warn("volume exists with other labels or configuration than compose expects; kept as it is",
			zap.String("volume", n.Name), zap.String("condition", n.Condition), zap.Strings("instances", n.Instances))
		bus.On(api.Resource{ID: "Volume " + n.Name, Status: api.Warning, Text: "Kept", Details: n.Message})
	}
}
