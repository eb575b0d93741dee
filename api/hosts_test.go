package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHostCheck(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := HostCheck(LoopbackHosts(), ok)
	for host, want := range map[string]int{
		"127.0.0.1:8080":       http.StatusNoContent,
		"localhost:8080":       http.StatusNoContent,
		"LOCALHOST":            http.StatusNoContent,
		"[::1]:8080":           http.StatusNoContent,
		"evil.example:8080":    http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io":     http.StatusMisdirectedRequest,
		"attacker.test":        http.StatusMisdirectedRequest,
		"":                     http.StatusMisdirectedRequest,
		"localhost.evil:8080":  http.StatusMisdirectedRequest,
		"127.0.0.2:8080":       http.StatusMisdirectedRequest,
		"[::1]x":               http.StatusMisdirectedRequest,
		"localhost:8080:extra": http.StatusMisdirectedRequest,
	} {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/stacks", nil)
		r.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("Host %q: status %d, want %d", host, w.Code, want)
		}
		if want == http.StatusMisdirectedRequest && !strings.Contains(w.Body.String(), CodeMisdirectedHost) {
			t.Errorf("Host %q: body %s lacks the error code", host, w.Body.String())
		}
	}
	if HostCheck(nil, ok) == nil {
		t.Fatal("an empty list must pass requests through")
	}
}
