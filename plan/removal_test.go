package plan

import (
	"bytes"
	"strings"
	"testing"

	"github.com/docker/compose/v5/pkg/api"

	"github.com/devarch/devarch-controller/spec"
)

// deletedShop is shopStack deleted: no instances left.
func deletedShop(removeVolumes bool) spec.Stack {
	s := shopStack()
	s.Instances, s.Deleting, s.RemoveVolumes = []spec.Instance{}, true, removeVolumes
	return s
}

func TestRemovalPlan(t *testing.T) {
	live := shopStack()
	running := observedFor(live)
	running.OwnedNetworks = []string{live.Network(), "devarch-shop-back"}
	running.Volumes = map[string]Volume{
		"devarch-shop_data":  {Name: "devarch-shop_data", Labels: map[string]string{api.ProjectLabel: "devarch-shop"}},
		"devarch-shop_other": {Name: "devarch-shop_other", Labels: map[string]string{"made": "by hand"}},
	}
	tests := []struct {
		name          string
		stack         spec.Stack
		observed      Observed
		wantRemove    int
		wantResources []Resource
		wantEmpty     bool
	}{
		{"deleted, volumes kept", deletedShop(false), running, 4, []Resource{
			{Kind: ResourceNetwork, Name: "devarch-shop-back", Action: ResourceRemove},
			{Kind: ResourceNetwork, Name: "devarch-shop-net", Action: ResourceRemove},
			{Kind: ResourceVolume, Name: "devarch-shop_data", Action: ResourceKeep},
			{Kind: ResourceVolume, Name: "devarch-shop_other", Action: ResourceKeep},
		}, false},
		{"deleted with volumes", deletedShop(true), running, 5, []Resource{
			{Kind: ResourceNetwork, Name: "devarch-shop-back", Action: ResourceRemove},
			{Kind: ResourceNetwork, Name: "devarch-shop-net", Action: ResourceRemove},
			{Kind: ResourceVolume, Name: "devarch-shop_data", Action: ResourceRemove},
			{Kind: ResourceVolume, Name: "devarch-shop_other", Action: ResourceKeep}, // not compose's: never removed
		}, false},
		{"deleted, only the network left", deletedShop(false), Observed{OwnedNetworks: []string{"devarch-shop-net"}}, 1, []Resource{
			{Kind: ResourceNetwork, Name: "devarch-shop-net", Action: ResourceRemove},
		}, false},
		{"deleted, nothing left", deletedShop(false), Observed{Volumes: map[string]Volume{"devarch-shop_data": running.Volumes["devarch-shop_data"]}}, 0, []Resource{
			{Kind: ResourceVolume, Name: "devarch-shop_data", Action: ResourceKeep},
		}, true},
		{"live stack: networks are not resources", live, running, 0, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompute(tc.stack, tc.observed)
			if p.Summary.Remove != tc.wantRemove || p.Summary.Add != 0 || p.Summary.Modify != 0 {
				t.Errorf("summary %+v, want %d to remove", p.Summary, tc.wantRemove)
			}
			if len(p.Resources) != len(tc.wantResources) {
				t.Fatalf("resources %+v, want %+v", p.Resources, tc.wantResources)
			}
			for i, r := range p.Resources {
				w := tc.wantResources[i]
				if r.Kind != w.Kind || r.Name != w.Name || r.Action != w.Action || r.Reason == "" {
					t.Errorf("resource %d = %+v, want %+v with a reason", i, r, w)
				}
			}
			if p.Empty() != tc.wantEmpty {
				t.Errorf("Empty() = %v, want %v", p.Empty(), tc.wantEmpty)
			}
			for _, c := range p.Changes {
				if tc.stack.Deleting && (c.Action != ActionRemove || c.Reason != "the stack is deleted") {
					t.Errorf("change %+v of a deleted stack", c)
				}
			}
		})
	}
}

func TestRemovalPlanText(t *testing.T) {
	o := observedFor(shopStack())
	o.OwnedNetworks = []string{"devarch-shop-net"}
	o.Volumes = map[string]Volume{"devarch-shop_data": {Name: "devarch-shop_data", Labels: map[string]string{api.ProjectLabel: "devarch-shop"}}}
	var b bytes.Buffer
	if err := mustCompute(deletedShop(false), o).WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  - db", "  - network devarch-shop-net", "    volume devarch-shop_data", "with --volumes", "Plan: 0 to add, 0 to modify, 3 to remove."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestDeletingChangesTheToken(t *testing.T) {
	deleted := deletedShop(false)
	live := shopStack()
	live.Instances = []spec.Instance{}
	withVolumes := deletedShop(true)
	if tok(deleted) == tok(live) || tok(deleted) == tok(withVolumes) {
		t.Error("deleting a stack, or asking for its volumes, must change its token")
	}
	liveVolumes := live
	liveVolumes.RemoveVolumes = true
	if tok(live) != tok(liveVolumes) {
		t.Error("remove_volumes of a live stack changes its token; it only matters once the stack is deleted")
	}
}
