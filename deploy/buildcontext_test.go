package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/spec"
)

// TestBuildContextDigest pins what changes a context's digest (a file's
// content, mode, name, a new file, the Dockerfile, the Dockerfile's path)
// and what does not (a modification time alone, a .dockerignored file).
func TestBuildContextDigest(t *testing.T) {
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY . /\n", "src/app.txt": "v1\n",
		".dockerignore": "logs\n*.tmp\n!keep.tmp\n", "logs/today.log": "x\n", "a.tmp": "x", "keep.tmp": "k",
	})
	c := NewBuildContexts()
	b := spec.Build{Context: dir}
	digest := func() string {
		t.Helper()
		d, err := c.Digest(b)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := digest()
	if !strings.HasPrefix(base, "sha256:") || digest() != base {
		t.Fatalf("digest %q is not stable", base)
	}
	same := func(what string) {
		t.Helper()
		if d := digest(); d != base {
			t.Errorf("%s changed the digest", what)
		}
	}
	changed := func(what string) {
		t.Helper()
		d := digest()
		if d == base {
			t.Errorf("%s did not change the digest", what)
		}
		base = d
	}

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "src", "app.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	same("a modification time alone")
	write("logs/today.log", "more\n")
	same("an edit of an ignored directory's file")
	write("b.tmp", "new ignored file")
	same("a new ignored file")

	write("src/app.txt", "v2\n")
	changed("an edit of a source file")
	write("keep.tmp", "k2")
	changed("an edit of a file re-included by !keep.tmp")
	if err := os.Chmod(filepath.Join(dir, "src", "app.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	changed("a mode change")
	write("src/new.txt", "")
	changed("a new file")
	if err := os.Rename(filepath.Join(dir, "src", "new.txt"), filepath.Join(dir, "src", "renamed.txt")); err != nil {
		t.Fatal(err)
	}
	changed("a rename")
	write("Dockerfile", "FROM scratch\nCOPY src /\n")
	changed("a Dockerfile edit")
	write("other.Dockerfile", "FROM scratch\n")
	changed("a new file (other.Dockerfile)")
	b.Dockerfile = "other.Dockerfile"
	changed("another Dockerfile path")
	write(".dockerignore", "logs\n")
	changed("an edited .dockerignore (a.tmp, b.tmp are sent now)")
}

// TestBuildContextCache: planning again reads only the files whose size
// or modification time changed.
func TestBuildContextCache(t *testing.T) {
	files := map[string]string{"Dockerfile": "FROM scratch\n"}
	for i := range 50 {
		files[filepath.Join("src", strings.Repeat("f", i%7+1)+string(rune('a'+i%26))+".txt")] = strings.Repeat("x", i)
	}
	dir := writeContext(t, files)
	c := NewBuildContexts()
	b := spec.Build{Context: dir}
	if _, err := c.Digest(b); err != nil {
		t.Fatal(err)
	}
	cold := c.Hashed()
	if cold == 0 {
		t.Fatal("nothing hashed on the first read")
	}
	if _, err := c.Digest(b); err != nil {
		t.Fatal(err)
	}
	if c.Hashed() != cold {
		t.Fatalf("an unchanged context was read again: %d files hashed, then %d", cold, c.Hashed())
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "Dockerfile"), later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Digest(b); err != nil {
		t.Fatal(err)
	}
	if c.Hashed() != cold+1 {
		t.Fatalf("touching one file: %d files hashed, want 1", c.Hashed()-cold)
	}
}

// BenchmarkBuildContextDigest measures a pass over a 200-file, 20 MB
// context: cold (every file read) and warm (cache hits by size and
// mtime: only the directory walk).
func BenchmarkBuildContextDigest(b *testing.B) {
	files := map[string]string{"Dockerfile": "FROM scratch\nCOPY . /\n"}
	content := strings.Repeat("x", 100<<10)
	for i := range 200 {
		files[fmt.Sprintf("src/d%02d/f%03d.bin", i%10, i)] = content
	}
	dir := writeContext(b, files)
	build := spec.Build{Context: dir}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			if _, err := NewBuildContexts().Digest(build); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		c := NewBuildContexts()
		if _, err := c.Digest(build); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := c.Digest(build); err != nil {
				b.Fatal(err)
			}
		}
	})
}
