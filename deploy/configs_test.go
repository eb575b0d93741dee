package deploy

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

func configStack(name string, instances ...spec.Instance) spec.Stack {
	return spec.Stack{ID: 1, Name: name, Enabled: true, Instances: instances}
}

func configInstance(name string, enabled bool, files ...spec.ConfigFile) spec.Instance {
	return spec.Instance{ID: 1, Name: name, Enabled: enabled, Effective: spec.Effective{ConfigFiles: files}}
}

func file(path, content string, mode uint32) spec.ConfigFile {
	return spec.ConfigFile{Path: path, Target: "/etc/" + path, Content: content, Mode: mode}
}

// tree returns every entry under root as relative slash path → "mode content"
// (folders: "dir mode").
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			out[filepath.ToSlash(rel)] = "dir " + fi.Mode().Perm().String()
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = fi.Mode().String() + " " + string(b)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

func TestMaterializeConfigsWritesFiles(t *testing.T) {
	state := t.TempDir()
	stack := configStack("shop",
		configInstance("db", true,
			file("postgresql.conf", "max_connections = 50\n", 0),
			file("init/01-schema.sql", "create table t();", 0o600),
			file("bin/entry.sh", "#!/bin/sh\n", 0o755),
		),
		configInstance("web", true, file("nginx.conf", "events {}", 0o640)),
		configInstance("off", false, file("ignored.conf", "x", 0)),
	)
	res, err := MaterializeConfigs(t.Context(), state, stack)
	if err != nil {
		t.Fatalf("MaterializeConfigs: %v", err)
	}
	want := map[string]string{
		".":                     "dir -rwxr-xr-x",
		"db":                    "dir -rwxr-xr-x",
		"db/bin":                "dir -rwxr-xr-x",
		"db/bin/entry.sh":       "-rwxr-xr-x #!/bin/sh\n",
		"db/init":               "dir -rwxr-xr-x",
		"db/init/01-schema.sql": "-rw------- create table t();",
		"db/postgresql.conf":    "-rw-r--r-- max_connections = 50\n",
		"web":                   "dir -rwxr-xr-x",
		"web/nginx.conf":        "-rw-r----- events {}",
	}
	got := tree(t, ConfigDir(state, "shop"))
	if !maps.Equal(got, want) {
		t.Errorf("tree =\n%v\nwant\n%v", got, want)
	}
	wantFiles := []string{
		ConfigPath(state, "shop", "db", "bin/entry.sh"),
		ConfigPath(state, "shop", "db", "init/01-schema.sql"),
		ConfigPath(state, "shop", "db", "postgresql.conf"),
		ConfigPath(state, "shop", "web", "nginx.conf"),
	}
	if res.Dir != filepath.Join(state, "stacks", "shop") || !slices.Equal(res.Files, wantFiles) {
		t.Errorf("result = %+v, want dir %s files %v", res, filepath.Join(state, "stacks", "shop"), wantFiles)
	}
	for _, f := range res.Files {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("reported file %s: %v", f, err)
		}
	}
	assertNoWorkFolders(t, state)
}

func TestMaterializeConfigsReplacesPreviousContent(t *testing.T) {
	state := t.TempDir()
	first := configStack("shop",
		configInstance("db", true, file("a.conf", "one", 0), file("old/b.conf", "two", 0)),
		configInstance("gone", true, file("c.conf", "three", 0)),
	)
	if _, err := MaterializeConfigs(t.Context(), state, first); err != nil {
		t.Fatalf("first MaterializeConfigs: %v", err)
	}
	// Idempotent: the same input gives the same tree.
	before := tree(t, ConfigDir(state, "shop"))
	if _, err := MaterializeConfigs(t.Context(), state, first); err != nil {
		t.Fatalf("repeat MaterializeConfigs: %v", err)
	}
	if after := tree(t, ConfigDir(state, "shop")); !maps.Equal(before, after) {
		t.Errorf("repeat changed the tree:\n%v\n%v", before, after)
	}
	second := configStack("shop", configInstance("db", true, file("a.conf", "one, edited", 0)))
	if _, err := MaterializeConfigs(t.Context(), state, second); err != nil {
		t.Fatalf("second MaterializeConfigs: %v", err)
	}
	want := map[string]string{".": "dir -rwxr-xr-x", "db": "dir -rwxr-xr-x", "db/a.conf": "-rw-r--r-- one, edited"}
	if got := tree(t, ConfigDir(state, "shop")); !maps.Equal(got, want) {
		t.Errorf("tree after edit =\n%v\nwant\n%v", got, want)
	}
	assertNoWorkFolders(t, state)
}

