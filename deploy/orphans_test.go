package deploy

import (
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

func TestFindOrphans(t *testing.T) {
	snap := Snapshot{
		Containers: map[int64][]spec.Container{
			7: {{ID: "aaaaaaaaaaaaaaaa", Name: "/devarch-shop-db", StackID: 7, StackName: "shop", State: spec.StateRunning}},
			9: {{ID: "bbbbbbbbbbbbbbbb", Name: "/devarch-old-web", StackID: 9, StackName: "old", State: spec.StateExited},
				{ID: "cccccccccccccccc", Name: "/devarch-old-api", StackID: 9, StackName: "old", State: spec.StateRunning}},
		},
		Networks:      map[string]string{"devarch-shop-net": "n1n1n1n1n1n1n1n1", "devarch-old-net": "n2n2n2n2n2n2n2n2", "devarch-odd-net": "n3", "devarch-x-net": "n4"},
		NetworkStacks: map[string]string{"devarch-shop-net": "7", "devarch-old-net": "9", "devarch-odd-net": "", "devarch-x-net": "not-a-number"},
	}
	o := FindOrphans(snap, map[int64]bool{7: true})
	if len(o.Containers) != 2 || o.Containers[0].Name != "devarch-old-api" || o.Containers[1].Name != "devarch-old-web" ||
		o.Containers[0].ID != "cccccccccccc" || o.Containers[0].StackID != 9 || o.Containers[1].State != spec.StateExited {
		t.Errorf("orphan containers %+v", o.Containers)
	}
	if len(o.Networks) != 1 || o.Networks[0].Name != "devarch-old-net" || o.Networks[0].StackID != 9 || o.Networks[0].ID != "n2n2n2n2n2n2" {
		t.Errorf("orphan networks %+v, want devarch-old-net only (no valid stack id: not counted)", o.Networks)
	}
	if o.Empty() {
		t.Error("Empty() with orphans")
	}
	if o := FindOrphans(snap, map[int64]bool{7: true, 9: true}); !o.Empty() || o.Containers == nil || o.Networks == nil {
		t.Errorf("every stack known: %+v, want empty lists (not null)", o)
	}
	if got := snap.ownedNetworks(9); len(got) != 1 || got[0] != "devarch-old-net" {
		t.Errorf("ownedNetworks(9) = %v", got)
	}
}
