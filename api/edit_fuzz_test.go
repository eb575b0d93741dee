package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzPatchInstance sends arbitrary bodies and If-Match headers to PATCH
// /api/v1/stacks/shop/instances/web, where the overrides arrive from the
// user. Whatever they are, the answer is a documented status with the JSON
// format, never a 500; a change is accepted (200) only with the current
// revision and a body that decodes strictly; and no answer shows the
// stack's secret.
func FuzzPatchInstance(f *testing.F) {
	for _, s := range []struct{ body, match string }{
		{`{"image":"node:22"}`, `"2"`}, {`{"image":null}`, `"2"`}, {`{"env":[{"key":"APP_KEY","value":"(sensitive)"}]}`, `"2"`},
		{`{"env":[{"key":"NEW","value":"(sensitive)"}]}`, `"2"`}, {`{"imagex":"x"}`, `"2"`}, {`{}`, `"2"`}, {``, `"2"`},
		{`[]`, `*`}, {`{"ports":[{"container_port":80,"protocol":"tcp"}]}`, `"1"`}, {`{"hostname":"web-1","read_only":true}`, `*`},
		{`{"image":"x"}{}`, `"2"`}, {`{"image":"x"}`, `2`}, {`{"image":"x"}`, ``}, {`{"command":["a",1]}`, `"2"`},
	} {
		f.Add(s.body, s.match)
	}
	f.Fuzz(func(t *testing.T, body, match string) {
		hs := newHarness(t, Options{MaxBodyBytes: 4 << 10})
		headers := map[string]string{"Content-Type": "application/json", "If-Match": match}
		w := hs.do(t, request{method: http.MethodPatch, path: "/api/v1/stacks/shop/instances/web", body: body, headers: headers})
		if strings.Contains(w.Body.String(), canary) && !strings.Contains(body, canary) {
			t.Fatalf("the answer shows the stack's secret: %s", w.Body)
		}
		switch w.Code {
		case http.StatusOK:
			if strings.TrimSpace(match) != "*" && strings.TrimSpace(match) != `"2"` {
				t.Fatalf("If-Match %q was accepted", match)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal([]byte(body), &fields); err != nil || len(fields) == 0 {
				t.Fatalf("body %q was accepted", body)
			}
			return
		case http.StatusBadRequest, http.StatusPreconditionFailed, http.StatusPreconditionRequired, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for body %q, If-Match %q: %s", w.Code, body, match, w.Body)
		}
		var e errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || !strings.HasSuffix(e.Error.Message, ".") {
			t.Fatalf("error body %s is not the documented format", w.Body)
		}
	})
}
