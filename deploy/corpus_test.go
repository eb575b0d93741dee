package deploy

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// corpusDir locates devarch's service templates (see testenv.Corpus).
func corpusDir(t *testing.T) string {
	t.Helper()
	return testenv.Corpus(t, "devarch-services")
}

// TestEveryCorpusTemplateApplies applies a stack holding each template of
// devarch's corpus (packed into a few stacks whose host ports do not
// clash) on the real engine, and checks that the plan right after is
// empty and without notices (every volume compose created is recognized
// as the stack's own). Every image name is a tag of the local test image
// (scripts/images.sh tag-corpus). Healthcheck-gated dependencies become
// plain ones: the test binary passes healthchecks, but only after each
// template's interval. backend/php has only a build section: its image is
// built from its Dockerfile (whose base images tag-corpus provides) and
// tagged devarch-build/<stack>/php:latest. The stacks are applied in parallel (up to go test's
// -parallel at once), except that two stacks publishing the same host port
// never run at the same time.
func TestEveryCorpusTemplateApplies(t *testing.T) {
	// The engines run side by side; stacks that hold the same host port
	// take turns, whatever their engine.
	var hostPorts portLocks
	testenv.EachEngine(t, func(t *testing.T, e testenv.Engine) {
		t.Parallel()
		testCorpusOn(t, e, &hostPorts)
	})
}

func testCorpusOn(t *testing.T, e testenv.Engine, hostPorts *portLocks) {
	e.Client(t)
	var templates []spec.Template
	for _, fr := range catalog.LoadPaths(corpusDir(t)) {
		if fr.Err != nil {
			t.Fatalf("load %s: %v", fr.Path, fr.Err)
		}
		templates = append(templates, fr.Result.Template)
	}
	if len(templates) != 174 {
		t.Fatalf("corpus has %d templates, want 174", len(templates))
	}
	var applied atomic.Int64
	privileged := privilegedSupported(t, e)
	t.Run("stacks", func(t *testing.T) {
		applyCorpusGroups(t, e, packTemplates(templates, 20), privileged, hostPorts, &applied)
	})
	t.Logf("corpus: %d of %d templates applied with an empty plan right after", applied.Load(), len(templates))
	if applied.Load() != 174 {
		t.Fatalf("want 174 of 174 applied, got %d", applied.Load())
	}
}

// applyCorpusGroups applies each group as one stack, in a parallel
// subtest holding the group's host ports, and checks the plan after it is
// empty. Build contexts are read as the planner reads them.
func applyCorpusGroups(t *testing.T, e testenv.Engine, groups [][]spec.Template, privileged bool, hostPorts *portLocks, applied *atomic.Int64) {
	for i, group := range groups {
		var insts []spec.Instance
		for j, tmpl := range group {
			t := tmpl
			for k := range t.Spec.DependsOn {
				t.Spec.DependsOn[k].Condition = spec.ConditionStarted
			}
			if t.Spec.Privileged && !privileged {
				t.Spec.Privileged = false
			}
			name := strings.ReplaceAll(t.Name, "_", "-")
			insts = append(insts, spec.Instance{ID: int64(j + 1), Name: name, Enabled: true, Template: &t, Effective: spec.Merge(&t.Spec, spec.Overrides{})})
		}
		t.Run(groupName(i, group), func(t *testing.T) {
			t.Parallel()
			// Registered before the fixture's teardown, so it runs after
			// it: the ports are free again once released.
			t.Cleanup(hostPorts.hold(groupPorts(group)))
			f := newEngineFixture(t, e, insts...)
			for _, inst := range f.stack.Instances {
				if inst.Effective.Build.Value != nil {
					removeImageAfter(t, f.rt, spec.BuildTag(f.stack.Name, inst.Name))
				}
			}
			f.opts.Paths.Builds = NewBuildContexts().Stack(f.stack)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			res, err := f.rt.Apply(ctx, f.stack, f.opts, nil)
			if err != nil {
				t.Fatalf("apply: %v\n%s", err, res.ComposeOutput)
			}
			p := f.plan()
			if !p.Empty() || len(p.Notices) != 0 {
				var b strings.Builder
				_ = p.WriteText(&b, plan.TextOptions{})
				t.Fatalf("plan after apply is not empty or has notices (a volume compose created looks foreign):\n%s", b.String())
			}
			applied.Add(int64(len(group)))
		})
	}
}

