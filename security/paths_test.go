package security_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
)

// outsideDir is a folder outside the state dir holding one file, standing
// for /etc: nothing the controller does may write into it or remove from
// it.
func outsideDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "etc")
	testenv.MkdirAll(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte("root:x:0:0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// listTree returns every path under dir (relative, '/'-separated), with a
// trailing "@" for symlinks; symlinks are not followed.
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.Type()&fs.ModeSymlink != 0 {
			rel += "@"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func assertOutsideIntact(t *testing.T, dir string) {
	t.Helper()
	if got := strings.Join(listTree(t, dir), " "); got != "passwd" {
		t.Errorf("the folder outside the state dir changed: %q", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "passwd")); err != nil || string(b) != "root:x:0:0\n" {
		t.Errorf("the file outside the state dir changed: %q, %v", b, err)
	}
}

// configStack is a stack with one instance holding one config file.
func configStack(stack, instance, path string) spec.Stack {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{Image: "busybox", ConfigFiles: []spec.ConfigFile{
		{Path: path, Target: "/etc/app.conf", Content: "pwned\n"},
	}}}
	return spec.Stack{ID: 1, Name: stack, Enabled: true, Instances: []spec.Instance{
		{ID: 2, Name: instance, Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)},
	}}
}

// TestMaterializeRefusesTraversal hands MaterializeConfigs stacks that
// bypassed import validation: config file paths, stack and instance names
// that would leave the state dir. Each is refused before anything is
// written: the state dir stays empty, the folder beside it untouched.
func TestMaterializeRefusesTraversal(t *testing.T) {
	tests := []struct {
		name                  string
		stack, instance, path string
	}{
		{"dot-dot path", "shop", "db", "../../../etc/passwd"},
		{"dot-dot inside path", "shop", "db", "conf/../../../../etc/passwd"},
		{"dot-dot alone", "shop", "db", ".."},
		{"absolute path", "shop", "db", "/etc/passwd"},
		{"NUL byte", "shop", "db", "app.conf\x00../../etc/passwd"},
		{"backslashes", "shop", "db", `..\..\etc\passwd`},
		{"empty segment", "shop", "db", "conf//app.conf"},
		{"dot segment", "shop", "db", "./app.conf"},
		{"empty path", "shop", "db", ""},
		{"traversing stack name", "../../etc", "db", "app.conf"},
		{"absolute stack name", "/etc", "db", "app.conf"},
		{"dot-dot stack name", "..", "db", "app.conf"},
		{"traversing instance name", "shop", "../../../etc", "passwd"},
		{"dot-dot instance name", "shop", "..", "passwd"},
		{"hidden work folder as stack name", ".shop.tmp-x", "db", "app.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			stateDir := filepath.Join(root, "state")
			if err := os.Mkdir(stateDir, 0o755); err != nil {
				t.Fatal(err)
			}
			outside := outsideDir(t)
			_, err := deploy.MaterializeConfigs(t.Context(), stateDir, configStack(tt.stack, tt.instance, tt.path))
			if err == nil {
				t.Fatalf("MaterializeConfigs accepted stack %q, instance %q, path %q", tt.stack, tt.instance, tt.path)
			}
			if got := listTree(t, stateDir); len(got) != 0 {
				t.Errorf("refused, but the state dir holds %q", got)
			}
			assertOutsideIntact(t, outside)
		})
	}
}

