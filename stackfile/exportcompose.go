package stackfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// The parts of a stack file Export writes in compose syntax: secrets,
// configs, volumes and networks declarations, build sections and options.

// fileMountEntries writes a service's secrets or configs in compose's long
// syntax; the content goes to the top-level declaration (fileDecls).
func fileMountEntries(in []spec.FileMount) []any {
	var out []any
	for _, f := range in {
		e := map[string]any{"source": f.Name, "target": escapeDollars(f.Target)}
		if f.UID != "" {
			e["uid"] = f.UID
		}
		if f.GID != "" {
			e["gid"] = f.GID
		}
		if f.Mode != 0 {
			e["mode"] = octal(f.Mode)
		}
		out = append(out, e)
	}
	return out
}

// octal is a file mode as YAML's octal integer (0o644).
func octal(m uint32) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: fmt.Sprintf("0o%o", m)}
}

// fileDecls writes the top-level secrets and configs the instances use:
// a secret's content as a secret declared with environment: NAME, a
// config's as content. A name must mean one content across the stack.
func (w *exporter) fileDecls(insts []spec.Instance) (map[string]any, map[string]any) {
	secrets, configs := map[string]any{}, map[string]any{}
	seenSecret, seenConfig := map[string]string{}, map[string]string{}
	for _, inst := range insts {
		for _, f := range inst.Overrides.Secrets {
			if prev, ok := seenSecret[f.Name]; ok {
				if prev != f.Content {
					w.fail("instances."+inst.Name+".secrets."+f.Name, "another instance has a secret of the same name with other content, and a stack file declares each secret once; rename one")
				}
				continue
			}
			seenSecret[f.Name] = f.Content
			secrets[f.Name] = map[string]any{"environment": w.secretName(f.Content, f.Name, "SECRET_"+f.Name)}
			w.fileNote(inst.Name, "secret", f)
		}
		for _, f := range inst.Overrides.Configs {
			if prev, ok := seenConfig[f.Name]; ok {
				if prev != f.Content {
					w.fail("instances."+inst.Name+".configs."+f.Name, "another instance has a config of the same name with other content, and a stack file declares each config once; rename one")
				}
				continue
			}
			seenConfig[f.Name] = f.Content
			configs[f.Name] = map[string]any{"content": escapeDollars(f.Content)}
			w.fileNote(inst.Name, "config", f)
		}
	}
	return nilIfEmptyMap(secrets), nilIfEmptyMap(configs)
}

func (w *exporter) fileNote(instance, kind string, f spec.FileMount) {
	if f.From != "" && f.From != "content" && !strings.HasPrefix(f.From, "environment ") {
		w.notes = append(w.notes, fmt.Sprintf("instances.%s.%ss.%s: read from %s at import, it is written as %s.", instance, kind, f.Name, f.From,
			map[string]string{"secret": "a secret declared with environment:", "config": "content"}[kind]))
	}
}

// volumeDefs writes the top-level volume declarations the instances use.
func (w *exporter) volumeDefs(insts []spec.Instance) map[string]any {
	out := map[string]any{}
	seen := map[string]spec.VolumeDef{}
	for _, inst := range insts {
		for _, d := range inst.Overrides.VolumeDefs {
			d.Source = ""
			if prev, ok := seen[d.Key]; ok {
				if !equalJSON(prev, d) {
					w.fail("instances."+inst.Name+".volumes."+d.Key, "another instance declares volume %s otherwise, and a stack file declares each volume once; make the declarations equal", d.Key)
				}
				continue
			}
			seen[d.Key] = d
			m := map[string]any{}
			if d.Name != "" {
				m["name"] = escapeDollars(d.Name)
			}
			if d.Driver != "" {
				m["driver"] = escapeDollars(d.Driver)
			}
			if len(d.DriverOpts) > 0 {
				m["driver_opts"] = escapeMap(d.DriverOpts)
			}
			if len(d.Labels) > 0 {
				m["labels"] = escapeMap(d.Labels)
			}
			if d.External {
				m["external"] = true
			}
			out[d.Key] = m
		}
	}
	return nilIfEmptyMap(out)
}

// networks writes the stack's networks section: the definitions every
// instance carries (a stack file gives the same ones to each).
func (w *exporter) networks(insts []spec.Instance) map[string]any {
	var defs spec.NetworkDefinitions
	for i, inst := range insts {
		d := inst.Overrides.NetworkDefinitions.Canonical()
		if i == 0 {
			defs = d
			continue
		}
		if !equalJSON(defs, d) {
			w.fail("instances."+inst.Name+".network_definitions", "the instances define the stack's networks differently, and a stack file defines them once for every instance; make the definitions equal")
			return nil
		}
	}
	if len(defs) == 0 {
		return nil
	}
	out := map[string]any{}
	for key, n := range defs {
		m := map[string]any{}
		set := func(k string, v any, ok bool) {
			if ok {
				m[k] = v
			}
		}
		set("name", escapeDollars(n.Name), n.Name != "")
		set("external", true, n.External)
		set("driver", escapeDollars(n.Driver), n.Driver != "")
		set("driver_opts", escapeMap(n.DriverOpts), len(n.DriverOpts) > 0)
		set("labels", escapeMap(n.Labels), len(n.Labels) > 0)
		set("internal", true, n.Internal)
		set("attachable", true, n.Attachable)
		set("enable_ipv6", true, n.EnableIPv6)
		if len(n.Subnets) > 0 {
			var pools []any
			for _, s := range n.Subnets {
				p := map[string]any{"subnet": s.Subnet}
				set := func(k, v string) {
					if v != "" {
						p[k] = v
					}
				}
				set("gateway", s.Gateway)
				set("ip_range", s.IPRange)
				pools = append(pools, p)
			}
			m["ipam"] = map[string]any{"config": pools}
		}
		out[key] = m
	}
	return out
}

