package deploy

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// Layout of the state directory:
//
//	<stateDir>/stacks/<stack>/<instance>/<config path>   materialized files
//	<stateDir>/stacks/.<stack>.tmp-<random>              being written
//	<stateDir>/stacks/.<stack>.old-<random>              being replaced
//
// Stack and instance names are DNS-safe (no dots), so the hidden work
// folders never collide with a stack folder.
const stacksFolder = "stacks"

// Folder modes: containers may run as any user and must be able to read
// their bind-mounted config files.
const configDirMode = 0o755

// ConfigDir is the folder holding every materialized config file of a stack.
func ConfigDir(stateDir, stack string) string {
	return project.ConfigDir(stateDir, stack)
}

// ConfigPath is the host path a config file of an instance is written to by
// MaterializeConfigs and bind-mounted from. path must be valid
// (spec.ValidateConfigPath).
func ConfigPath(stateDir, stack, instance, path string) string {
	return project.ConfigPath(stateDir, stack, instance, path)
}

// MaterializeResult says what MaterializeConfigs wrote.
type MaterializeResult struct {
	// Dir is the stack's config folder (ConfigDir).
	Dir string `json:"dir"`
	// Files are the host paths written (ConfigPath), sorted.
	Files []string `json:"files"`
}

// MaterializeConfigs writes the effective config files, compose secrets
// and compose configs of every enabled instance of stack under
// ConfigDir(stateDir, stack.Name), replacing that folder as a whole:
// afterwards it holds exactly those files. Secrets and configs go to
// "<instance>.secrets/<name>" (folder 0700) and "<instance>.configs/<name>"
// with their modes and, when set, owners (see files.go).
//
// Every path is checked before anything is written. Files are written with
// their spec modes into a temporary folder next to the stack folder and
// synced; the temporary folder then takes the old folder's place (two
// renames). On any error the temporary folder is removed and the previous
// folder is left as it was. A stack folder, or the stacks folder, that is a
// symlink is refused. stateDir itself is trusted and may be a symlink.
//
// Running containers keep the files they bind-mounted (the old inodes)
// until they are recreated; compose recreates them because the config
// digest label changes.
//
// Callers hold the stack's lock: two concurrent calls for one stack are not
// supported.
//
// Cancelling ctx stops the writing before the next file and before the
// folder swap, with the same outcome as any other error: the temporary
// folder is removed and the previous folder stays.
func MaterializeConfigs(ctx context.Context, stateDir string, stack spec.Stack) (MaterializeResult, error) {
	return materializer{writeFile: writeFileSync, rename: os.Rename}.materialize(ctx, stateDir, stack)
}

// configFile is one validated file to write.
type configFile struct {
	rel  string // path relative to the stack folder, OS separators
	data string
	mode fs.FileMode
	// owner is the uid and gid of a secret or config that sets them
	// (nil: the controller's own); secret keeps the file's folder private.
	owner  *fileOwner
	secret bool
}

// materializer carries the file operations that tests replace to inject
// failures.
type materializer struct {
	writeFile func(path string, data string, mode fs.FileMode) error
	rename    func(oldpath, newpath string) error
}

func (m materializer) materialize(ctx context.Context, stateDir string, stack spec.Stack) (MaterializeResult, error) {
	files, err := collectConfigFiles(stack)
	if err != nil {
		return MaterializeResult{}, err
	}
	stacksDir := filepath.Join(stateDir, stacksFolder)
	final := ConfigDir(stateDir, stack.Name)
	if err := checkFolders(stacksDir, final); err != nil {
		return MaterializeResult{}, err
	}
	if err := os.MkdirAll(stacksDir, configDirMode); err != nil {
		return MaterializeResult{}, fmt.Errorf("create state folder: %w", err)
	}
	removeLeftovers(stacksDir, stack.Name)

	tmp, err := os.MkdirTemp(stacksDir, "."+stack.Name+".tmp-")
	if err != nil {
		return MaterializeResult{}, fmt.Errorf("create temporary config folder: %w", err)
	}
	if err := m.writeAll(ctx, tmp, files); err != nil {
		_ = os.RemoveAll(tmp)
		return MaterializeResult{}, err
	}
	if err := ctx.Err(); err != nil {
		_ = os.RemoveAll(tmp)
		return MaterializeResult{}, fmt.Errorf("write config files: stopped before replacing the folder: %w", context.Cause(ctx))
	}
	if err := m.swapFolder(stacksDir, tmp, final, stack.Name); err != nil {
		_ = os.RemoveAll(tmp)
		return MaterializeResult{}, err
	}
	res := MaterializeResult{Dir: final, Files: make([]string, len(files))}
	for i, f := range files {
		res.Files[i] = filepath.Join(final, f.rel)
	}
	return res, nil
}