// TestMaterializeConfigsStopsWhenCancelled: a context cancelled while the
// files are written (the stack's lock lost, say) stops before the next
// file, removes the temporary folder and keeps the previous files.
func TestMaterializeConfigsStopsWhenCancelled(t *testing.T) {
	state := t.TempDir()
	old := configStack("shop", configInstance("db", true, file("a.conf", "old", 0)))
	if _, err := MaterializeConfigs(t.Context(), state, old); err != nil {
		t.Fatal(err)
	}
	before := tree(t, ConfigDir(state, "shop"))
	lost := errors.New("stack lock lost")
	ctx, cancel := context.WithCancelCause(t.Context())
	written := 0
	m := materializer{rename: os.Rename, writeFile: func(path, data string, mode fs.FileMode) error {
		written++
		if written == 2 {
			cancel(lost)
		}
		return writeFileSync(path, data, mode)
	}}
	next := configStack("shop", configInstance("db", true, file("a.conf", "new", 0), file("b.conf", "new", 0), file("c.conf", "new", 0)))
	_, err := m.materialize(ctx, state, next)
	if !errors.Is(err, lost) {
		t.Fatalf("materialize = %v, want the cancel cause", err)
	}
	if written != 2 {
		t.Errorf("%d files written, want 2 (none after the cancel)", written)
	}
	if after := tree(t, ConfigDir(state, "shop")); !maps.Equal(before, after) {
		t.Errorf("a cancelled write changed the folder:\n%v\nwant\n%v", after, before)
	}
	assertNoWorkFolders(t, state)
}

func TestMaterializeConfigsRejectsBadPaths(t *testing.T) {
	tests := []struct {
		name    string
		stack   spec.Stack
		wantErr string
	}{
		{"parent", configStack("shop", configInstance("db", true, file("../x", "x", 0))), `leaves the instance's config folder`},
		{"nested parent", configStack("shop", configInstance("db", true, file("a/../../x", "x", 0))), `leaves the instance's config folder`},
		{"absolute", configStack("shop", configInstance("db", true, file("/etc/passwd", "x", 0))), `is absolute`},
		{"unclean", configStack("shop", configInstance("db", true, file("a//b", "x", 0))), `is not clean`},
		{"backslash", configStack("shop", configInstance("db", true, file(`..\x`, "x", 0))), `backslash`},
		{"empty", configStack("shop", configInstance("db", true, file("", "x", 0))), `is empty`},
		{"bad mode", configStack("shop", configInstance("db", true, file("a", "x", 0o4755))), `bits outside 0777`},
		{"file and folder", configStack("shop", configInstance("db", true, file("a", "x", 0), file("a/b", "y", 0))), `also used as the folder of "db/a/b"`},
		{"twice", configStack("shop", configInstance("db", true, file("a", "x", 0), file("a", "y", 0))), `defined twice`},
		{"stack name", configStack("../up", configInstance("db", true, file("a", "x", 0))), `not DNS-safe`},
		{"instance name", configStack("shop", configInstance("../db", true, file("a", "x", 0))), `not DNS-safe`},
		// The bad file comes after a good one: nothing may be written.
		{"late failure", configStack("shop",
			configInstance("a", true, file("fine.conf", "ok", 0)),
			configInstance("z", true, file("../../../escape", "x", 0))), `leaves the instance's config folder`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			_, err := MaterializeConfigs(t.Context(), state, tt.stack)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if got := tree(t, state); !maps.Equal(got, map[string]string{".": got["."]}) {
				t.Errorf("something was written: %v", got)
			}
		})
	}
}

