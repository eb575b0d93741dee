package spec

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBytesString(t *testing.T) {
	for b, want := range map[Bytes]string{
		0: "0B", 512: "512B", 1024: "1KiB", 1536: "1536B", 256 << 20: "256MiB",
		3 << 30: "3GiB", (1 << 20) + 1: "1048577B", -2048: "-2KiB",
	} {
		if got := b.String(); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", int64(b), got, want)
		}
	}
}

func TestOptionFieldsNameEveryLeaf(t *testing.T) {
	grace := Duration(30 * time.Second)
	no := false
	o := Options{
		Hostname:        "web",
		ReadOnly:        true,
		Init:            &no,
		StopGracePeriod: &grace,
		CapDrop:         []string{"NET_RAW", "ALL"},
		DNS:             []string{"10.0.0.2", "10.0.0.1"},
		Ulimits:         map[string]Ulimit{"nofile": {Soft: 1024, Hard: 2048}},
		Sysctls:         map[string]string{"net.core.somaxconn": "1024"},
		Logging:         &Logging{Driver: "json-file", Options: map[string]string{"max-size": "1m"}},
		Deploy:          &Deploy{Resources: Resources{Limits: &Resource{CPUs: 0.5, Memory: 512 << 20}}},
		ShmSize:         64 << 20,
		Devices:         []Device{{Source: "/dev/fuse", Target: "/dev/fuse", Permissions: "rwm"}},
	}.Canonical()
	got := map[string]string{}
	for _, f := range o.Fields(nil) {
		got[f.Path] = f.Value
		if f.Source != SourceTemplate {
			t.Errorf("%s: source %s, want template", f.Path, f.Source)
		}
	}
	want := map[string]string{
		"hostname":                       "web",
		"read_only":                      "true",
		"init":                           "false",
		"stop_grace_period":              "30s",
		"cap_drop":                       "ALL, NET_RAW",
		"dns":                            "10.0.0.2, 10.0.0.1",
		"ulimits.nofile.soft":            "1024",
		"ulimits.nofile.hard":            "2048",
		"sysctls.net.core.somaxconn":     "1024",
		"logging.driver":                 "json-file",
		"logging.options.max-size":       "1m",
		"deploy.resources.limits.cpus":   "0.5",
		"deploy.resources.limits.memory": "512MiB",
		"shm_size":                       "64MiB",
		"devices":                        "/dev/fuse:/dev/fuse:rwm",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fields:\n%v\nwant:\n%v", got, want)
	}
	paths := make([]string, 0, len(got))
	for _, f := range o.Fields(nil) {
		paths = append(paths, f.Path)
	}
	if !slices.IsSorted(paths) {
		t.Errorf("fields not in path order: %v", paths)
	}
	if (Options{}).Fields(nil) != nil {
		t.Error("no options must give no fields")
	}
}

// TestMergeOptions: a key the override sets replaces the template's whole,
// except map entries, merged one by one; each leaf says where it comes from.
func TestMergeOptions(t *testing.T) {
	tmpl := ServiceSpec{Image: "app", Options: Options{
		Hostname: "t", CapDrop: []string{"ALL"}, MemLimit: 1 << 30,
		Sysctls: map[string]string{"a": "1", "b": "2"},
		Ulimits: map[string]Ulimit{"nofile": {Soft: 1, Hard: 2}, "nproc": {Soft: 3, Hard: 3}},
		Logging: &Logging{Driver: "json-file", Options: map[string]string{"max-size": "1m"}},
	}}
	over := Overrides{ServiceSpec: ServiceSpec{Options: Options{
		Hostname: "u", Sysctls: map[string]string{"b": "20"},
		Ulimits: map[string]Ulimit{"nofile": {Soft: 10, Hard: 20}},
		Logging: &Logging{Driver: "local"},
	}}}
	e := Merge(&tmpl, over)
	src := map[string]Source{}
	val := map[string]string{}
	for _, f := range e.OptionFields {
		src[f.Path], val[f.Path] = f.Source, f.Value
	}
	for path, want := range map[string]struct {
		value  string
		source Source
	}{
		"hostname":            {"u", SourceUser},
		"cap_drop":            {"ALL", SourceTemplate},
		"mem_limit":           {"1GiB", SourceTemplate},
		"sysctls.a":           {"1", SourceTemplate},
		"sysctls.b":           {"20", SourceUser},
		"ulimits.nofile.soft": {"10", SourceUser},
		"ulimits.nproc.hard":  {"3", SourceTemplate},
		"logging.driver":      {"local", SourceUser},
	} {
		if val[path] != want.value || src[path] != want.source {
			t.Errorf("%s = %q (%s), want %q (%s)", path, val[path], src[path], want.value, want.source)
		}
	}
	if _, ok := val["logging.options.max-size"]; ok {
		t.Error("logging is replaced whole by the override, its options must not be inherited")
	}
	if tmpl.Sysctls["b"] != "2" || len(tmpl.Ulimits) != 2 {
		t.Error("Merge modified the template")
	}
	if e.Options.Hostname != "u" || e.Options.Sysctls["a"] != "1" {
		t.Errorf("merged options: %+v", e.Options)
	}
}

