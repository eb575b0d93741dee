package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvCorpus names the directory holding devarch's shared corpus (its
// devarch-services/ and devarch-stacks/ folders). Unset, the corpus is
// shared/corpus next to the repository: ../shared/corpus from the
// repository root. scripts/test.sh checks that it exists and exports it.
const EnvCorpus = "DEVARCH_CORPUS"

// CorpusDir returns the corpus directory ($DEVARCH_CORPUS, else
// ../shared/corpus from the repository root), without checking that it
// exists.
func CorpusDir(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv(EnvCorpus); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(t), "..", "shared", "corpus")
}

// Corpus returns the path of rel (e.g. "devarch-services") inside the
// corpus. When it is missing the test is skipped, or fails under
// DEVARCH_TEST_REQUIRE=1.
func Corpus(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(CorpusDir(t), rel)
	if _, err := os.Stat(p); err != nil {
		Skipf(t, "devarch's corpus not found: %v; put it at ../shared/corpus next to the repository or set %s to its directory", err, EnvCorpus)
	}
	return p
}

// RepoRoot returns the module's root directory (the one holding go.mod),
// found by walking up from the test's working directory (its package).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's working directory")
		}
		dir = parent
	}
}
