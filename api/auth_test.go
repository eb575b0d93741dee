package api

import (
	"crypto/sha256"
	"strings"
	"testing"
)

const apiToken = "tok-3c4d5e6f-api"

func TestAuth(t *testing.T) {
	tests := []struct {
		name      string
		token     string // configured
		req       request
		want      int
		challenge string // expected WWW-Authenticate; "" = none
	}{
		{name: "auth off", req: request{path: "/api/v1/stacks"}, want: 200},
		{name: "auth off ignores a header", req: request{path: "/api/v1/stacks", headers: map[string]string{"Authorization": "Bearer whatever"}}, want: 200},
		{name: "missing header", token: apiToken, req: request{path: "/api/v1/stacks"}, want: 401, challenge: authRealm},
		{name: "right token", token: apiToken, req: request{path: "/api/v1/stacks", headers: map[string]string{"Authorization": "Bearer " + apiToken}}, want: 200},
		{name: "scheme is case-insensitive", token: apiToken, req: request{path: "/api/v1/stacks", headers: map[string]string{"Authorization": "bearer " + apiToken}}, want: 200},
		{name: "wrong token", token: apiToken, req: request{path: "/api/v1/stacks", headers: map[string]string{"Authorization": "Bearer tok-3c4d5e6f-apX"}}, want: 401,
			challenge: authRealm + `, error="invalid_token"`},
		{name: "token prefix", token: apiToken, req: request{path: "/api/v1/stacks", headers: map[string]string{"Authorization": "Bearer " + apiToken[:5]}}, want: 401},
		{name: "token with suffix", token: apiToken, req: request{path: "/api/v1/stacks", headers: map[string]string{"Authorization": "Bearer " + apiToken + "x"}}, want: 401},
		{name: "basic scheme", token: apiToken, req: request{path: "/api/v1/stacks", headers: map[string]string{"Authorization": "Basic " + apiToken}}, want: 401},
		{name: "bare token", token: apiToken, req: request{path: "/api/v1/stacks", headers: map[string]string{"Authorization": apiToken}}, want: 401},
		{name: "token in query is not accepted", token: apiToken, req: request{path: "/api/v1/stacks?access_token=" + apiToken}, want: 401},
		{name: "POST needs the token", token: apiToken, req: request{method: "POST", path: "/api/v1/stacks/shop/apply", body: `{"token":"x"}`}, want: 401},
		{name: "unknown approval needs the token first", token: apiToken, req: request{path: "/api/v1/approvals/999"}, want: 401},
		{name: "events need the token", token: apiToken, req: request{path: "/api/v1/approvals/1/events"}, want: 401},
		{name: "openapi is open", token: apiToken, req: request{path: "/api/v1/openapi.yaml"}, want: 200},
		{name: "healthz is open", token: apiToken, req: request{path: "/healthz"}, want: 200},
		{name: "readyz is open", token: apiToken, req: request{path: "/readyz"}, want: 200},
		{name: "metrics is open", token: apiToken, req: request{path: "/metrics"}, want: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t, Options{APIToken: tt.token})
			w := hs.do(t, tt.req)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if w.Code == 401 {
				if e := decodeError(t, w); e.Code != "unauthorized" {
					t.Errorf("code %q", e.Code)
				}
				if strings.Contains(w.Body.String(), apiToken) {
					t.Error("the 401 body contains the token")
				}
			}
			got := w.Header().Get("WWW-Authenticate")
			if tt.challenge != "" && got != tt.challenge || tt.want == 401 && got == "" {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
		})
	}
}

// TestAuthRunsBeforeOtherChecks: an unauthenticated caller learns nothing
// about origins, content types or bodies.
func TestAuthRunsBeforeOtherChecks(t *testing.T) {
	hs := newHarness(t, Options{APIToken: apiToken})
	w := hs.do(t, request{method: "POST", path: "/api/v1/stacks/shop/apply", body: "not json",
		headers: map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example"}})
	if w.Code != 401 {
		t.Fatalf("status %d, want 401", w.Code)
	}
}

func TestTokenMatches(t *testing.T) {
	want := sha256.Sum256([]byte("s3cret"))
	tests := []struct {
		header string
		ok     bool
	}{
		{"Bearer s3cret", true},
		{"BEARER s3cret", true},
		{"  Bearer   s3cret  ", true},
		{"Bearer s3cre", false},
		{"Bearer s3cret2", false},
		{"Bearer S3CRET", false},
		{"Bearer", false},
		{"Bearer ", false},
		{"s3cret", false},
		{"Token s3cret", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := tokenMatches(tt.header, &want); got != tt.ok {
			t.Errorf("tokenMatches(%q) = %t, want %t", tt.header, got, tt.ok)
		}
	}
}

func TestIsJSON(t *testing.T) {
	tests := []struct {
		ct string
		ok bool
	}{
		{"application/json", true},
		{"Application/JSON", true},
		{"application/json; charset=utf-8", true},
		{"application/json-patch+json", false},
		{"text/plain", false},
		{"multipart/form-data; boundary=x", false},
		{"", false},
		{"application/json;;", false},
	}
	for _, tt := range tests {
		if got := isJSON(tt.ct); got != tt.ok {
			t.Errorf("isJSON(%q) = %t, want %t", tt.ct, got, tt.ok)
		}
	}
}
