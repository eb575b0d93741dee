package testenv

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// recorder stands in for a test, recording how Skip ended it.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skip(args ...any)                  { r.skip = fmt.Sprint(args...) }

func TestSkipFailsUnderRequire(t *testing.T) {
	for _, tt := range []struct {
		require   string
		wantFatal bool
	}{{"1", true}, {"", false}, {"0", false}} {
		t.Run("require="+tt.require, func(t *testing.T) {
			t.Setenv(EnvRequire, tt.require)
			r := &recorder{}
			Skipf(r, "promtool %s", "missing")
			if tt.wantFatal {
				if !strings.Contains(r.fatal, "promtool missing") || !strings.Contains(r.fatal, EnvRequire+"=1") || r.skip != "" {
					t.Errorf("fatal %q, skip %q: want a failure naming the reason and %s", r.fatal, r.skip, EnvRequire)
				}
				return
			}
			if r.skip != "promtool missing" || r.fatal != "" {
				t.Errorf("fatal %q, skip %q: want a skip with the reason", r.fatal, r.skip)
			}
		})
	}
}

func TestCorpusDirFromEnvironment(t *testing.T) {
	t.Setenv(EnvCorpus, "/somewhere/corpus")
	if got := CorpusDir(t); got != "/somewhere/corpus" {
		t.Errorf("CorpusDir = %q, want %s", got, "/somewhere/corpus")
	}
	t.Setenv(EnvCorpus, "")
	t.Setenv(EnvRequire, "")
	if got, want := CorpusDir(t), RepoRoot(t)+"/../shared/corpus"; got != filepath.Clean(want) {
		t.Errorf("CorpusDir = %q, want %q", got, want)
	}
}
