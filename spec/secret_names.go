package spec

import "strings"

// maxSecretWord is the length of the longest of secretWords.
const maxSecretWord = len("CREDENTIALS")

// isASCIIName reports whether name is ASCII, where upper-casing and
// splitting on '_', '-' and '.' work byte by byte.
func isASCIIName(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isSecretASCIIName is isSecretNameSplit for an ASCII name, without
// allocating: env names are checked for every record and scrubber.
func isSecretASCIIName(name string) bool {
	for name != "" {
		part := name
		if i := strings.IndexAny(name, "_-."); i >= 0 {
			part, name = name[:i], name[i+1:]
		} else {
			name = ""
		}
		if part == "" || len(part) > maxSecretWord {
			continue
		}
		var upper [maxSecretWord]byte
		for i := 0; i < len(part); i++ {
			c := part[i]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			upper[i] = c
		}
		if secretWords[string(upper[:len(part)])] {
			return true
		}
	}
	return false
}
