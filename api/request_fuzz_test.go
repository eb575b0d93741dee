package api

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzApplyRequest sends arbitrary bodies to POST /api/v1/stacks/shop/apply,
// where the staleness token arrives from the user. Whatever the body, the
// answer is one of the documented statuses with the JSON error format, never
// a 500; an approval is filed (202) only for a body that decodes to the
// stack's current token; and no answer shows the stack's secret.
func FuzzApplyRequest(f *testing.F) {
	for _, s := range []string{`{"token":"TOKEN"}`, `{"token":"TOKEN "}`, `{"token":""}`, ``, `{}`, `{"token":"TOKEN","x":1}`,
		`{"Token":"TOKEN"}`, `{"token":"TOKEN"}{}`, `[]`, `{"token":["TOKEN"]}`, `{"token":"\u0054OKEN"}`, "{\"token\":\"" + canary + "\"}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		hs := newHarness(t, Options{MaxBodyBytes: 4 << 10})
		tok := shopToken(t, hs)
		body = strings.ReplaceAll(body, "TOKEN", tok)
		w := hs.do(t, request{method: http.MethodPost, path: "/api/v1/stacks/shop/apply", body: body})
		if strings.Contains(w.Body.String(), canary) && !strings.Contains(body, canary) {
			t.Fatalf("the answer shows the stack's secret: %s", w.Body)
		}
		var req applyRequest
		decoded := decodeJSON([]byte(body), &req, "") == nil
		switch w.Code {
		case http.StatusAccepted:
			if !decoded || req.Token != tok {
				t.Fatalf("body %q filed an approval", body)
			}
			return
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("body %q: status %d: %s", body, w.Code, w.Body)
		}
		if decoded && req.Token == tok {
			t.Fatalf("body %q holds the current token but got %d: %s", body, w.Code, w.Body)
		}
		var e errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || !strings.HasSuffix(e.Error.Message, ".") {
			t.Fatalf("body %q: error response %q is not the documented format", body, w.Body)
		}
	})
}

// FuzzRequestHeaders checks the header parsers: X-Devarch-User (stored in
// approval rows as requested_by), the Authorization header and the
// Content-Type of state-changing requests.
func FuzzRequestHeaders(f *testing.F) {
	for _, s := range []string{"alice", "", "  bob  ", "a\x00b", "\xff", "Bearer secret-token", "bearer secret-token", "Bearer  secret-token ",
		"Basic c2VjcmV0", "Bearer", "application/json", "application/json; charset=utf-8", "text/plain", "application/json;;", strings.Repeat("x", 200)} {
		f.Add(s)
	}
	want := sha256.Sum256([]byte("secret-token"))
	f.Fuzz(func(t *testing.T, v string) {
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/api/v1/stacks/s/apply", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set(UserHeader, v)
		if u := headerUser(r); u != "api" {
			if u == "" || len(u) > maxUserLen || !utf8.ValidString(u) || strings.IndexFunc(u, func(c rune) bool { return !unicode.IsPrint(c) }) >= 0 {
				t.Fatalf("X-Devarch-User %q accepted as %q", v, u)
			}
		}
		if tokenMatches(v, &want) {
			scheme, cred, _ := strings.Cut(strings.TrimSpace(v), " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(cred) != "secret-token" {
				t.Fatalf("Authorization %q accepted", v)
			}
		}
		if isJSON(v) && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "application/json") {
			t.Fatalf("Content-Type %q taken for JSON", v)
		}
	})
}
