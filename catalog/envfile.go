package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/compose-spec/compose-go/v2/dotenv"

	"github.com/devarch/devarch-controller/spec"
)

// MaxEnvFileSize bounds one env file, secret or config file read at import:
// their contents are stored in the database.
const MaxEnvFileSize = 1 << 20

// EnvFile is one env_file entry as compose reads it: a path (relative to
// the folder of the file that names it), whether it must exist (compose's
// default), its format ("" or ".env"), and whether every variable it holds
// is secret (devarch.yml's secret: true).
type EnvFile struct {
	Path     string
	Required bool
	Format   string
	Secret   bool
}

// EnvFileResult is what ReadEnvFiles found.
type EnvFileResult struct {
	// Env are the variables of the env files that environment: does not
	// set, sorted by key, each with File naming the file it comes from.
	Env []spec.EnvVar
	// Skipped are the optional files that do not exist.
	Skipped []string
}

// dotenvLine finds the line number in a dotenv parse error.
var dotenvLine = regexp.MustCompile(`line (\d+)`)

// ReadEnvFiles reads env files as `docker compose up` does: in order, a
// later file's variable replacing an earlier one's; "${VAR}" inside a file
// resolves from the service's environment, then from the variables read so
// far (no other interpolation: the controller reads no shell environment);
// variables that environment sets are left out, as environment: wins.
// dir anchors relative paths. A missing required file is an error naming
// it; a missing optional one is listed in Skipped. Errors never quote a
// file's content: env files hold secrets.
func ReadEnvFiles(dir string, files []EnvFile, environment map[string]string) (EnvFileResult, error) {
	var res EnvFileResult
	vars := map[string]string{}
	from := map[string]EnvFile{}
	for _, f := range files {
		data, err := readImportFile(dir, f.Path)
		if errors.Is(err, os.ErrNotExist) && !f.Required {
			res.Skipped = append(res.Skipped, f.Path)
			continue
		}
		if err != nil {
			return EnvFileResult{}, fmt.Errorf("env file %s: %w", f.Path, err)
		}
		fresh := map[string]string{}
		lookup := func(k string) (string, bool) {
			if v, ok := environment[k]; ok {
				return v, true
			}
			if v, ok := fresh[k]; ok {
				return v, true
			}
			v, ok := vars[k]
			return v, ok
		}
		if err := dotenv.ParseWithFormat(bytes.NewReader(data), f.Path, fresh, lookup, f.Format); err != nil {
			return EnvFileResult{}, fmt.Errorf("env file %s: %w", f.Path, dotenvError(err, f.Format))
		}
		for k, v := range fresh {
			vars[k] = v
			from[k] = f
		}
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if _, set := environment[k]; set {
			continue
		}
		if err := spec.ValidateEnvKey(k); err != nil {
			return EnvFileResult{}, fmt.Errorf("env file %s: %w", from[k].Path, err)
		}
		res.Env = append(res.Env, spec.EnvVar{Key: k, Value: vars[k], Secret: from[k].Secret || spec.IsSecretName(k), File: from[k].Path})
	}
	return res, nil
}

// dotenvError restates a parse error without the text it quotes (the line
// may hold a secret).
func dotenvError(err error, format string) error {
	if format != "" && format != dotenv.DotEnv {
		return fmt.Errorf("format %q is not supported; remove format: or use %q", format, dotenv.DotEnv)
	}
	if m := dotenvLine.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("line %s is not a valid NAME=value line (check its name and quotes)", m[1])
	}
	return errors.New("the file is not valid dotenv syntax (NAME=value lines); check names and quotes")
}

// readImportFile reads a file named by a compose file (env file, secret,
// config), relative to dir: a regular UTF-8 text file of at most
// MaxEnvFileSize bytes. A missing file's error wraps os.ErrNotExist.
func readImportFile(dir, name string) ([]byte, error) {
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, filepath.FromSlash(name))
	}
	fh, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, notExistError(p)
		}
		return nil, err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	data, err := io.ReadAll(io.LimitReader(fh, MaxEnvFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxEnvFileSize {
		return nil, fmt.Errorf("%s is larger than 1 MiB", p)
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s is not UTF-8 text", p)
	}
	return data, nil
}

// EnvFileNote is the note for an optional env file that does not exist.
func EnvFileNote(path string) string {
	return fmt.Sprintf("env file %s does not exist and is optional (required: false); it is skipped", strings.TrimSpace(path))
}

// notExistError says that a file named by a compose file does not exist;
// it is an os.ErrNotExist.
type notExistError string

func (e notExistError) Error() string        { return string(e) + " does not exist" }
func (e notExistError) Is(target error) bool { return target == os.ErrNotExist }
