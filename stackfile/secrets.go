package stackfile

import (
	"fmt"
	"os"
	"regexp"
)

// SecretLookup returns the value of the secret called name, and whether it
// exists.
type SecretLookup func(name string) (string, bool)

// secretRef matches a ${SECRET:NAME} reference.
var secretRef = regexp.MustCompile(`\$\{SECRET:([^}]*)\}`)

// secretName is the form of a secret's name: an environment variable name.
var secretName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// resolveSecrets replaces every ${SECRET:NAME} reference in value. It
// reports whether the value referenced a secret, and false in ok when a
// reference could not be resolved (the problem is recorded, naming the
// secret and the field, never a value).
func (b *builder) resolveSecrets(field, value string) (resolved string, fromSecret, ok bool) {
	ok = true
	resolved = secretRef.ReplaceAllStringFunc(value, func(ref string) string {
		fromSecret = true
		name := secretRef.FindStringSubmatch(ref)[1]
		if !secretName.MatchString(name) {
			b.fail(field, "a ${SECRET:...} reference has an invalid name; use letters, digits and '_', as in ${SECRET:DB_PASSWORD}")
			ok = false
			return ""
		}
		var v string
		found := false
		if b.secrets != nil {
			v, found = b.secrets(name)
		}
		if !found {
			if b.secretsHint != "" {
				b.fail(field, "secret %q is not set; %s", name, b.secretsHint)
			} else {
				b.fail(field, "secret %q is not set; provide it through the secrets file or an environment variable named %s", name, name)
			}
			ok = false
			return ""
		}
		return v
	})
	return resolved, fromSecret, ok
}

// EnvSecrets looks secrets up as environment variables of the same name.
// lookupEnv is os.LookupEnv when nil.
func EnvSecrets(lookupEnv func(string) (string, bool)) SecretLookup {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	return func(name string) (string, bool) { return lookupEnv(name) }
}

// FileSecrets reads a secrets file of NAME=value lines (see ParseSecrets)
// once and looks secrets up in it.
func FileSecrets(path string) (SecretLookup, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secrets file: %w", err)
	}
	values, err := ParseSecrets(data)
	if err != nil {
		return nil, fmt.Errorf("parse secrets file %s: %w", path, err)
	}
	return func(name string) (string, bool) {
		v, ok := values[name]
		return v, ok
	}, nil
}

// Chain looks a secret up in each lookup in turn and returns the first
// value found. Nil lookups are skipped. The CLI chains the secrets file (when
// one is configured) before the environment.
func Chain(lookups ...SecretLookup) SecretLookup {
	return func(name string) (string, bool) {
		for _, l := range lookups {
			if l == nil {
				continue
			}
			if v, ok := l(name); ok {
				return v, true
			}
		}
		return "", false
	}
}