func TestMaterializeConfigsRefusesSymlinks(t *testing.T) {
	stack := configStack("shop", configInstance("db", true, file("a.conf", "x", 0)))
	tests := []struct {
		name string
		// plant makes the symlink; it returns the folder it points to.
		plant func(t *testing.T, state string) string
	}{
		{"stack folder", func(t *testing.T, state string) string {
			outside := t.TempDir()
			testenv.MkdirAll(t, filepath.Join(state, "stacks"))
			testenv.Symlink(t, outside, filepath.Join(state, "stacks", "shop"))
			return outside
		}},
		{"stacks folder", func(t *testing.T, state string) string {
			outside := t.TempDir()
			testenv.Symlink(t, outside, filepath.Join(state, "stacks"))
			return outside
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			outside := tt.plant(t, state)
			_, err := MaterializeConfigs(t.Context(), state, stack)
			if err == nil || !strings.Contains(err.Error(), "is a symlink") {
				t.Fatalf("err = %v, want a symlink refusal", err)
			}
			if got := tree(t, outside); len(got) != 1 {
				t.Errorf("wrote through the symlink: %v", got)
			}
			if err := RemoveConfigs(state, "shop"); err != nil {
				t.Fatalf("RemoveConfigs: %v", err)
			}
			if _, err := os.Stat(outside); err != nil {
				t.Errorf("RemoveConfigs followed the symlink: %v", err)
			}
		})
	}
}