func TestOptionsCanonical(t *testing.T) {
	o := Options{
		CapDrop: []string{"NET_RAW", "ALL", "NET_RAW"}, DNS: []string{"b", "a"}, SecurityOpt: []string{"z", "a"},
		Tmpfs: []string{}, Sysctls: map[string]string{}, ExtraHosts: []string{"b=2", "a=1"},
	}
	in, _ := json.Marshal(o)
	c := o.Canonical()
	if !slices.Equal(c.CapDrop, []string{"ALL", "NET_RAW"}) || !slices.Equal(c.ExtraHosts, []string{"a=1", "b=2"}) {
		t.Errorf("sets not sorted: %+v", c)
	}
	if !slices.Equal(c.DNS, []string{"b", "a"}) || !slices.Equal(c.SecurityOpt, []string{"z", "a"}) {
		t.Errorf("ordered lists reordered: %+v", c)
	}
	if c.Tmpfs != nil || c.Sysctls != nil {
		t.Errorf("empty collections not nil: %+v", c)
	}
	if after, _ := json.Marshal(o); string(after) != string(in) {
		t.Error("Canonical modified its receiver")
	}
}

func TestSecretOptionsAreRedacted(t *testing.T) {
	tmpl := ServiceSpec{Image: "app", Options: Options{
		Logging:     &Logging{Driver: "splunk", Options: map[string]string{"splunk-token": "tok-0123456789", "splunk-url": "https://splunk"}},
		Annotations: map[string]string{"api_key": "k-0123456789", "team": "core"},
	}}
	e := Merge(&tmpl, Overrides{})
	secret := map[string]bool{}
	for _, f := range e.OptionFields {
		secret[f.Path] = f.Secret
	}
	if !secret["logging.options.splunk-token"] || !secret["annotations.api_key"] || secret["logging.options.splunk-url"] || secret["annotations.team"] {
		t.Errorf("secret marks: %v", secret)
	}
	r := e.Redacted()
	b, _ := json.Marshal(r)
	for _, v := range []string{"tok-0123456789", "k-0123456789"} {
		if strings.Contains(string(b), v) {
			t.Errorf("redacted effective spec shows %q: %s", v, b)
		}
	}
	s := Stack{Name: "s", Instances: []Instance{{Name: "a", Effective: e}}}
	if vs := s.SecretValues(); !slices.Contains(vs, "tok-0123456789") || !slices.Contains(vs, "k-0123456789") {
		t.Errorf("SecretValues = %v, want the secret options", vs)
	}
}

func TestOptionKeys(t *testing.T) {
	keys := OptionKeys()
	if len(keys) < 45 || !slices.IsSorted(keys) || !slices.Contains(keys, "ulimits") || !slices.Contains(keys, "deploy") {
		t.Errorf("OptionKeys = %v", keys)
	}
}

func TestOptionKeyList(t *testing.T) {
	typ := reflect.TypeFor[Options]()
	if typ.NumField() != len(optionKeyList) {
		t.Fatalf("Options has %d fields, optionKeyList %d keys", typ.NumField(), len(optionKeyList))
	}
	for i := range typ.NumField() {
		if got := jsonName(typ.Field(i)); got != optionKeyList[i] {
			t.Errorf("field %d (%s) has key %q, optionKeyList says %q", i, typ.Field(i).Name, got, optionKeyList[i])
		}
	}
}

func TestValidateReferences(t *testing.T) {
	tmpl := ServiceSpec{Image: "app"}
	a := Instance{Name: "a", Enabled: true, Overrides: Overrides{ServiceSpec: ServiceSpec{Options: Options{
		Links: []string{"b:alias", "ghost"}, VolumesFrom: []string{"container:other", "phantom:ro"}}}}}
	a.Effective = Merge(&tmpl, a.Overrides)
	b := Instance{Name: "b", Enabled: true, Effective: Merge(&tmpl, Overrides{})}
	err := Stack{Name: "s", Instances: []Instance{a, b}}.Validate()
	if err == nil {
		t.Fatal("want problems for links and volumes_from naming missing instances")
	}
	for _, want := range []string{`instances.a.links: "ghost" names "ghost", which is not an instance of stack "s"`, `instances.a.volumes_from: "phantom:ro" names "phantom"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "other") || strings.Contains(err.Error(), `"b:alias"`) {
		t.Errorf("error %q names a valid reference", err)
	}
}
