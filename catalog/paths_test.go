package catalog

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

func TestLoadPaths(t *testing.T) {
	root := t.TempDir()
	svc := func(name string) string { return "services:\n  " + name + ":\n    image: busybox:1.36\n" }
	files := map[string]string{
		"b/zeta/compose.yml":             svc("zeta"),
		"a/alpha/compose.yaml":           svc("alpha"),
		"a/broken/compose.yml":           "services: [",
		"a/beta/compose.yml":             svc("beta"),
		"a/beta/config/compose.yml":      svc("inside-config"), // a config file of beta, not a template
		"a/.hidden/compose.yml":          svc("hidden"),
		"a/beta/docker-compose.yml":      svc("other-name"), // not a template file name
		"c/alpha-again/compose.yml":      svc("alpha"),      // duplicate template name
		"a/beta/README.md":               "not yaml",
		"standalone/gamma/compose.yml":   svc("gamma"),
		"standalone/gamma/notes/plan.md": "x",
	}
	for p, content := range files {
		writeFile(t, filepath.Join(root, filepath.FromSlash(p)), content)
	}
	missing := filepath.Join(root, "does-not-exist")
	results := LoadPaths(
		filepath.Join(root, "a"),
		filepath.Join(root, "b"),
		filepath.Join(root, "c"),
		filepath.Join(root, "standalone", "gamma", "compose.yml"),
		missing,
	)

	type outcome struct {
		path, name string
		failed     bool
	}
	var got []outcome
	for _, r := range results {
		rel, _ := filepath.Rel(root, r.Path)
		got = append(got, outcome{filepath.ToSlash(rel), r.Template.Name, r.Err != nil})
	}
	want := []outcome{
		{"a/alpha/compose.yaml", "alpha", false},
		{"a/beta/compose.yml", "beta", false},
		{"a/broken/compose.yml", "", true},
		{"b/zeta/compose.yml", "zeta", false},
		{"c/alpha-again/compose.yml", "", true},
		{"standalone/gamma/compose.yml", "gamma", false},
		{"does-not-exist", "", true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadPaths:\n%+v\nwant:\n%+v", got, want)
	}
	for _, r := range results {
		if r.Err != nil && !strings.Contains(r.Err.Error(), r.Path) {
			t.Errorf("error %q does not name %s", r.Err, r.Path)
		}
	}
	if msg := results[4].Err.Error(); !strings.Contains(msg, `template "alpha" is already defined by `+filepath.Join(root, "a", "alpha", "compose.yaml")) {
		t.Errorf("duplicate error = %q, want it to name the first file", msg)
	}
}

// TestLoadPathsUnreadableDirectory: a directory LoadPaths cannot read is
// one error. Root reads every directory, so as root (CI) the check runs in
// a copy of this test binary started as the unprivileged user nobody.
func TestLoadPathsUnreadableDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		runUnprivileged(t, "TestLoadPathsUnreadableDirectory")
		return
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "locked", "x", "compose.yml"), "services:\n  x:\n    image: busybox:1.36\n")
	if err := os.Chmod(filepath.Join(root, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(root, "locked"), 0o755) })
	results := LoadPaths(root)
	if len(results) != 1 || results[0].Err == nil {
		t.Fatalf("LoadPaths = %+v, want one error for the unreadable directory", results)
	}
}

// nobody is the uid and gid of the unprivileged user tests run as.
const nobody = 65534

// runUnprivileged runs the test named name in a copy of this test binary
// as the user nobody, and fails with its output unless that test ran and
// passed. Only root may call it.
func runUnprivileged(t *testing.T, name string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "catalog-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	// Chmod, not Mkdir's mode: the umask must not remove the sticky bit.
	for p, mode := range map[string]os.FileMode{dir: 0o755, tmp: 0o1777} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "catalog.test")
	copyFile(t, os.Args[0], bin, 0o755)
	cmd := exec.Command(bin, "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s as uid %d: %v\n%s", name, nobody, err, out)
	}
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
