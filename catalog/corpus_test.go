package catalog

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
)

// corpusDir returns the devarch services corpus (see testenv.Corpus).
func corpusDir(t testing.TB) string {
	t.Helper()
	return testenv.Corpus(t, "devarch-services")
}

// examplesDir holds the templates the shop export needs beyond the corpus.
const examplesDir = "../examples/templates"

func byName(t *testing.T, results []FileResult) map[string]FileResult {
	t.Helper()
	m := map[string]FileResult{}
	for _, r := range results {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Path, r.Err)
			continue
		}
		m[r.Template.Name] = r
	}
	return m
}

func TestLoadPathsCorpus(t *testing.T) {
	corpus := corpusDir(t)
	results := LoadPaths(corpus)
	if len(results) != 174 {
		t.Fatalf("loaded %d files, want 174", len(results))
	}
	templates := byName(t, results)
	if len(templates) != 174 {
		t.Fatalf("%d templates loaded without error, want 174", len(templates))
	}

	// Every warning the corpus raises, by file and key.
	var warnings []string
	for _, r := range results {
		for _, w := range r.Warnings {
			rel, _ := filepath.Rel(corpus, w.File)
			warnings = append(warnings, filepath.ToSlash(rel)+": "+w.Key)
		}
	}
	wantWarnings := []string{
		"backend/php/compose.yml: services.php.volumes[1]",
		"dbms/adminer/compose.yml: services.adminer.healthcheck.test[1]",
		"storage/localstack/compose.yml: services.localstack.ports[1]",
	}
	if !reflect.DeepEqual(warnings, wantWarnings) {
		t.Errorf("corpus warnings:\n%q\nwant:\n%q", warnings, wantWarnings)
	}

	for name, r := range templates {
		if r.Template.SourcePath != r.Path {
			t.Errorf("%s: SourcePath %q, want %q", name, r.Template.SourcePath, r.Path)
		}
		if want := filepath.Base(filepath.Dir(filepath.Dir(r.Path))); r.Template.Category != want {
			t.Errorf("%s: category %q, want %q", name, r.Template.Category, want)
		}
		if r.Template.Spec.Image == "" && name != "php" {
			t.Errorf("%s: no image", name)
		}
	}

	php := templates["php"].Template
	if php.Spec.Image != "" || php.Category != "backend" {
		t.Errorf("php: image %q category %q, want no image in backend", php.Spec.Image, php.Category)
	}
	if b := php.Spec.Build; b == nil || b.Context != filepath.Join(corpus, "backend", "php", "config") || b.DockerfilePath() != "Dockerfile" {
		t.Errorf("php build = %+v, want the context backend/php/config resolved against the template's folder", b)
	}
	if len(php.Spec.Volumes) != 1 || php.Spec.Volumes[0].Source != "../../../apps" {
		t.Errorf("php volumes = %+v, want only the relative ../../../apps bind mount", php.Spec.Volumes)
	}

	traefik := templates["traefik"].Template
	if len(traefik.Spec.ConfigFiles) != 2 {
		t.Fatalf("traefik has %d config files, want 2", len(traefik.Spec.ConfigFiles))
	}
	wantTargets := map[string]string{
		"dynamic/routes.yml": "/etc/traefik/dynamic/routes.yml",
		"traefik.yml":        "/etc/traefik/traefik.yml",
	}
	for _, c := range traefik.Spec.ConfigFiles {
		data, err := os.ReadFile(filepath.Join(corpus, "gateway", "traefik", "config", filepath.FromSlash(c.Path)))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 || c.Content != string(data) {
			t.Errorf("traefik %s: content does not match the file (%d bytes vs %d)", c.Path, len(c.Content), len(data))
		}
		if c.Target != wantTargets[c.Path] || c.Mode != 0o644 {
			t.Errorf("traefik %s: target %q mode %#o, want %q 0644", c.Path, c.Target, c.Mode, wantTargets[c.Path])
		}
	}

	mssql := templates["mssql"].Template.Spec.Healthcheck
	if mssql == nil || !slices.ContainsFunc(mssql.Test, func(s string) bool {
		return strings.Contains(s, `-P "${MSSQL_SA_PASSWORD}"`)
	}) {
		t.Errorf("mssql healthcheck %+v: want the $${MSSQL_SA_PASSWORD} escape kept as a literal ${MSSQL_SA_PASSWORD}", mssql)
	}
}

func TestLoadPathsCorpusIsDeterministic(t *testing.T) {
	corpus := corpusDir(t)
	first := LoadPaths(corpus)
	second := LoadPaths(corpus)
	if !reflect.DeepEqual(first, second) {
		t.Fatal("two loads of the corpus differ")
	}
	digests := map[string]string{}
	for i, r := range first {
		d := Digest(r.Template)
		if d != Digest(second[i].Template) {
			t.Errorf("%s: digest differs between loads", r.Path)
		}
		if other, dup := digests[d]; dup {
			t.Errorf("%s and %s have the same digest", r.Path, other)
		}
		digests[d] = r.Path
	}
}

func TestLoadPathsExamples(t *testing.T) {
	results := LoadPaths(corpusDir(t), examplesDir)
	// 174 corpus templates, node-api and vite-web (for the shop export)
	// and the three demo templates.
	if len(results) != 179 {
		t.Fatalf("loaded %d files, want 179", len(results))
	}
	templates := byName(t, results)
	for name, want := range map[string]struct{ category, image string }{
		"node-api": {"backend", "node:20-alpine"},
		"vite-web": {"frontend", "node:22-alpine"},
		"demo-web": {"demo", "devarch-demo/web:1"},
		"demo-api": {"demo", "devarch-demo/api:1"},
	} {
		r, ok := templates[name]
		if !ok {
			t.Errorf("template %s not loaded", name)
			continue
		}
		s := r.Template.Spec
		if r.Template.Category != want.category || s.Image != want.image || len(s.Ports) == 0 || len(s.Env) == 0 || s.Healthcheck == nil {
			t.Errorf("%s = %s, want category %s, image %s, ports, env and a healthcheck", name, mustJSON(r.Template), want.category, want.image)
		}
		if len(r.Warnings) != 0 {
			t.Errorf("%s: unexpected warnings %v", name, r.Warnings)
		}
	}
}
