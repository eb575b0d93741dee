package state

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

func TestEncodeOverridesIgnoresSetOrder(t *testing.T) {
	t.Parallel()
	a := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Command: []string{"b", "a"},
		Env:     []spec.EnvVar{{Key: "B", Value: "2"}, {Key: "A", Value: "1"}, {Key: "A", Value: "last"}},
		Ports:   []spec.Port{{ContainerPort: 443, Protocol: "tcp"}, {ContainerPort: 80, Protocol: "tcp"}},
	}}
	b := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Command: []string{"b", "a"},
		Env:     []spec.EnvVar{{Key: "A", Value: "1"}, {Key: "A", Value: "last"}, {Key: "B", Value: "2"}},
		Ports:   []spec.Port{{ContainerPort: 80, Protocol: "tcp"}, {ContainerPort: 443, Protocol: "tcp"}},
	}}
	ea, err := encodeOverrides(a)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := encodeOverrides(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ea, eb) {
		t.Errorf("same overrides in another order encode differently:\n%s\n%s", ea, eb)
	}
	// The command's order is meaningful and kept; the last A still wins.
	dec, err := decodeOverrides(ea)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Command[0] != "b" {
		t.Errorf("command reordered: %v", dec.Command)
	}
	if got := spec.Merge(nil, dec).EnvMap()["A"]; got != "last" {
		t.Errorf("A = %q after canonical order, want the last value", got)
	}
	if a.Env[0].Key != "B" {
		t.Error("encodeOverrides sorted the caller's slice in place")
	}
}

// FuzzEncodeOverrides checks that encoding is canonical: decoding the
// stored bytes and encoding again gives the same bytes, so a re-import of
// what was read back is always "unchanged".
func FuzzEncodeOverrides(f *testing.F) {
	f.Add([]byte(`{"image":"x","env":[{"key":"B","value":"2"},{"key":"A","value":"1"}]}`))
	f.Add([]byte(`{"ports":[{"container_port":80,"protocol":"tcp"},{"container_port":22,"protocol":"udp","host_port":2222}],"volumes":[{"type":"bind","source":"./a","target":"/b"},{"type":"volume","target":"/a"}]}`))
	f.Add([]byte(`{"healthcheck":{"test":["CMD","true"],"interval":"10s"},"domains":[{"domain":"a.local"}],"config_files":[{"path":"b","target":"/b","content":"x"},{"path":"a","target":"/a","content":"y"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var o spec.Overrides
		if json.Unmarshal(data, &o) != nil {
			return
		}
		first, err := encodeOverrides(o)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		back, err := decodeOverrides(first)
		if err != nil {
			t.Fatalf("decode %s: %v", first, err)
		}
		second, err := encodeOverrides(back)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("not canonical:\n%s\n%s", first, second)
		}
	})
}
