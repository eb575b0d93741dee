package spec

import "strings"

// RedactedValue replaces a secret wherever a value would be shown.
const RedactedValue = "(sensitive)"

// secretWords are the name parts that make an env var secret by name. A
// name is split on '_', '-' and '.', so KEYCLOAK_ADMIN is not secret but
// API_KEY and MSSQL_SA_PASSWORD are.
var secretWords = map[string]bool{
	"PASSWORD": true, "PASSWD": true, "PASS": true, "PWD": true,
	"SECRET": true, "SECRETS": true, "TOKEN": true, "KEY": true,
	"APIKEY": true, "PRIVATE": true, "CREDENTIAL": true,
	"CREDENTIALS": true, "SALT": true,
}

// IsSecretName reports whether an environment variable name looks like it
// holds a credential.
func IsSecretName(name string) bool {
	if isASCIIName(name) {
		return isSecretASCIIName(name)
	}
	return isSecretNameSplit(name)
}

// isSecretNameSplit is IsSecretName for any name: its parts, upper-cased,
// looked up in secretWords.
func isSecretNameSplit(name string) bool {
	parts := strings.FieldsFunc(strings.ToUpper(name), func(r rune) bool {
		return r == '_' || r == '-' || r == '.'
	})
	for _, p := range parts {
		if secretWords[p] {
			return true
		}
	}
	return false
}

// SecretValues returns the values of the stack's secret variables and of
// every secret env var of the stack's instances that are at least
// MinScrubLength bytes long (shorter values are not scrubbed, as they would
// mangle ordinary text).
func (s Stack) SecretValues() []string {
	var out []string
	for _, v := range s.Variables {
		if v.IsSecret() && len(v.Value) >= MinScrubLength {
			out = append(out, v.Value)
		}
	}
	for i := range s.Instances {
		inst := &s.Instances[i] // not a copy: an instance is kilobytes
		for _, v := range inst.Effective.Env {
			if v.IsSecret() && len(v.Value) >= MinScrubLength {
				out = append(out, v.Value)
			}
		}
		if len(inst.Effective.Secrets) > 0 {
			out = append(out, secretFileValues(inst.Effective)...)
		}
		for _, f := range inst.Effective.OptionFields {
			if f.Secret && len(f.Value) >= MinScrubLength {
				out = append(out, f.Value)
			}
		}
		out = append(out, buildSecretValues(inst.Effective.Build.Value)...)
	}
	return out
}
