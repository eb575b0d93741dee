package plan

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/docker/compose/v5/pkg/api"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// ownVolume is the volume compose creates for key of stack s: its labels,
// compose's labels and its config hash.
func ownVolume(t *testing.T, s spec.Stack, key string) Volume {
	t.Helper()
	cfg, ok := project.Volumes(s)[key]
	if !ok {
		t.Fatalf("stack %s declares no volume %q", s.Name, key)
	}
	hash, err := project.VolumeHash(spec.ProjectName(s.Name), key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	labels := maps.Clone(map[string]string(cfg.Labels))
	maps.Copy(labels, project.VolumeLabels(spec.ProjectName(s.Name), key))
	labels[api.ConfigHashLabel] = hash
	return Volume{Name: cfg.Name, Driver: "local", Labels: labels}
}

func volumes(vs ...Volume) map[string]Volume {
	m := map[string]Volume{}
	for _, v := range vs {
		m[v.Name] = v
	}
	return m
}

func TestVolumeNotices(t *testing.T) {
	const name = "devarch-shop_postgres_data"
	s := shopStack()
	own := ownVolume(t, s, "postgres_data")
	relabel := func(change func(l map[string]string)) Volume {
		v := own
		v.Labels = maps.Clone(own.Labels)
		change(v.Labels)
		return v
	}
	twoUsers := shopStack()
	twoUsers.Instances[1].Overrides.Volumes = []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "postgres_data", Target: "/backup"}}
	twoUsers = remerge(twoUsers)
	disabled := shopStack()
	disabled.Instances[0].Enabled = false

	tests := []struct {
		name          string
		stack         spec.Stack
		vols          map[string]Volume
		wantCondition string
		wantInstances []string
		wantMessage   string
	}{
		{name: "volumes not observed", stack: s, vols: nil},
		{name: "no volume yet", stack: s, vols: volumes()},
		{name: "the volume compose created", stack: s, vols: volumes(own)},
		{name: "a volume of another stack only", stack: s, vols: volumes(Volume{Name: "devarch-shopx_postgres_data", Labels: map[string]string{"something": "else"}})},
		{name: "created by hand", stack: s, vols: volumes(Volume{Name: name, Labels: map[string]string{"something": "else"}}),
			wantCondition: NoticeOtherLabels, wantInstances: []string{"db"}, wantMessage: "was not created by compose for this stack"},
		{name: "created for another compose project", stack: s,
			vols:          volumes(relabel(func(l map[string]string) { l[api.ProjectLabel] = "legacy" })),
			wantCondition: NoticeOtherLabels, wantInstances: []string{"db"}, wantMessage: `belongs to compose project "legacy"`},
		{name: "the project's, without a config hash", stack: s,
			vols:          volumes(relabel(func(l map[string]string) { delete(l, api.ConfigHashLabel) })),
			wantCondition: NoticeOtherLabels, wantInstances: []string{"db"}, wantMessage: "not the other labels"},
		{name: "the project's, with another configuration", stack: s,
			vols:          volumes(relabel(func(l map[string]string) { l[api.ConfigHashLabel] = strings.Repeat("0", 64) })),
			wantCondition: NoticeOtherConfig, wantInstances: []string{"db"}, wantMessage: "compose would recreate it and lose its data"},
		{name: "the project's, from another compose version", stack: s,
			vols: volumes(relabel(func(l map[string]string) {
				l[api.VersionLabel] = "2.29.0"
				l[api.ConfigHashLabel] = strings.Repeat("1", 64)
			})),
			wantCondition: NoticeOtherConfig, wantInstances: []string{"db"}, wantMessage: "apply keeps it and its data"},
		{name: "used by two instances", stack: twoUsers, vols: volumes(Volume{Name: name, Labels: nil}),
			wantCondition: NoticeOtherLabels, wantInstances: []string{"db", "edge"}},
		{name: "used only by a disabled instance", stack: disabled, vols: volumes(Volume{Name: name, Labels: map[string]string{"something": "else"}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VolumeNotices(tt.stack, tt.vols)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantCondition == "" {
				if len(got) != 0 {
					t.Fatalf("notices = %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("notices = %+v, want one", got)
			}
			n := got[0]
			if n.Kind != NoticeVolume || n.Name != name || n.Condition != tt.wantCondition || n.Action != NoticeKeep || !slices.Equal(n.Instances, tt.wantInstances) {
				t.Errorf("notice = %+v, want a %s volume notice for %s used by %v", n, tt.wantCondition, name, tt.wantInstances)
			}
			if !strings.Contains(n.Message, tt.wantMessage) || !strings.Contains(n.Message, "remove the volume yourself") {
				t.Errorf("message %q lacks %q or the advice", n.Message, tt.wantMessage)
			}
			wantSummary := map[string]string{
				NoticeOtherLabels: "volume " + name + " exists with other labels: kept",
				NoticeOtherConfig: "volume " + name + " exists with another configuration: kept",
			}[tt.wantCondition]
			if n.Summary != wantSummary {
				t.Errorf("summary = %q, want %q", n.Summary, wantSummary)
			}
		})
	}
}

// volumeNoticePlan is the converged shop stack whose postgres volume was
// created by hand before the stack's first apply.
func volumeNoticePlan(t *testing.T) *Plan {
	t.Helper()
	s := shopStack()
	o := observedFor(s)
	o.Volumes = volumes(Volume{Name: "devarch-shop_postgres_data", Driver: "local", Labels: map[string]string{"something": "else"}})
	return mustCompute(s, o)
}

func TestPlanShowsVolumeNotices(t *testing.T) {
	p := volumeNoticePlan(t)
	if !p.Empty() {
		t.Fatalf("a notice made changes: %+v", p.Changes)
	}
	if len(p.Notices) != 1 || p.Notices[0].Name != "devarch-shop_postgres_data" {
		t.Fatalf("notices = %+v", p.Notices)
	}
	var text bytes.Buffer
	if err := p.WriteText(&text, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "! volume devarch-shop_postgres_data exists with other labels: kept\n") {
		t.Errorf("text lacks the notice line:\n%s", text.String())
	}
	var m map[string]any
	b, _ := json.Marshal(p)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	notices, _ := m["notices"].([]any)
	if len(notices) != 1 || notices[0].(map[string]any)["condition"] != NoticeOtherLabels {
		t.Errorf("JSON notices = %v", m["notices"])
	}

	converged := shopStack()
	b, _ = json.Marshal(mustCompute(converged, observedFor(converged)))
	if !bytes.Contains(b, []byte(`"notices":[]`)) {
		t.Errorf("a plan without notices must carry \"notices\": [], got %s", b)
	}
}

// FuzzVolumeNotices classifies a volume whose labels are fuzzed (whoever
// can reach the engine sets them): never a panic, never a change, at most
// one notice, and a notice always says the volume is kept.
func FuzzVolumeNotices(f *testing.F) {
	f.Add("devarch-shop", "postgres_data", strings.Repeat("0", 64), "")
	f.Add("", "", "", "else")
	f.Add("other", "postgres_data", "", "x")
	f.Add("devarch-shop", "other", "h", "")
	f.Fuzz(func(t *testing.T, owner, key, hash, extra string) {
		s := shopStack()
		labels := map[string]string{api.ProjectLabel: owner, api.VolumeLabel: key, api.ConfigHashLabel: hash, "x": extra}
		o := observedFor(s)
		o.Volumes = volumes(Volume{Name: "devarch-shop_postgres_data", Labels: labels})
		p, err := Compute(Desired{Stack: s, Paths: testPaths}, o, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Empty() || len(p.Notices) > 1 {
			t.Fatalf("changes %+v, notices %+v", p.Changes, p.Notices)
		}
		for _, n := range p.Notices {
			if n.Action != NoticeKeep || !strings.HasSuffix(n.Summary, ": kept") || n.Message == "" {
				t.Fatalf("notice %+v", n)
			}
		}
	})
}