func TestMaterializeConfigsFailureKeepsPreviousContent(t *testing.T) {
	old := configStack("shop", configInstance("db", true, file("a.conf", "old", 0)))
	next := configStack("shop", configInstance("db", true,
		file("a.conf", "new", 0), file("b.conf", "new", 0), file("c.conf", "new", 0)))
	tests := []struct {
		name    string
		m       materializer
		stack   spec.Stack
		setup   func(t *testing.T, state string)
		wantErr string
	}{
		{
			name: "write fails on the second file",
			m: func() materializer {
				n := 0
				return materializer{rename: os.Rename, writeFile: func(p, data string, mode fs.FileMode) error {
					if n++; n == 2 {
						return errors.New("disk full")
					}
					return writeFileSync(p, data, mode)
				}}
			}(),
			stack:   next,
			wantErr: "write config file db/b.conf: disk full",
		},
		{
			name: "file name too long for the file system",
			m:    materializer{writeFile: writeFileSync, rename: os.Rename},
			stack: configStack("shop", configInstance("db", true,
				file("a.conf", "new", 0), file(strings.Repeat("n", 300), "new", 0))),
			wantErr: "file name too long",
		},
		{
			name: "new folder cannot be moved into place",
			m: materializer{writeFile: writeFileSync, rename: func(oldpath, newpath string) error {
				if strings.Contains(oldpath, ".tmp-") {
					return errors.New("injected rename failure")
				}
				return os.Rename(oldpath, newpath)
			}},
			stack:   next,
			wantErr: "move new config folder into place: injected rename failure",
		},
		{
			name:  "stack folder is a plain file",
			m:     materializer{writeFile: writeFileSync, rename: os.Rename},
			stack: next,
			setup: func(t *testing.T, state string) {
				dir := ConfigDir(state, "shop")
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(dir, []byte("not a folder"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "is not a folder; remove it",
		},
		{
			name:  "stacks folder is a plain file",
			m:     materializer{writeFile: writeFileSync, rename: os.Rename},
			stack: next,
			setup: func(t *testing.T, state string) {
				if err := os.RemoveAll(filepath.Join(state, "stacks")); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(state, "stacks"), []byte("not a folder"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "is not a folder; remove it",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			if _, err := MaterializeConfigs(t.Context(), state, old); err != nil {
				t.Fatalf("MaterializeConfigs(old): %v", err)
			}
			if tt.setup != nil {
				tt.setup(t, state)
			}
			before := tree(t, state)
			_, err := tt.m.materialize(t.Context(), state, tt.stack)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if after := tree(t, state); !maps.Equal(before, after) {
				t.Errorf("state changed by a failed run:\nbefore %v\nafter  %v", before, after)
			}
			assertNoWorkFolders(t, state)
		})
	}
}

func TestRemoveConfigs(t *testing.T) {
	state := t.TempDir()
	for _, name := range []string{"shop", "shopping"} {
		if _, err := MaterializeConfigs(t.Context(), state, configStack(name, configInstance("db", true, file("a", "x", 0)))); err != nil {
			t.Fatal(err)
		}
	}
	testenv.MkdirAll(t, filepath.Join(state, "stacks", ".shop.tmp-123"))
	if err := RemoveConfigs(state, "shop"); err != nil {
		t.Fatalf("RemoveConfigs: %v", err)
	}
	if err := RemoveConfigs(state, "shop"); err != nil {
		t.Fatalf("RemoveConfigs again: %v", err)
	}
	entries, err := os.ReadDir(filepath.Join(state, "stacks"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "shopping" {
		t.Errorf("left %v, want only shopping", entries)
	}
	if err := RemoveConfigs(state, "../x"); err == nil {
		t.Error("RemoveConfigs accepted an unsafe stack name")
	}
}

func TestConfigPathLayout(t *testing.T) {
	got := ConfigPath("/var/lib/devarch", "shop", "db", "conf.d/my.cnf")
	if want := "/var/lib/devarch/stacks/shop/db/conf.d/my.cnf"; got != want {
		t.Errorf("ConfigPath = %q, want %q", got, want)
	}
	if got, want := ConfigDir("/var/lib/devarch", "shop"), "/var/lib/devarch/stacks/shop"; got != want {
		t.Errorf("ConfigDir = %q, want %q", got, want)
	}
	// The compose project mounts from project.ConfigPath: it must be where
	// MaterializeConfigs writes.
	state := t.TempDir()
	res, err := MaterializeConfigs(t.Context(), state, configStack("shop", configInstance("db", true, file("conf.d/my.cnf", "x", 0))))
	if err != nil {
		t.Fatal(err)
	}
	if want := project.ConfigPath(state, "shop", "db", "conf.d/my.cnf"); !slices.Equal(res.Files, []string{want}) {
		t.Errorf("wrote %v, but project mounts %s", res.Files, want)
	}
}

// FuzzConfigRelPath checks that every accepted config path lands strictly
// inside the instance's folder.
func FuzzConfigRelPath(f *testing.F) {
	for _, s := range []string{"a.conf", "conf.d/x.cnf", "../x", "/abs", "a/../b", "a//b", "./a", "..", ".", "a/..", `a\..\b`, "a\x00b", "...", "..a/b", "a/...", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rel, err := configRelPath("inst", p)
		if err != nil {
			return
		}
		base := filepath.Join("/state", "stacks", "s", "inst")
		full := filepath.Join("/state", "stacks", "s", rel)
		if full == base || !strings.HasPrefix(full, base+string(filepath.Separator)) {
			t.Fatalf("accepted %q resolves to %q, outside %q", p, full, base)
		}
		if ConfigPath("/state", "s", "inst", p) != full {
			t.Fatalf("ConfigPath(%q) = %q, materialize writes %q", p, ConfigPath("/state", "s", "inst", p), full)
		}
	})
}

func assertNoWorkFolders(t *testing.T, state string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(state, "stacks", ".*"))
	if len(matches) > 0 {
		t.Errorf("work folders left behind: %v", matches)
	}
}
