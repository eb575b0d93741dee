package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// TestCorpusWithoutReferencesUnchanged: a template without variable
// references is exactly what it was before stacks had variables: no
// compose file kept, the same digest (so a catalog re-import changes
// nothing), and Resolve returns its spec whatever the variables. The one
// corpus template with a reference (adminer's `$c`, which compose
// substitutes) keeps its file.
func TestCorpusWithoutReferencesUnchanged(t *testing.T) {
	vars := []spec.Variable{{Name: "c", Value: "x"}, {Name: "UID", Value: "1"}}
	for _, r := range LoadPaths(corpusDir(t)) {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Path, r.Err)
		}
		tmpl := r.Template
		if strings.HasSuffix(r.Path, "dbms/adminer/compose.yml") {
			if tmpl.Compose == "" {
				t.Errorf("%s: the compose file of a template with a reference is not kept", r.Path)
			}
			continue
		}
		if tmpl.Compose != "" {
			t.Errorf("%s: compose file kept for a template without references", r.Path)
		}
		if got, want := Digest(tmpl), digestBeforeVariables(tmpl); got != want {
			t.Errorf("%s: digest %s, was %s", r.Path, got, want)
		}
		res, err := Resolve(tmpl, vars)
		if err != nil || !reflect.DeepEqual(res.Spec, tmpl.Spec) || res.Uses != nil || res.Warnings != nil {
			t.Errorf("%s: Resolve = %+v, %v; want the stored spec", r.Path, res, err)
		}
	}
}

// digestBeforeVariables is Digest as it was before templates kept their
// compose file.
func digestBeforeVariables(t spec.Template) string {
	b, err := json.Marshal(struct {
		Name     string           `json:"name"`
		Category string           `json:"category"`
		Spec     spec.ServiceSpec `json:"spec"`
	}{t.Name, t.Category, t.Spec.Canonical()})
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