// portLocks serializes the stacks that publish the same host port.
type portLocks struct {
	mu    sync.Mutex
	ports map[uint16]*sync.Mutex
}

// hold locks every port of ports (in increasing order, so two holders
// never wait for each other) and returns the function that unlocks them.
func (l *portLocks) hold(ports []uint16) (release func()) {
	var held []*sync.Mutex
	for _, p := range ports {
		l.mu.Lock()
		if l.ports == nil {
			l.ports = map[uint16]*sync.Mutex{}
		}
		m := l.ports[p]
		if m == nil {
			m = &sync.Mutex{}
			l.ports[p] = m
		}
		l.mu.Unlock()
		m.Lock()
		held = append(held, m)
	}
	return func() {
		for _, m := range held {
			m.Unlock()
		}
	}
}

// groupPorts returns the host ports a group of templates publishes, sorted.
func groupPorts(g []spec.Template) []uint16 {
	used := map[uint16]bool{}
	for _, t := range g {
		addPorts(used, t)
	}
	ports := make([]uint16, 0, len(used))
	for p := range used {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	return ports
}

// packTemplates groups templates into stacks of at most size whose host
// ports do not clash; a template without an image gets a stack of its own.
func packTemplates(ts []spec.Template, size int) [][]spec.Template {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Category+"/"+ts[i].Name < ts[j].Category+"/"+ts[j].Name })
	var groups [][]spec.Template
	var ports []map[uint16]bool
	for _, tmpl := range ts {
		if tmpl.Spec.Image == "" {
			groups = append(groups, []spec.Template{tmpl})
			ports = append(ports, map[uint16]bool{0: true}) // never joined
			continue
		}
		placed := false
		for i := range groups {
			if len(groups[i]) >= size || ports[i][0] || clashes(ports[i], tmpl) {
				continue
			}
			groups[i] = append(groups[i], tmpl)
			addPorts(ports[i], tmpl)
			placed = true
			break
		}
		if !placed {
			groups = append(groups, []spec.Template{tmpl})
			ports = append(ports, map[uint16]bool{})
			addPorts(ports[len(ports)-1], tmpl)
		}
	}
	return groups
}

func clashes(used map[uint16]bool, t spec.Template) bool {
	for _, p := range t.Spec.Ports {
		if p.HostPort != 0 && used[p.HostPort] {
			return true
		}
	}
	return false
}

func addPorts(used map[uint16]bool, t spec.Template) {
	for _, p := range t.Spec.Ports {
		if p.HostPort != 0 {
			used[p.HostPort] = true
		}
	}
}

func groupName(i int, g []spec.Template) string {
	return strings.Join([]string{"group", string(rune('a' + i)), g[0].Name, "to", g[len(g)-1].Name}, "-")
}

// privilegedSupported reports whether the engine can start a privileged
// container. Some sandboxes (nested virtual machines without every
// capability) cannot; the corpus test then applies the one privileged
// template (ci/concourse-worker) without the flag and says so.
func privilegedSupported(t *testing.T, e testenv.Engine) bool {
	t.Helper()
	out, err := e.CLI(t, "run", "--rm", "--privileged", "--entrypoint", "/bin/sh", testenv.TestImage, "-c", "exit 0").CombinedOutput()
	if err != nil {
		t.Logf("this engine cannot run privileged containers (%v: %s); privileged templates are applied without the flag", err, strings.TrimSpace(string(out)))
		return false
	}
	return true
}