// TestMaterializeRefusesSymlinks plants symlinks in the state dir the way
// another local user or a compromised container with a bind mount of it
// could, and checks that no write follows them out of the state dir.
func TestMaterializeRefusesSymlinks(t *testing.T) {
	tests := []struct {
		name    string
		plant   func(t *testing.T, stateDir, outside string)
		wantErr bool // refused (else: written safely beside the link)
	}{
		{name: "stack folder is a symlink", wantErr: true, plant: func(t *testing.T, stateDir, outside string) {
			testenv.MkdirAll(t, filepath.Join(stateDir, "stacks"))
			testenv.Symlink(t, outside, filepath.Join(stateDir, "stacks", "shop"))
		}},
		{name: "stacks folder is a symlink", wantErr: true, plant: func(t *testing.T, stateDir, outside string) {
			testenv.Symlink(t, outside, filepath.Join(stateDir, "stacks"))
		}},
		{name: "stack folder is a file", wantErr: true, plant: func(t *testing.T, stateDir, _ string) {
			testenv.MkdirAll(t, filepath.Join(stateDir, "stacks"))
			if err := os.WriteFile(filepath.Join(stateDir, "stacks", "shop"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "symlink inside the instance folder", plant: func(t *testing.T, stateDir, outside string) {
			testenv.MkdirAll(t, filepath.Join(stateDir, "stacks", "shop", "db"))
			testenv.Symlink(t, outside, filepath.Join(stateDir, "stacks", "shop", "db", "conf"))
		}},
		{name: "instance folder is a symlink", plant: func(t *testing.T, stateDir, outside string) {
			testenv.MkdirAll(t, filepath.Join(stateDir, "stacks", "shop"))
			testenv.Symlink(t, outside, filepath.Join(stateDir, "stacks", "shop", "db"))
		}},
		{name: "config file is a symlink", plant: func(t *testing.T, stateDir, outside string) {
			testenv.MkdirAll(t, filepath.Join(stateDir, "stacks", "shop", "db", "conf"))
			testenv.Symlink(t, filepath.Join(outside, "passwd"), filepath.Join(stateDir, "stacks", "shop", "db", "conf", "app.conf"))
		}},
		{name: "leftover work folders are symlinks", plant: func(t *testing.T, stateDir, outside string) {
			testenv.MkdirAll(t, filepath.Join(stateDir, "stacks"))
			testenv.Symlink(t, outside, filepath.Join(stateDir, "stacks", ".shop.tmp-planted"))
			testenv.Symlink(t, outside, filepath.Join(stateDir, "stacks", ".shop.old-planted"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stateDir := filepath.Join(t.TempDir(), "state")
			testenv.MkdirAll(t, stateDir)
			outside := outsideDir(t)
			tt.plant(t, stateDir, outside)
			res, err := deploy.MaterializeConfigs(t.Context(), stateDir, configStack("shop", "db", "conf/app.conf"))
			assertOutsideIntact(t, outside)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("a planted symlink was accepted: wrote %v", res.Files)
				}
				return
			}
			if err != nil {
				t.Fatalf("MaterializeConfigs: %v", err)
			}
			written := filepath.Join(stateDir, "stacks", "shop", "db", "conf", "app.conf")
			if len(res.Files) != 1 || res.Files[0] != written {
				t.Fatalf("wrote %v, want %s", res.Files, written)
			}
			for p := written; p != stateDir; p = filepath.Dir(p) {
				if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeSymlink != 0 {
					t.Fatalf("%s is a symlink or missing after materializing (%v)", p, err)
				}
			}
			if b, err := os.ReadFile(written); err != nil || string(b) != "pwned\n" {
				t.Fatalf("config file content %q, %v", b, err)
			}
			if got := listTree(t, filepath.Join(stateDir, "stacks")); strings.Join(got, " ") != "shop shop/db shop/db/conf shop/db/conf/app.conf" {
				t.Errorf("state dir after materializing: %q", got)
			}
		})
	}
}

// TestRemoveConfigsNeverFollowsSymlinks: removing a stack's configs whose
// folder was replaced by a symlink removes the link, not what it names.
func TestRemoveConfigsNeverFollowsSymlinks(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "state")
	testenv.MkdirAll(t, filepath.Join(stateDir, "stacks"))
	outside := outsideDir(t)
	testenv.Symlink(t, outside, filepath.Join(stateDir, "stacks", "shop"))
	if err := deploy.RemoveConfigs(stateDir, "shop"); err != nil {
		t.Fatal(err)
	}
	assertOutsideIntact(t, outside)
	if got := listTree(t, stateDir); strings.Join(got, " ") != "stacks" {
		t.Errorf("state dir after RemoveConfigs: %q", got)
	}
	if err := deploy.RemoveConfigs(stateDir, "../etc"); err == nil {
		t.Error("RemoveConfigs accepted a traversing stack name")
	}
}

// TestTemplateConfigFilesStayInConfigFolder: catalog.LoadFile reads the
// files named by x-devarch-config only from the template's own config/
// folder. Names leaving it, files that are symlinks out of it, and a
// config folder that is itself a symlink (a template repository checked
// out from elsewhere can carry one pointing at ~/.ssh) are refused, and
// nothing of the outside file is read into the template.
func TestTemplateConfigFilesStayInConfigFolder(t *testing.T) {
	tests := []struct {
		name  string
		entry string // the x-devarch-config file name
		plant func(t *testing.T, configDir, outside string)
	}{
		{name: "file is a symlink to an absolute path", entry: "app.conf", plant: func(t *testing.T, configDir, outside string) {
			testenv.MkdirAll(t, configDir)
			testenv.Symlink(t, filepath.Join(outside, "passwd"), filepath.Join(configDir, "app.conf"))
		}},
		{name: "file is a relative symlink out of config", entry: "app.conf", plant: func(t *testing.T, configDir, _ string) {
			testenv.MkdirAll(t, configDir)
			testenv.Symlink(t, "../../../etc/passwd", filepath.Join(configDir, "app.conf"))
		}},
		{name: "file is a symlink to the compose file", entry: "app.conf", plant: func(t *testing.T, configDir, _ string) {
			testenv.MkdirAll(t, configDir)
			testenv.Symlink(t, "../compose.yml", filepath.Join(configDir, "app.conf"))
		}},
		{name: "subfolder is a symlink", entry: "sub/passwd", plant: func(t *testing.T, configDir, outside string) {
			testenv.MkdirAll(t, configDir)
			testenv.Symlink(t, outside, filepath.Join(configDir, "sub"))
		}},
		{name: "config folder is a symlink", entry: "passwd", plant: func(t *testing.T, configDir, outside string) {
			testenv.Symlink(t, outside, configDir)
		}},
		{name: "dot-dot name", entry: "../../etc/passwd", plant: func(t *testing.T, configDir, _ string) { testenv.MkdirAll(t, configDir) }},
		{name: "absolute name", entry: "/etc/passwd", plant: func(t *testing.T, configDir, _ string) { testenv.MkdirAll(t, configDir) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			outside := filepath.Join(root, "etc")
			testenv.MkdirAll(t, outside)
			if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte("OUTSIDE-CONTENT\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			tmpl := filepath.Join(root, "services", "web", "app")
			testenv.MkdirAll(t, tmpl)
			compose := "services:\n  app:\n    image: busybox\n    x-devarch-config:\n      " + quoteYAML(tt.entry) + ": /etc/app.conf\n"
			if err := os.WriteFile(filepath.Join(tmpl, "compose.yml"), []byte(compose), 0o644); err != nil {
				t.Fatal(err)
			}
			tt.plant(t, filepath.Join(tmpl, "config"), outside)
			res, err := catalog.LoadFile(filepath.Join(tmpl, "compose.yml"))
			if err == nil {
				t.Fatalf("template loaded with config files %+v", res.Template.Spec.ConfigFiles)
			}
			if strings.Contains(err.Error(), "OUTSIDE-CONTENT") {
				t.Errorf("the error shows the outside file's content: %v", err)
			}
			if !strings.Contains(err.Error(), "x-devarch-config") {
				t.Errorf("the error does not name x-devarch-config: %v", err)
			}
		})
	}
}

func quoteYAML(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
