package stackfile

import (
	"fmt"
	"strings"
)

// ParseSecrets parses a secrets file in dotenv form:
//
//	# comment
//	DB_PASSWORD=s3cret
//	export API_KEY="with \"escapes\"\n"   # trailing comment
//	RAW='kept exactly, $HOME too'
//
// Values are never expanded: "$" has no special meaning. In double quotes
// the escapes \n, \r, \t, \", \\ and \$ are recognised; single quotes keep
// everything as written. A later line for the same name wins. Errors name
// the line, never its value.
func ParseSecrets(data []byte) (map[string]string, error) {
	values := map[string]string{}
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		name, raw, ok := strings.Cut(line, "=")
		name = strings.TrimSpace(name)
		if !ok {
			return nil, fmt.Errorf("line %d: expected NAME=value", n)
		}
		if !secretName.MatchString(name) {
			return nil, fmt.Errorf("line %d: the name is not a valid secret name; use letters, digits and '_', not starting with a digit", n)
		}
		value, err := dotenvValue(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("line %d (%s): %w", n, name, err)
		}
		values[name] = value
	}
	return values, nil
}

// dotenvValue decodes the value part of a line.
func dotenvValue(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	switch raw[0] {
	case '\'':
		end := strings.IndexByte(raw[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("the single-quoted value is not closed")
		}
		return raw[1 : 1+end], trailing(raw[2+end:])
	case '"':
		return doubleQuoted(raw)
	}
	// An unquoted value ends at a " #" comment.
	if i := strings.Index(raw, " #"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.Index(raw, "\t#"); i >= 0 {
		raw = raw[:i]
	}
	return strings.TrimSpace(raw), nil
}

func doubleQuoted(raw string) (string, error) {
	var b strings.Builder
	for i := 1; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '"':
			return b.String(), trailing(raw[i+1:])
		case c == '\\' && i+1 < len(raw):
			i++
			switch raw[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\\', '$':
				b.WriteByte(raw[i])
			default:
				b.WriteByte('\\')
				b.WriteByte(raw[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("the double-quoted value is not closed")
}

// trailing checks what follows a closing quote: nothing or a comment.
func trailing(rest string) error {
	rest = strings.TrimSpace(rest)
	if rest != "" && !strings.HasPrefix(rest, "#") {
		return fmt.Errorf("unexpected text after the closing quote; quote the whole value")
	}
	return nil
}
