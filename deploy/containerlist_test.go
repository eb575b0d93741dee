package deploy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	"github.com/devarch/devarch-controller/spec"
)

func listFixture() []container.Summary {
	labels := managedLabels(7, 3, "shop", "web")
	labels[spec.LabelSpec] = `{"big":"record"}`
	labels["com.docker.compose.project"] = "devarch-shop"
	return []container.Summary{
		{ID: "c1", Names: []string{"/devarch-shop-web"}, State: container.StateRunning, Status: "Up 5 minutes (healthy)", Created: 1700000000,
			ImageID: "sha256:aa", Labels: labels, Health: &container.HealthSummary{Status: container.Healthy},
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"devarch-shop-net": {NetworkID: "n1"}}}},
		{ID: "c2", Names: []string{"/other"}, State: container.StateExited, Status: "Exited (137) 2 seconds ago", Labels: map[string]string{"x": "y"}},
	}
}

// TestDecodeContainerListKeepsWhatObservationNeeds: the streaming decode
// of the engine's container list gives, entry by entry, what the engine
// client's own decode gives: the same fingerprint, id, names and state,
// and the devarch labels but the big devarch.spec record.
func TestDecodeContainerListKeepsWhatObservationNeeds(t *testing.T) {
	items := listFixture()
	body, err := json.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeContainerList(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(items) {
		t.Fatalf("%d entries, want %d", len(got), len(items))
	}
	for i, it := range items {
		e := got[i]
		if e.ID != it.ID || !reflect.DeepEqual(e.Names, it.Names) || e.State != string(it.State) || e.fingerprint != fingerprint(it) {
			t.Errorf("entry %d = %+v, want the id, names, state and fingerprint of %+v", i, e, it)
		}
		for k, v := range it.Labels {
			_, kept := e.Labels[k]
			want := strings.HasPrefix(k, spec.LabelPrefix) && k != spec.LabelSpec
			if kept != want || (kept && e.Labels[k] != v) {
				t.Errorf("entry %d: label %s kept %v (%q), want kept %v", i, k, kept, e.Labels[k], want)
			}
		}
	}
	if s, i, ok := spec.IdentityFromLabels(got[0].Labels); !ok || s != 7 || i != 3 {
		t.Errorf("identity from the kept labels = %d, %d, %v; want 7, 3", s, i, ok)
	}
	for _, bad := range []string{``, `{}`, `[{"Id": 5}]`, `[{"Id":"a"}`, `[1]`} {
		if _, err := decodeContainerList(strings.NewReader(bad)); err == nil {
			t.Errorf("decodeContainerList(%q) = nil error", bad)
		}
	}
	if got, err := decodeContainerList(strings.NewReader(`[]`)); err != nil || len(got) != 0 {
		t.Errorf("empty list: %v, %v", got, err)
	}
}

// FuzzDecodeContainerList: whatever the engine answers, the decode returns
// entries or an error, and never panics; a list the engine client's decode
// accepts is accepted with as many entries.
func FuzzDecodeContainerList(f *testing.F) {
	body, _ := json.Marshal(listFixture())
	for _, seed := range []string{string(body), `[]`, `[{}]`, `[{"Labels":{"devarch.stack_id":"1"}}]`, `{"message":"x"}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeContainerList(bytes.NewReader(data))
		var want []container.Summary
		if json.Unmarshal(data, &want) == nil && strings.HasPrefix(strings.TrimSpace(string(data)), "[") {
			if err != nil {
				t.Fatalf("the engine client's decode accepts %q, the streaming decode says %v", data, err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d entries, want %d", len(got), len(want))
			}
		}
	})
}
