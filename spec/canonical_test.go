package spec

import (
	"encoding/json"
	"testing"
)

func TestCanonical(t *testing.T) {
	in := ServiceSpec{
		Image:       "app:1",
		Command:     []string{"b", "a"}, // a list, not a set: kept as is
		Env:         []EnvVar{{Key: "B", Value: "2"}, {Key: "A", Value: "1"}, {Key: "B", Value: "second B stays second"}},
		Labels:      []Label{{Key: "z"}, {Key: "a"}},
		Ports:       []Port{{ContainerPort: 443, Protocol: "tcp"}, {ContainerPort: 80, Protocol: "tcp"}},
		Volumes:     []Volume{{Type: VolumeTypeVolume, Source: "b", Target: "/b"}, {Type: VolumeTypeTmpfs, Target: "/a"}},
		DependsOn:   []Dependency{{Name: "db"}, {Name: "cache"}},
		ConfigFiles: []ConfigFile{{Path: "b.conf"}, {Path: "a.conf"}},
	}
	before := mustMarshal(t, in)
	got := in.Canonical()
	want := ServiceSpec{
		Image:       "app:1",
		Command:     []string{"b", "a"},
		Env:         []EnvVar{{Key: "A", Value: "1"}, {Key: "B", Value: "2"}, {Key: "B", Value: "second B stays second"}},
		Labels:      []Label{{Key: "a"}, {Key: "z"}},
		Ports:       []Port{{ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 443, Protocol: "tcp"}},
		Volumes:     []Volume{{Type: VolumeTypeTmpfs, Target: "/a"}, {Type: VolumeTypeVolume, Source: "b", Target: "/b"}},
		DependsOn:   []Dependency{{Name: "cache"}, {Name: "db"}},
		ConfigFiles: []ConfigFile{{Path: "a.conf"}, {Path: "b.conf"}},
	}
	if g, w := mustMarshal(t, got), mustMarshal(t, want); g != w {
		t.Errorf("Canonical() =\n%s\nwant\n%s", g, w)
	}
	if mustMarshal(t, in) != before {
		t.Error("Canonical modified its receiver's slices")
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
