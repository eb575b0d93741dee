package spec

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
	var upper [maxSecretWord]byte
	n := 0 // length of the part read so far; beyond maxSecretWord, no word
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '_' || name[i] == '-' || name[i] == '.' {
			if n > 0 && n <= maxSecretWord && secretWords[string(upper[:n])] {
				return true
			}
			n = 0
			continue
		}
		if n < maxSecretWord {
			c := name[i]
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			upper[n] = c
		}
		n++
	}
	return false
}
