package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// A PATCH names override fields exactly: encoding/json's case-insensitive
// match would let {"Image": …} sit beside the stored "image" in the merge
// and be dropped, answering 200 for a change that was never made. An
// If-Match ETag is compared as a string, so "02" is not revision 2.
func TestPatchInstanceIsExact(t *testing.T) {
	for _, c := range []struct {
		name, body, match string
		want              int
		wantMessage       string
	}{
		{"field in another case", `{"Image":"node:22"}`, `"2"`, http.StatusBadRequest, `unknown field "Image"`},
		{"mixed case beside the right one", `{"image":"node:22","imAge":"x"}`, `"2"`, http.StatusBadRequest, `unknown field "imAge"`},
		{"compose option in another case", `{"HostName":"web-1"}`, `"2"`, http.StatusBadRequest, `unknown field "HostName"`},
		{"etag with a leading zero", `{"image":"node:22"}`, `"02"`, http.StatusBadRequest, `If-Match header must be the stack's ETag`},
		{"etag with a sign", `{"image":"node:22"}`, `"+2"`, http.StatusBadRequest, `If-Match header must be the stack's ETag`},
		{"exact names and etag", `{"image":"node:22","hostname":"web-1"}`, `"2"`, http.StatusOK, ``},
	} {
		t.Run(c.name, func(t *testing.T) {
			hs := newHarness(t, Options{})
			w := hs.do(t, request{method: http.MethodPatch, path: "/api/v1/stacks/shop/instances/web", body: c.body,
				headers: map[string]string{"Content-Type": "application/json", "If-Match": c.match}})
			if w.Code != c.want {
				t.Fatalf("status %d, want %d: %s", w.Code, c.want, w.Body)
			}
			if c.want != http.StatusOK {
				var e errorBody
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error.Message, c.wantMessage) {
					t.Fatalf("error %s does not say %q", w.Body, c.wantMessage)
				}
				return
			}
			var res editResponse
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || !res.Changed {
				t.Fatalf("the change was not made: %s", w.Body)
			}
		})
	}
}

// A PUT whose stack file references a secret the controller cannot
// resolve says where the API reads secrets: only the controller's secrets
// file, never an environment variable, which a caller could not set.
func TestPutUnresolvedSecretSaysWhereSecretsComeFrom(t *testing.T) {
	body := shopFile + "      APP_KEY: ${SECRET:APP_KEY}\n"
	for _, c := range []struct {
		name    string
		secrets func(string) (string, bool)
		want    string
	}{
		{"no secrets file", nil, "the controller has no secrets file: set secrets_file"},
		{"secrets file without it", func(n string) (string, bool) { return "x", n == "OTHER" }, "to the controller's secrets file (secrets_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			hs := newHarness(t, Options{Secrets: c.secrets})
			w := hs.do(t, request{method: http.MethodPut, path: "/api/v1/stacks/shop", body: body,
				headers: map[string]string{"Content-Type": "application/yaml"}})
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || w.Code != http.StatusBadRequest {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if !strings.Contains(e.Error.Message, `secret "APP_KEY" is not set`) || !strings.Contains(e.Error.Message, c.want) ||
				strings.Contains(e.Error.Message, "an environment variable named") {
				t.Fatalf("the error does not say where the API reads secrets (want %q): %s", c.want, e.Error.Message)
			}
		})
	}
}
