package project

import (
	"slices"
	"strconv"

	"github.com/devarch/devarch-controller/spec"
)

// appendRecord appends the JSON encoding of r: byte for byte what
// encoding/json writes for a Record (field order, omitempty, sorted map
// keys, HTML-safe escaping), without its reflection. A record is encoded
// for every instance of every first plan of a stack, and the label it is
// compared with was written by an earlier controller: the two encodings
// must never differ (TestAppendRecordMatchesEncodingJSON and
// FuzzAppendRecord compare them).
func appendRecord(b []byte, r *Record) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.Version), 10)
	if r.KeyID != 0 {
		b = append(b, `,"key_id":`...)
		b = strconv.AppendInt(b, r.KeyID, 10)
	}
	b = append(b, `,"stack_id":`...)
	b = strconv.AppendInt(b, r.StackID, 10)
	b = appendStringField(b, "stack", r.Stack)
	b = append(b, `,"instance_id":`...)
	b = strconv.AppendInt(b, r.InstanceID, 10)
	b = appendStringField(b, "instance", r.Instance)
	b = appendStringField(b, "state_dir", r.StateDir)
	b = appendStringField(b, "workspace", r.Workspace)
	if r.Template != "" {
		b = appendStringField(b, "template", r.Template)
	}
	b = appendStringField(b, "network", r.Network)
	b = appendStringField(b, "image", r.Image)
	if len(r.Command) > 0 {
		b = appendStringsField(b, "command", r.Command)
	}
	if len(r.Entrypoint) > 0 {
		b = appendStringsField(b, "entrypoint", r.Entrypoint)
	}
	if r.WorkingDir != "" {
		b = appendStringField(b, "working_dir", r.WorkingDir)
	}
	if r.User != "" {
		b = appendStringField(b, "user", r.User)
	}
	if r.Privileged {
		b = append(b, `,"privileged":true`...)
	}
	if len(r.CapAdd) > 0 {
		b = appendStringsField(b, "cap_add", r.CapAdd)
	}
	if len(r.Env) > 0 {
		b = append(b, `,"env":`...)
		b = r.Env.appendJSON(b)
	}
	if len(r.Ports) > 0 {
		b = append(b, `,"ports":[`...)
		for i, p := range r.Ports {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPort(b, p)
		}
		b = append(b, ']')
	}
	if len(r.Volumes) > 0 {
		b = appendVolumes(b, r.Volumes)
	}
	if len(r.Labels) > 0 {
		b = append(b, `,"labels":`...)
		b = r.Labels.appendJSON(b)
	}
	if r.Healthcheck != nil {
		b = append(b, `,"healthcheck":`...)
		b = appendHealthcheck(b, r.Healthcheck)
	}
	if r.Restart != "" {
		b = appendStringField(b, "restart", r.Restart)
	}
	if len(r.DependsOn) > 0 {
		b = appendDependsOn(b, r.DependsOn)
	}
	if len(r.ConfigFiles) > 0 {
		b = appendConfigFiles(b, r.ConfigFiles)
	}
	if len(r.Options) > 0 {
		b = append(b, `,"options":`...)
		b = r.Options.appendJSON(b)
	}
	if len(r.Secrets) > 0 {
		b = appendFileRecords(b, "secrets", r.Secrets)
	}
	if len(r.Configs) > 0 {
		b = appendFileRecords(b, "configs", r.Configs)
	}
	if r.Build != "" {
		b = appendStringField(b, "build", r.Build)
	}
	if len(r.Networks) > 0 {
		b = append(b, `,"networks":`...)
		b = r.Networks.appendJSON(b)
	}
	return append(b, '}')
}

// appendStringField appends ,"name":"value".
func appendStringField(b []byte, name, value string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

// appendStringsField appends ,"name":[...]; xs is not empty.
func appendStringsField(b []byte, name string, xs []string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendStrings(b, xs)
}

func appendStrings(b []byte, xs []string) []byte {
	if xs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, x)
	}
	return append(b, ']')
}

func appendPort(b []byte, p spec.Port) []byte {
	b = append(b, '{')
	if p.HostIP != "" {
		b = append(b, `"host_ip":`...)
		b = appendJSONString(b, p.HostIP)
		b = append(b, ',')
	}
	if p.HostPort != 0 {
		b = append(b, `"host_port":`...)
		b = strconv.AppendUint(b, uint64(p.HostPort), 10)
		b = append(b, ',')
	}
	b = append(b, `"container_port":`...)
	b = strconv.AppendUint(b, uint64(p.ContainerPort), 10)
	b = appendStringField(b, "protocol", p.Protocol)
	return append(b, '}')
}

func appendHealthcheck(b []byte, h *spec.Healthcheck) []byte {
	return appendHealthcheckWith(b, h, appendStrings)
}

// appendHealthcheckWith is appendHealthcheck with the test list, when
// not empty, appended by appendTest.
func appendHealthcheckWith(b []byte, h *spec.Healthcheck, appendTest func(b []byte, test []string) []byte) []byte {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	if len(h.Test) > 0 {
		field("test")
		b = appendTest(b, h.Test)
	}
	for _, d := range []struct {
		name string
		v    spec.Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start_period", h.StartPeriod}} {
		if d.v != 0 {
			field(d.name)
			b = appendJSONString(b, d.v.String())
		}
	}
	if h.Retries != 0 {
		field("retries")
		b = strconv.AppendInt(b, int64(h.Retries), 10)
	}
	if h.Disable {
		field("disable")
		b = append(b, "true"...)
	}
	return append(b, '}')
}

// appendVolumes appends ,"volumes":[...]; vs is not empty.
func appendVolumes(b []byte, vs []spec.Volume) []byte {
	b = append(b, `,"volumes":[`...)
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b = appendJSONString(b, v.Type)
		if v.Source != "" {
			b = appendStringField(b, "source", v.Source)
		}
		b = appendStringField(b, "target", v.Target)
		if v.ReadOnly {
			b = append(b, `,"read_only":true`...)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendDependsOn appends ,"depends_on":[...]; ds is not empty.
func appendDependsOn(b []byte, ds []spec.Dependency) []byte {
	b = append(b, `,"depends_on":[`...)
	for i, d := range ds {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, d.Name)
		b = appendStringField(b, "condition", d.Condition)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendConfigFiles appends ,"config_files":{...}; m is not empty.
func appendConfigFiles(b []byte, m map[string]ConfigFile) []byte {
	b = append(b, `,"config_files":{`...)
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		c := m[k]
		b = appendJSONString(b, k)
		b = append(b, `:{"target":`...)
		b = appendJSONString(b, c.Target)
		b = append(b, `,"mode":`...)
		b = strconv.AppendUint(b, uint64(c.Mode), 10)
		b = appendStringField(b, "digest", c.Digest)
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendFileRecords(b []byte, name string, m map[string]FileRecord) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, `":{`...)
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		f := m[k]
		b = appendJSONString(b, k)
		b = append(b, `:{"target":`...)
		b = appendJSONString(b, f.Target)
		b = append(b, `,"mode":`...)
		b = strconv.AppendUint(b, uint64(f.Mode), 10)
		if f.UID != "" {
			b = appendStringField(b, "uid", f.UID)
		}
		if f.GID != "" {
			b = appendStringField(b, "gid", f.GID)
		}
		b = appendStringField(b, "digest", f.Digest)
		b = append(b, '}')
	}
	return append(b, '}')
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
