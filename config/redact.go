package config

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

// RedactDatabaseURL returns s with its password replaced by Redacted, both
// the user-info password (postgres://user:<secret>@host/db) and secret query
// or keyword parameters (password=<secret>, sslpassword=<secret>). Use it
// wherever a database URL is logged or shown. A URL that does not parse is
// replaced whole, so the result never contains the password.
func RedactDatabaseURL(s string) string {
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		return redactKeywordDSN(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Redacted
	}
	u.RawQuery = redactQuery(u.RawQuery)
	u.Fragment, u.RawFragment = "", ""
	if u.User == nil {
		if strings.Contains(s, "@") {
			// An @ outside the user info means the URL did not parse the
			// way its author meant (e.g. an unescaped / or # in the
			// password), so part of it may be a password.
			return Redacted
		}
		return u.String()
	}
	if _, hasPassword := u.User.Password(); !hasPassword {
		return u.String()
	}
	u.User = url.User(u.User.Username())
	out := u.String()
	prefix := u.Scheme + "://" + u.User.String() + "@"
	if !strings.HasPrefix(out, prefix) {
		return Redacted
	}
	return strings.TrimSuffix(prefix, "@") + ":" + Redacted + "@" + out[len(prefix):]
}

// redactQuery replaces the values of secret parameters in a raw query,
// keeping the order and encoding of everything else.
func redactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, part := range parts {
		name, _, _ := strings.Cut(part, "=")
		if unescaped, err := url.QueryUnescape(name); err == nil {
			name = unescaped
		}
		if isSecretParam(name) {
			parts[i] = url.QueryEscape(name) + "=" + Redacted
		}
	}
	return strings.Join(parts, "&")
}

// keywordSecret matches password=... in a libpq keyword/value string; the
// value is either single-quoted (with \' escapes) or runs to whitespace.
var keywordSecret = regexp.MustCompile(`(?i)(\b(?:ssl)?password\s*=\s*)('(?:\\.|[^'\\])*'?|\S*)`)

func redactKeywordDSN(s string) string {
	return keywordSecret.ReplaceAllString(s, "${1}"+Redacted)
}

// isSecretParam reports whether a connection parameter holds a secret.
// sslkey and sslcert name files and stay visible.
func isSecretParam(name string) bool {
	lower := strings.ToLower(name)
	return lower == "password" || lower == "sslpassword" || spec.IsSecretName(name)
}
