package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// FuzzLoad writes arbitrary bytes as a template file (with one config file
// available) and loads it: loading never panics, and a template that loads
// has the service's name and only valid config file paths.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yml")
	options, _ := filepath.Glob("testdata/options*/*/compose.yml")
	seeds = append(seeds, options...)
	for _, p := range seeds {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	// Seeds from devarch's corpus when it is there (required under
	// DEVARCH_TEST_REQUIRE=1); the target still fuzzes without them.
	corpus := filepath.Join(testenv.CorpusDir(f), "devarch-services")
	for _, p := range []string{"gateway/traefik", "database/postgres", "backend/php", "storage/localstack", "dbms/adminer"} {
		data, err := os.ReadFile(filepath.Join(corpus, p, "compose.yml"))
		if err != nil {
			if testenv.Required() {
				f.Fatalf("corpus seed: %v (set %s to the corpus directory)", err, testenv.EnvCorpus)
			}
			continue
		}
		f.Add(data)
	}
	f.Add([]byte("services:\n  a:\n    image: x\n    x-devarch-config:\n      app.conf: /etc/app.conf\n"))
	f.Add([]byte("services:\n  a:\n    image: x\n    ports: ['1:2-3', '$$${X}']\n"))
	f.Add([]byte("services:\n  a: &a\n    image: x\n  b: *a\n"))
	f.Add([]byte("services:\n  p:\n    image: x\n    configs:\n      - source: c\n        target:\nconfigs:\n  c:\n    content: hi\n"))
	f.Add([]byte("services:\n  a:\n    image: x:${X:-1}\n    read_only: ${X}\n    ports: ['${X}:80']\n    user: ${c:?set c}\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := filepath.Join(t.TempDir(), "fuzz", "tmpl")
		if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "config", "app.conf"), []byte("k=v\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "compose.yml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := LoadFile(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if res.Template.Name == "" || res.Template.Category != "fuzz" {
			t.Fatalf("template %q in category %q", res.Template.Name, res.Template.Category)
		}
		for _, c := range res.Template.Spec.ConfigFiles {
			if err := spec.ValidateConfigPath(c.Path); err != nil {
				t.Fatalf("accepted config file path: %v", err)
			}
		}
		_ = Digest(res.Template)
		if res.Template.Compose != "" {
			_, _ = Resolve(res.Template, []spec.Variable{{Name: "X", Value: "1"}, {Name: "c", Value: "true"}})
		}
	})
}