// collectConfigFiles validates the stack and instance names and every config
// path of the enabled instances, and returns the files in path order.
func collectConfigFiles(stack spec.Stack) ([]configFile, error) {
	if err := spec.ValidateName(stack.Name); err != nil {
		return nil, fmt.Errorf("materialize configs: stack %w", err)
	}
	var files []configFile
	for _, inst := range stack.Instances {
		if !inst.Enabled {
			continue
		}
		if err := spec.ValidateName(inst.Name); err != nil {
			return nil, fmt.Errorf("materialize configs of stack %q: instance %w", stack.Name, err)
		}
		for _, cf := range inst.Effective.ConfigFiles {
			rel, err := configRelPath(inst.Name, cf.Path)
			if err != nil {
				return nil, fmt.Errorf("materialize configs of stack %q: instance %q: %w", stack.Name, inst.Name, err)
			}
			if cf.Mode&^0o777 != 0 {
				return nil, fmt.Errorf("materialize configs of stack %q: instance %q: config file %q: mode %#o has bits outside 0777", stack.Name, inst.Name, cf.Path, cf.Mode)
			}
			files = append(files, configFile{rel: rel, data: cf.Content, mode: fs.FileMode(cf.FileMode())})
		}
		mounts, err := fileMountFiles(inst)
		if err != nil {
			return nil, fmt.Errorf("materialize configs of stack %q: instance %q: %w", stack.Name, inst.Name, err)
		}
		files = append(files, mounts...)
	}
	slices.SortFunc(files, func(a, b configFile) int { return strings.Compare(a.rel, b.rel) })
	if err := checkPathClashes(stack.Name, files); err != nil {
		return nil, err
	}
	return files, nil
}

// configRelPath returns where a config file goes relative to the stack
// folder, after checking that it stays inside the instance's folder.
func configRelPath(instance, p string) (string, error) {
	if err := spec.ValidateConfigPath(p); err != nil {
		return "", err
	}
	rel := filepath.Join(instance, filepath.FromSlash(p))
	inner, err := filepath.Rel(instance, rel)
	if err != nil || inner == "." || inner == ".." || strings.HasPrefix(inner, ".."+string(filepath.Separator)) || filepath.IsAbs(inner) {
		return "", fmt.Errorf("config file path %q leaves the instance's config folder", p)
	}
	return rel, nil
}

// checkPathClashes refuses the same path twice, or a path that another
// path needs as a folder ("a" and "a/b"). files are sorted.
func checkPathClashes(stack string, files []configFile) error {
	seen := make(map[string]bool, len(files))
	for _, f := range files {
		if seen[f.rel] {
			return fmt.Errorf("materialize configs of stack %q: config file %q is defined twice", stack, filepath.ToSlash(f.rel))
		}
		seen[f.rel] = true
	}
	for _, f := range files {
		for dir := filepath.Dir(f.rel); dir != "." && dir != string(filepath.Separator); dir = filepath.Dir(dir) {
			if seen[dir] {
				return fmt.Errorf("materialize configs of stack %q: config file %q is also used as the folder of %q; rename one of them", stack, filepath.ToSlash(dir), filepath.ToSlash(f.rel))
			}
		}
	}
	return nil
}

