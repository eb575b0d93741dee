package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"mime"
	"net/http"
	"strings"
)

const authRealm = `Bearer realm="devarch-controller"`

// authorized checks the bearer token when one is configured, answering
// 401 itself when it is missing or wrong.
func (s *server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.tokenHash == nil {
		return true
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		w.Header().Set("WWW-Authenticate", authRealm)
		writeError(w, http.StatusUnauthorized, codeUnauthorized,
			"This API needs a token. Send it in the header Authorization: Bearer <token>.")
		return false
	}
	if !tokenMatches(header, s.tokenHash) {
		w.Header().Set("WWW-Authenticate", authRealm+`, error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, codeUnauthorized,
			"The API token is not valid. Send the controller's configured token in the header Authorization: Bearer <token>.")
		return false
	}
	return true
}

// tokenMatches reports whether an Authorization header carries the token
// whose SHA-256 is want. Both sides are hashed to the same length first,
// so the constant-time comparison reveals neither the token's content nor
// its length.
func tokenMatches(header string, want *[sha256.Size]byte) bool {
	scheme, cred, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// isJSON reports whether a Content-Type header names JSON.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}
