package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/devarch/devarch-controller/spec"
)

// Digest returns the content hash of a template: the hex SHA-256 of the
// canonical JSON of its name, category and spec (and compose file, kept
// when it references variables). It ignores the id and
// source path, so re-importing an unchanged template from another checkout
// yields the same digest, and it does not depend on the order of set-like
// lists (env, labels, ports, volumes, dependencies, config files).
func Digest(t spec.Template) string {
	b, err := json.Marshal(struct {
		Name     string           `json:"name"`
		Category string           `json:"category"`
		Spec     spec.ServiceSpec `json:"spec"`
		Compose  string           `json:"compose,omitempty"`
	}{t.Name, t.Category, t.Spec.Canonical(), t.Compose})
	if err != nil {
		// ServiceSpec holds only strings, numbers, bools and slices of them.
		panic("catalog: marshal template: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