// checkFolders fails when any of the paths exists and is a symlink or not a
// folder.
func checkFolders(paths ...string) error {
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("check config folder %s: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("config folder %s is a symlink; remove it so the controller can manage the folder itself", p)
		}
		if !fi.IsDir() {
			return fmt.Errorf("config folder %s is not a folder; remove it so the controller can manage the folder itself", p)
		}
	}
	return nil
}

// removeLeftovers deletes work folders of the stack left by a crash.
func removeLeftovers(stacksDir, stack string) {
	for _, kind := range []string{".tmp-", ".old-"} {
		matches, _ := filepath.Glob(filepath.Join(stacksDir, "."+stack+kind+"*"))
		for _, m := range matches {
			_ = os.RemoveAll(m)
		}
	}
}

func (m materializer) writeAll(ctx context.Context, root string, files []configFile) error {
	if err := os.Chmod(root, configDirMode); err != nil {
		return fmt.Errorf("set mode of temporary config folder: %w", err)
	}
	dirs := map[string]bool{root: true}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("write config files: stopped before %s: %w", filepath.ToSlash(f.rel), context.Cause(ctx))
		}
		p := filepath.Join(root, f.rel)
		if err := mkdirAll(filepath.Dir(p), dirs); err != nil {
			return err
		}
		if err := m.writeFile(p, f.data, f.mode); err != nil {
			return fmt.Errorf("write config file %s: %w", filepath.ToSlash(f.rel), err)
		}
		if err := finishFileMount(p, f); err != nil {
			return err
		}
	}
	for d := range dirs {
		if err := syncPath(d); err != nil {
			return fmt.Errorf("sync config folder: %w", err)
		}
	}
	return nil
}

// mkdirAll creates dir and its parents with configDirMode (regardless of
// the umask), remembering them in made.
func mkdirAll(dir string, made map[string]bool) error {
	if made[dir] {
		return nil
	}
	if err := mkdirAll(filepath.Dir(dir), made); err != nil {
		return err
	}
	if err := os.Mkdir(dir, configDirMode); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create config folder: %w", err)
	}
	if err := os.Chmod(dir, configDirMode); err != nil {
		return fmt.Errorf("set mode of config folder: %w", err)
	}
	made[dir] = true
	return nil
}

// writeFileSync creates path with exactly mode (regardless of the umask),
// writes data and syncs it.
func writeFileSync(path, data string, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// swapFolder puts tmp in final's place. An existing final is first renamed
// aside, and renamed back if tmp cannot take its place.
func (m materializer) swapFolder(stacksDir, tmp, final, stack string) error {
	var aside string
	if _, err := os.Lstat(final); err == nil {
		a := filepath.Join(stacksDir, "."+stack+".old-"+rand.Text())
		if err := m.rename(final, a); err != nil {
			return fmt.Errorf("move old config folder aside: %w", err)
		}
		aside = a
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("check config folder: %w", err)
	}
	if err := m.rename(tmp, final); err != nil {
		if aside != "" {
			_ = m.rename(aside, final)
		}
		return fmt.Errorf("move new config folder into place: %w", err)
	}
	if aside != "" {
		if err := os.RemoveAll(aside); err != nil {
			return fmt.Errorf("remove old config folder: %w", err)
		}
	}
	if err := syncPath(stacksDir); err != nil {
		return fmt.Errorf("sync state folder: %w", err)
	}
	return nil
}

// RemoveConfigs deletes a stack's config folder and any work folders left
// next to it. A missing folder is not an error; a symlink is removed, never
// followed.
func RemoveConfigs(stateDir, stack string) error {
	if err := spec.ValidateName(stack); err != nil {
		return fmt.Errorf("remove configs: stack %w", err)
	}
	stacksDir := filepath.Join(stateDir, stacksFolder)
	if err := os.RemoveAll(ConfigDir(stateDir, stack)); err != nil {
		return fmt.Errorf("remove config folder of stack %q: %w", stack, err)
	}
	removeLeftovers(stacksDir, stack)
	return nil
}
