package catalog

import (
	"bytes"
	"cmp"
	"encoding/json"
	"maps"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/spec"
)

// handledKeys are the service keys (JSON names of types.ServiceConfig) that
// the mapper reads or deliberately supersedes. Any other key that is set
// produces an "unsupported" warning, so a field added to compose later is
// caught without a code change.
var handledKeys = map[string]bool{
	// mapped to spec.ServiceSpec
	"image": true, "command": true, "entrypoint": true, "working_dir": true,
	"user": true, "privileged": true, "cap_add": true, "environment": true,
	"ports": true, "volumes": true, "labels": true, "healthcheck": true,
	"restart": true, "depends_on": true,
	// superseded: the controller names containers devarch-<stack>-<instance>;
	// networks are read by mapper.serviceNetworks
	"container_name": true, "networks": true,
	// mapped by mapper.build (its sub-keys the builder cannot apply are warned about)
	"build": true,
	// read by mapper.options (with the keys of spec.Options)
	"deploy": true, "scale": true,
	// read by mapper.files
	"env_file": true, "secrets": true, "configs": true,
}

// unsupportedHints gives a better next step than "ignored" for keys users
// commonly reach for.
var unsupportedHints = map[string]string{
	"external_links": "instances of a stack reach each other by instance name",
	"label_file":     "put the labels under labels instead",
}

// unsupported warns about every service key that is set but neither mapped
// nor superseded.
func (m *mapper) unsupported(svc types.ServiceConfig) {
	options := map[string]bool{}
	for _, k := range spec.OptionKeys() {
		options[k] = true
	}
	for _, k := range setKeys(svc) {
		if handledKeys[k] || options[k] {
			continue
		}
		if k == "gpus" {
			m.fail(k, "GPU requests are not supported by the controller yet; remove gpus or run the service with docker compose")
			continue
		}
		if note, ok := optionKeyNote(k); ok {
			m.ignore(k, "%s", note)
			continue
		}
		msg := "is not supported by the controller yet and is ignored"
		if hint, ok := unsupportedHints[k]; ok {
			msg += "; " + hint
		}
		m.ignore(k, "%s", msg)
	}
}

// setKeys returns, sorted, the JSON keys of v whose values are not empty.
// It relies on compose-go's JSON encoding, where unset fields are omitted or
// null.
func setKeys(v any) []string {
	b, err := json.Marshal(v)
	if err != nil {
		return []string{"(unreadable: " + err.Error() + ")"}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil
	}
	var keys []string
	for k, raw := range fields {
		if !emptyJSON(raw) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func emptyJSON(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "null", "false", "0", `""`, "[]", "{}":
		return true
	}
	return false
}

func sortedKeys[M ~map[K]V, K cmp.Ordered, V any](m M) []K {
	return slices.Sorted(maps.Keys(m))
}
