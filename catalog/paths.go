package catalog

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// templateFileNames are the file names LoadPaths picks up in a directory.
var templateFileNames = map[string]bool{"compose.yml": true, "compose.yaml": true}

// LoadPaths loads every template under the given paths. A directory is
// walked for compose.yml and compose.yaml files (in lexical order, skipping
// hidden directories and config/ folders, which belong to a template); a file
// is loaded as given. Arguments are processed in order.
//
// One FileResult is returned per file found, so that one broken file does
// not stop the others. A path that cannot be read, and a template whose name
// an earlier file already defined, produce a FileResult with Err set.
func LoadPaths(paths ...string) []FileResult {
	var out []FileResult
	seen := map[string]string{} // template name -> file
	for _, root := range paths {
		files, err := templateFiles(root)
		if err != nil {
			out = append(out, FileResult{Path: root, Err: err})
			continue
		}
		for _, f := range files {
			r := FileResult{Path: f}
			r.Result, r.Err = LoadFile(f)
			if r.Err == nil {
				name := r.Template.Name
				if prev, dup := seen[name]; dup {
					r = FileResult{Path: f, Err: fmt.Errorf("load template %s: template %q is already defined by %s; template names must be unique, so rename one of the services", f, name, prev)}
				} else {
					seen[name] = f
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// templateFiles lists the template files at root: root itself when it is a
// file, else every template file below it.
func templateFiles(root string) ([]string, error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("find templates: %w", err)
	}
	if !info.IsDir() {
		return []string{root}, nil
	}
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "config") {
				return filepath.SkipDir
			}
			return nil
		}
		if templateFileNames[d.Name()] && d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find templates under %s: %w", root, err)
	}
	return files, nil
}