// attachments writes an instance's networks in the map form.
func attachments(in spec.Networks) map[string]any {
	out := map[string]any{}
	for key, a := range in {
		if a.IsZero() {
			out[key] = nil
			continue
		}
		out[key] = escapeAny(jsonValue(a))
	}
	return out
}

// build writes a build section in compose's syntax.
func (w *exporter) build(prefix string, b *spec.Build) map[string]any {
	if b == nil {
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(b.Args)) {
		if spec.IsSecretName(k) {
			w.fail(prefix+".build.args."+k, "the build argument is a secret, and a stack file can only take build arguments as values; the export never writes a secret value")
		}
	}
	m, _ := jsonValue(b).(map[string]any)
	m, _ = escapeAny(m).(map[string]any)
	bytesAsText(m, "shm_size")
	return m
}

// options writes the instance's compose options as a compose file has
// them, and its restart policy as deploy.restart_policy (the stack file's
// way to set it).
func (w *exporter) options(prefix string, o spec.Options, restart string) map[string]any {
	if o.Logging != nil {
		for _, k := range slices.Sorted(maps.Keys(o.Logging.Options)) {
			if spec.IsSecretName(k) {
				w.fail(prefix+".logging.options."+k, "the log option is a secret, and a stack file takes option values literally; the export never writes a secret value")
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o.Annotations)) {
		if spec.IsSecretName(k) {
			w.fail(prefix+".annotations."+k, "the annotation is a secret, and a stack file takes option values literally; the export never writes a secret value")
		}
	}
	out, err := composeOptions(o)
	if err != nil {
		w.fail(prefix, "the instance's compose options cannot be written: %v", err)
		return nil
	}
	if out == nil {
		out = map[string]any{}
	}
	if restart != "" {
		policy, ok := restartPolicy(restart)
		if !ok {
			w.fail(prefix+".restart", "restart %q cannot be written as deploy.restart_policy, the stack file's way to set a restart policy; use always, no or on-failure", restart)
		} else {
			deploy, _ := out["deploy"].(map[string]any)
			if deploy == nil {
				deploy = map[string]any{}
			}
			deploy["restart_policy"] = policy
			out["deploy"] = deploy
		}
	}
	return nilIfEmptyMap(out)
}

// composeOptions writes options as compose writes them: set on a compose
// service the way apply sets them (project.ApplyOptions), marshalled with
// compose's own types, and read back as the keys an instance takes
// (catalog.ServiceOptionKeys), every "$" doubled. Reading them with
// catalog.ServiceOptions gives o back: it is how a template's options are
// read too.
func composeOptions(o spec.Options) (map[string]any, error) {
	var svc types.ServiceConfig
	project.ApplyOptions(&svc, o)
	raw, err := yaml.Marshal(svc)
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := yaml.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, k := range catalog.ServiceOptionKeys() {
		if v, ok := all[k]; ok {
			out[k] = escapeAny(v)
		}
	}
	return out, nil
}

// restartPolicy is the deploy.restart_policy the stack file reader turns
// into restart.
func restartPolicy(restart string) (map[string]any, bool) {
	switch restart {
	case "always":
		return map[string]any{"condition": "any"}, true
	case "no":
		return map[string]any{"condition": "none"}, true
	case "on-failure":
		return map[string]any{"condition": "on-failure"}, true
	}
	if n, ok := strings.CutPrefix(restart, "on-failure:"); ok {
		if v, err := strconv.ParseUint(n, 10, 64); err == nil && v > 0 {
			return map[string]any{"condition": "on-failure", "max_attempts": v}, true
		}
	}
	return nil, false
}

// bytesAsText writes sizes (spec.Bytes, numbers in JSON) as text, as
// compose's schema wants them.
func bytesAsText(m map[string]any, keys ...string) {
	for _, k := range keys {
		if n, ok := m[k].(int64); ok {
			m[k] = strconv.FormatInt(n, 10)
		}
	}
}

// jsonValue returns v as generic JSON values (objects, arrays, strings,
// bools, int64 or float64 numbers), in the names its JSON tags give,
// which are compose's.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil
	}
	return numbers(out)
}

// numbers turns json.Number values into int64 or float64.
func numbers(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, item := range t {
			t[k] = numbers(item)
		}
	case []any:
		for i, item := range t {
			t[i] = numbers(item)
		}
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n
		}
		f, _ := t.Float64()
		return f
	}
	return v
}

// escapeDollars doubles every $, as the compose loader that reads options,
// builds, networks and top-level declarations turns $$ into $.
func escapeDollars(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func escapeMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = escapeDollars(v)
	}
	return out
}

// escapeAny escapes every string value inside v.
func escapeAny(v any) any {
	switch t := v.(type) {
	case string:
		return escapeDollars(t)
	case map[string]any:
		for k, item := range t {
			t[k] = escapeAny(item)
		}
	case []any:
		for i, item := range t {
			t[i] = escapeAny(item)
		}
	}
	return v
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

func nilIfEmptyMap[V any](m map[string]V) map[string]V {
	if len(m) == 0 {
		return nil
	}
	return m
}
