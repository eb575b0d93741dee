package stackfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/devarch/devarch-controller/spec"
)

// SupportedVersion is the only export format version this package reads.
const SupportedVersion = 1

// MaxFileSize bounds a stack file; exports are a few kilobytes.
const MaxFileSize = 8 << 20

// File is a parsed stack file.
type File struct {
	// Stack has ID 0 and is enabled unless the file says stack.enabled:
	// false. Its instances are sorted by name; each
	// has Template set to a template carrying only the catalog name, and
	// Overrides filled from the file.
	Stack spec.Stack
	// Warnings name everything the file asks for that the controller keeps
	// but does not apply yet. They never contain secret values.
	Warnings []string
}

// ParseFile reads and parses a stack file. See Parse.
func ParseFile(path string, secrets SecretLookup) (*File, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("read stack file: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read stack file: %w", err)
	}
	f, err := parse(data, secrets, filepath.Dir(abs))
	if err != nil {
		return nil, fmt.Errorf("parse stack file %s: %w", path, err)
	}
	return f, nil
}

func readLimited(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s is larger than %d MiB; a stack file is a few kilobytes", path, MaxFileSize>>20)
	}
	return data, nil
}

// Parse parses a version 1 stack file. secrets resolves ${SECRET:NAME}
// references in environment values; nil means no secret is available.
//
// On failure the error is a *spec.ValidationError listing every problem
// found, each naming its field (such as "instances.api.template") or line.
//
// Env files, secrets and configs named by the file are read relative to the
// current directory; a relative build context needs the file's folder:
// ParseFile reads them relative to the stack file.
func Parse(data []byte, secrets SecretLookup, opts ...Option) (*File, error) {
	return parse(data, secrets, "", opts...)
}

// Option changes how a stack file is parsed.
type Option func(*builder)

// MissingSecretHint says, in the error for a ${SECRET:NAME} reference the
// lookup does not resolve, where the secret should be provided (such as
// "add it to the controller's secrets file"). The default names the
// secrets file and an environment variable NAME, as the CLI reads them.
func MissingSecretHint(hint string) Option {
	return func(b *builder) { b.secretsHint = hint }
}

// parse is Parse with dir, the folder relative paths resolve against
// ("" refuses relative build contexts).
func parse(data []byte, secrets SecretLookup, dir string, opts ...Option) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("stack file is larger than %d MiB; a stack file is a few kilobytes", MaxFileSize>>20)
	}
	if err := checkVersion(data); err != nil {
		return nil, err
	}
	doc, err := decode(data)
	if err != nil {
		return nil, err
	}
	b := builder{secrets: secrets, dir: dir}
	for _, o := range opts {
		o(&b)
	}
	stack := b.stack(doc)
	if len(b.problems) > 0 {
		return nil, &spec.ValidationError{Problems: b.problems}
	}
	return &File{Stack: stack, Warnings: b.warnings}, nil
}

// checkVersion reads only the version, so that a file of another version
// is rejected for its version rather than for fields this version lacks.
func checkVersion(data []byte) error {
	var v struct {
		Version any `yaml:"version"`
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		return syntaxError(err)
	}
	switch version := v.Version.(type) {
	case nil:
		return problem("version", "version is missing; add \"version: %d\" at the top of the file (this controller reads version %d stack files)", SupportedVersion, SupportedVersion)
	case int:
		if version == SupportedVersion {
			return nil
		}
	}
	return problem("version", "version %v is not supported; this controller reads version %d stack files only", v.Version, SupportedVersion)
}

// decode parses the document strictly: unknown fields and wrong types are
// reported together, one problem per line.
func decode(data []byte) (*document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc document
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		return nil, problem("", "the stack file is empty")
	}
	if err != nil {
		return nil, decodeError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, problem("", "the stack file holds more than one YAML document; export one stack per file")
	}
	return &doc, nil
}

func decodeError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return syntaxError(err)
	}
	ps := make([]spec.Problem, 0, len(te.Errors))
	for _, e := range te.Errors {
		ps = append(ps, describeTypeError(e))
	}
	return &spec.ValidationError{Problems: ps}
}

func syntaxError(err error) error {
	return problem("", "the stack file is not valid YAML: %v", err)
}

func problem(field, format string, args ...any) error {
	return &spec.ValidationError{Problems: []spec.Problem{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}
