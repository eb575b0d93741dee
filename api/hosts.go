package api

import (
	"net"
	"net/http"
	"strings"
)

// CodeMisdirectedHost is the error code of a request whose Host header is
// not one the server answers to.
const CodeMisdirectedHost = "misdirected_host"

// LoopbackHosts returns the host names a server listening on a loopback
// address answers to.
func LoopbackHosts() []string { return []string{"localhost", "127.0.0.1", "::1"} }

// HostCheck answers 421 to requests whose Host header (without its port)
// is not in allowed, and passes the others to next. It defends a server on
// a loopback address against DNS rebinding: a web page whose host name a
// malicious DNS server points at 127.0.0.1 reaches the server from the
// user's browser under its own name, which this check refuses. An empty
// allowed list disables the check.
func HostCheck(allowed []string, next http.Handler) http.Handler {
	if len(allowed) == 0 {
		return next
	}
	ok := make(map[string]bool, len(allowed))
	for _, h := range allowed {
		ok[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !ok[strings.ToLower(strings.Trim(host, "[]"))] {
			writeError(w, http.StatusMisdirectedRequest, CodeMisdirectedHost,
				"This server does not answer to the host name in the request. Use http://127.0.0.1 or http://localhost, or configure an API token to serve other names.")
			return
		}
		next.ServeHTTP(w, r)
	})
}
