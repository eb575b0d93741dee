package project

import (
	"reflect"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

func TestReferences(t *testing.T) {
	for _, tt := range []struct {
		o    spec.Options
		want map[string][]string
	}{
		{spec.Options{}, nil},
		{spec.Options{Ipc: "host", Pid: "host", NetworkMode: "bridge", VolumesFrom: []string{"container:x"}}, nil},
		{spec.Options{VolumesFrom: []string{"db", "cache:ro", "container:x"}, Ipc: "service:db", Pid: "service:app", NetworkMode: "service:vpn"},
			map[string][]string{"volumes_from": {"db", "cache"}, "ipc": {"db"}, "pid": {"app"}, "network_mode": {"vpn"}}},
	} {
		if got := References(tt.o); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("References(%+v) = %v, want %v", tt.o, got, tt.want)
		}
	}
	none := spec.Options{Ipc: "host", VolumesFrom: []string{"container:x"}}
	if n := testing.AllocsPerRun(100, func() { References(none) }); n != 0 {
		t.Errorf("References of options without references allocates %v times; plans call it for every instance", n)
	}
}
