package project

import (
	"slices"
	"unicode/utf8"
)

// textMap is a map of text values that encodes to exactly the JSON
// encoding/json writes for a map[string]string (keys sorted, HTML-safe
// escaping), without its reflection: records are encoded for every
// instance of every plan.
type textMap map[string]string

// MarshalJSON implements json.Marshaler.
func (m textMap) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	size := 2
	for k, v := range m {
		size += len(k) + len(v) + 6
	}
	return m.appendJSON(make([]byte, 0, size)), nil
}

// appendJSON appends the encoding of a non-nil m.
func (m textMap) appendJSON(b []byte) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// jsonSafe tells the ASCII bytes appendJSONString copies as they are: all
// but control characters, '"', '\\', '<', '>' and '&'.
var jsonSafe = asciiSafeSet()

func asciiSafeSet() (set [utf8.RuneSelf]bool) {
	for c := byte(0x20); c < utf8.RuneSelf; c++ {
		set[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return set
}

// Bytes repeated in the eight bytes of a word, for safe8.
const (
	ones     = 0x0101010101010101
	highBits = 0x8080808080808080
)

// safe8 reports whether the eight bytes of s are all jsonSafe, testing
// them at once: none below 0x20, none of " \ < > &, none with the high bit
// set (non-ASCII, which appendJSONString checks rune by rune).
func safe8(s string) bool {
	_ = s[7] // one bounds check
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	// v has a byte below n (n <= 0x80) exactly when (v - n*ones) &^ v has
	// a high bit set; below(x^(c*ones), 1): x has a byte equal to c.
	below := func(v uint64, n uint64) uint64 { return (v - n*ones) &^ v }
	flagged := x | below(x, 0x20) |
		below(x^('"'*ones), 1) | below(x^('\\'*ones), 1) |
		below(x^('<'*ones), 1) | below(x^('>'*ones), 1) | below(x^('&'*ones), 1)
	return flagged&highBits == 0
}

// appendJSONString appends s as encoding/json encodes a string with HTML
// escaping on: ", \ and control characters escaped, <, > and & as \u00XX,
// invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && safe8(s[i:i+8]) {
			i += 8
			continue
		}
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
