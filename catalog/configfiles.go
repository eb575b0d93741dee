package catalog

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/spec"
)

// configExtension maps files of the template's config/ folder to container
// paths: "nginx.conf: /etc/nginx/nginx.conf".
const configExtension = "x-devarch-config"

// configFolder is the template's folder holding the files named by
// x-devarch-config.
const configFolder = "config"

// MaxConfigFileSize bounds one config file: config files are stored in the
// database and written out on every apply.
const MaxConfigFileSize = 1 << 20

// configFiles reads the files named by x-devarch-config from
// <dir>/config/. Reads go through an os.Root, so neither ".." nor a symlink
// can reach outside the config folder, and the folder itself must not be a
// symlink.
func (m *mapper) configFiles(ext types.Extensions, dir string) []spec.ConfigFile {
	if m.resolving {
		return slices.Clone(m.storedConfigs)
	}
	raw, ok := ext[configExtension]
	if !ok || raw == nil {
		return nil
	}
	entries, ok := raw.(map[string]any)
	if !ok {
		m.fail(configExtension, "must map file names in the config folder to container paths, such as \"nginx.conf: /etc/nginx/nginx.conf\"")
		return nil
	}
	root, rootErr := openConfigFolder(filepath.Join(dir, configFolder))
	if rootErr == nil {
		defer root.Close()
	}
	targets := map[string]string{}
	out := make([]spec.ConfigFile, 0, len(entries))
	for _, name := range sortedKeys(entries) {
		key := configExtension + "." + name
		target, ok := entries[name].(string)
		if !ok {
			m.fail(key, "the container path must be a string, such as /etc/app/%s", path.Base(name))
			continue
		}
		if err := spec.ValidateConfigPath(name); err != nil {
			m.fail(key, "%v", err)
			continue
		}
		if !path.IsAbs(target) {
			m.fail(key, "container path %q must be absolute", target)
			continue
		}
		if other, dup := targets[target]; dup {
			m.fail(key, "container path %s is also the target of %q; each config file needs its own path", target, other)
			continue
		}
		targets[target] = name
		content, err := readConfigFile(root, rootErr, name)
		if err != nil {
			shown := filepath.Join(filepath.Dir(m.file), configFolder, filepath.FromSlash(name))
			m.fail(key, "config file %s cannot be read: %v; add the file or remove the entry", shown, err)
			continue
		}
		out = append(out, spec.ConfigFile{Path: name, Target: target, Content: content, Mode: spec.DefaultFileMode})
	}
	return out
}

// openConfigFolder opens the template's config folder. A config folder
// that is a symlink is refused: it could point anywhere on the host (a
// template repository checked out from elsewhere can carry such a link),
// and the files read through it are stored and mounted into containers.
func openConfigFolder(path string) (*os.Root, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, errConfigFolderSymlink
	}
	return os.OpenRoot(path)
}

// errConfigFolderSymlink refuses a config folder that is a symlink.
var errConfigFolderSymlink = errors.New("the template's config folder is a symlink; make it a real folder holding the files")

var (
	errNoConfigFolder = errors.New("the template has no config folder")
	errNotRegular     = errors.New("not a regular file")
	errTooLarge       = errors.New("larger than 1 MiB")
	errNotUTF8Text    = errors.New("not UTF-8 text")
)

// readConfigFile reads one config file through root (rootErr is the error
// opening it). Errors do not repeat the path: the caller names the file.
func readConfigFile(root *os.Root, rootErr error, name string) (string, error) {
	if rootErr != nil {
		if errors.Is(rootErr, fs.ErrNotExist) {
			return "", errNoConfigFolder
		}
		return "", rootErr
	}
	info, err := root.Stat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fs.ErrNotExist
		}
		return "", err
	}
	switch {
	case !info.Mode().IsRegular():
		return "", errNotRegular
	case info.Size() > MaxConfigFileSize:
		return "", errTooLarge
	}
	b, err := root.ReadFile(name)
	if err != nil {
		return "", err
	}
	if len(b) > MaxConfigFileSize {
		return "", errTooLarge
	}
	if !utf8.Valid(b) {
		return "", errNotUTF8Text
	}
	return string(b), nil
}
