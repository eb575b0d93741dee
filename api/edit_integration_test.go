package api

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// send sends a request with headers and returns the status, headers and
// body.
func (ra *realAPI) send(t *testing.T, method, path, body string, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ra.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	ra.bodies = append(ra.bodies, string(b))
	return resp.StatusCode, resp.Header, b
}

// desiredRows summarizes every row of the desired state and its revisions,
// with their timestamps: equal before and after means nothing was written.
func (ra *realAPI) desiredRows(t *testing.T) string {
	t.Helper()
	var out string
	err := ra.store.Pool().QueryRow(t.Context(), `SELECT
		(SELECT count(*) FROM stacks)::text || '/' || (SELECT count(*) FROM instances)::text || '/' ||
		(SELECT count(*) FROM stack_revisions)::text || '/' || (SELECT count(*) FROM approvals)::text || '/' ||
		coalesce((SELECT max(updated_at)::text FROM stacks), '') || '/' || coalesce((SELECT max(updated_at)::text FROM instances), '') || '/' ||
		coalesce((SELECT string_agg(overrides::text, ',' ORDER BY id) FROM instances), '')`).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// notifications counts the desired-state notifications fn causes.
func (ra *realAPI) notifications(t *testing.T, fn func()) int {
	t.Helper()
	ch, err := ra.store.Listen(t.Context(), state.ChannelDesired, "devarch_test_edit_barrier")
	if err != nil {
		t.Fatal(err)
	}
	fn()
	if _, err := ra.store.Pool().Exec(t.Context(), `SELECT pg_notify('devarch_test_edit_barrier', 'done')`); err != nil {
		t.Fatal(err)
	}
	n := 0
	timeout := time.After(10 * time.Second)
	for {
		select {
		case note := <-ch:
			if note.Channel == "devarch_test_edit_barrier" {
				return n
			}
			n++
		case <-timeout:
			t.Fatal("no barrier notification after 10s")
		}
	}
}

func decodeEdit(t *testing.T, b []byte) editResponse {
	t.Helper()
	var out editResponse
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return out
}

func paths(c plan.Change) []string {
	var out []string
	for _, f := range c.Fields {
		out = append(out, f.Path)
	}
	return out
}

func TestEditDryRunWritesNothingAndLostUpdateIs412(t *testing.T) {
	ra := newRealAPI(t)
	const password = "edit-s3cret-never-shown"
	ra.seed(t, password)
	jsonType := map[string]string{"Content-Type": "application/json"}
	yaml := map[string]string{"Content-Type": "application/yaml"}

	status, h, b := ra.send(t, "GET", "/api/v1/stacks/shop", "", nil)
	if status != 200 || h.Get("ETag") != `"1"` || !strings.Contains(string(b), `"revision":1`) {
		t.Fatalf("GET stack: %d ETag %q, want 200 with ETag \"1\": %s", status, h.Get("ETag"), b)
	}

	file := "version: 1\nstack:\n  name: shop\ninstances:\n  db:\n    template: postgres\n    image: postgres:17\n"
	before := ra.desiredRows(t)
	var put, patch editResponse
	n := ra.notifications(t, func() {
		status, _, b = ra.send(t, "PUT", "/api/v1/stacks/shop?dry_run=true", file, yaml)
		if status != 200 {
			t.Fatalf("PUT dry run: %d %s", status, b)
		}
		put = decodeEdit(t, b)
		status, _, b = ra.send(t, "PATCH", "/api/v1/stacks/shop/instances/db?dry_run=true", `{"image":"postgres:17"}`, jsonType)
		if status != 200 {
			t.Fatalf("PATCH dry run: %d %s", status, b)
		}
		patch = decodeEdit(t, b)
		status, _, b = ra.send(t, "PUT", "/api/v1/stacks/fresh?dry_run=true", strings.Replace(file, "name: shop", "name: fresh", 1), yaml)
		if status != 200 {
			t.Fatalf("PUT dry run of a new stack: %d %s", status, b)
		}
	})
	if after := ra.desiredRows(t); n != 0 || after != before {
		t.Fatalf("dry runs wrote: %d notifications; rows %s -> %s", n, before, after)
	}
	if !put.DryRun || put.Changed || put.Revision != 1 || len(put.Preview.Changes) != 1 {
		t.Fatalf("PUT dry run: %+v", put)
	}
	if got := paths(put.Preview.Changes[0]); !slices.Equal(got, []string{"image", "env.DATABASE_URL", "env.POSTGRES_PASSWORD"}) {
		t.Errorf("PUT preview fields %v, want image and the two env overrides the file drops", got)
	}
	if got := paths(patch.Preview.Changes[0]); len(patch.Preview.Changes) != 1 || !slices.Equal(got, []string{"image"}) {
		t.Errorf("PATCH preview %+v, want exactly db's image", patch.Preview.Changes)
	}

	// A PATCH needs If-Match; a wrong field is named; nothing is written.
	for _, tc := range []struct {
		body    string
		headers map[string]string
		status  int
		want    string
	}{
		{`{"image":"postgres:17"}`, jsonType, 428, "If-Match"},
		{`{"imagee":"postgres:17"}`, map[string]string{"Content-Type": "application/json", "If-Match": `"1"`}, 400, `imagee`},
		{`{"image":"postgres:17"}`, map[string]string{"Content-Type": "application/json", "If-Match": `"0"`}, 412, "revision 1"},
	} {
		status, _, b = ra.send(t, "PATCH", "/api/v1/stacks/shop/instances/db", tc.body, tc.headers)
		if status != tc.status || !strings.Contains(string(b), tc.want) {
			t.Errorf("PATCH %s: %d %s, want %d naming %s", tc.body, status, b, tc.status, tc.want)
		}
	}
	if after := ra.desiredRows(t); after != before {
		t.Fatalf("refused PATCHes wrote: %s -> %s", before, after)
	}

	// Two clients read revision 1; the first PATCH wins, the second is a
	// lost update: 412, and the first one's change stays.
	match := map[string]string{"Content-Type": "application/json", "If-Match": `"1"`, UserHeader: "alice"}
	status, h, b = ra.send(t, "PATCH", "/api/v1/stacks/shop/instances/db", `{"image":"postgres:17"}`, match)
	if status != 200 || h.Get("ETag") != `"2"` {
		t.Fatalf("PATCH: %d ETag %q %s", status, h.Get("ETag"), b)
	}
	if e := decodeEdit(t, b); !e.Changed || e.Revision != 2 {
		t.Errorf("PATCH response %+v, want changed at revision 2", e)
	}
	mid := ra.desiredRows(t)
	status, h, b = ra.send(t, "PATCH", "/api/v1/stacks/shop/instances/db", `{"image":"postgres:15"}`, match)
	if status != 412 || h.Get("ETag") != `"2"` || !strings.Contains(string(b), "revision_mismatch") {
		t.Fatalf("lost update: %d ETag %q %s, want 412 with ETag \"2\"", status, h.Get("ETag"), b)
	}
	if after := ra.desiredRows(t); after != mid {
		t.Fatalf("the lost update wrote: %s -> %s", mid, after)
	}
	st, _ := ra.store.Stack(t.Context(), "shop")
	if img := st.Instances[0].Effective.Image.Value; img != "postgres:17" {
		t.Errorf("image %q after the lost update, want the first client's postgres:17", img)
	}
	// The secret survived the PATCH (it patched only the image).
	if v := st.Instances[0].Overrides.Env; !slices.ContainsFunc(v, func(e spec.EnvVar) bool { return e.Value == password }) {
		t.Error("the PATCH lost the stored secret")
	}

	status, _, b = ra.send(t, "GET", "/api/v1/stacks/shop/revisions", "", nil)
	var list revisionList
	if err := json.Unmarshal(b, &list); status != 200 || err != nil || len(list.Revisions) != 2 || list.Revisions[0].Author != "alice" || list.Revisions[0].Kind != "edit" {
		t.Fatalf("revisions: %d %s", status, b)
	}

	// Revert to 1: a new revision whose change is exactly the image.
	status, _, b = ra.send(t, "POST", "/api/v1/stacks/shop/revisions/1/revert", "", jsonType)
	if status != 200 {
		t.Fatalf("revert: %d %s", status, b)
	}
	rv := decodeEdit(t, b)
	if rv.Revision != 3 || !rv.Changed || len(rv.Preview.Changes) != 1 || !slices.Equal(paths(rv.Preview.Changes[0]), []string{"image"}) {
		t.Errorf("revert: %+v, want revision 3 changing exactly the image", rv)
	}
	for _, tc := range []struct{ method, path, body, code string }{
		{"POST", "/api/v1/stacks/shop/revisions/9/revert", "{}", "revision_not_found"},
		{"PATCH", "/api/v1/stacks/shop/instances/nope", `{"image":"x"}`, "instance_not_found"},
		{"PATCH", "/api/v1/stacks/nope/instances/db", `{"image":"x"}`, "stack_not_found"},
		{"GET", "/api/v1/stacks/nope/revisions", "", "stack_not_found"},
	} {
		status, _, b = ra.send(t, tc.method, tc.path, tc.body, map[string]string{"Content-Type": "application/json", "If-Match": "*"})
		if status != 404 || !strings.Contains(string(b), `"code":"`+tc.code+`"`) {
			t.Errorf("%s %s: %d %s, want 404 %s", tc.method, tc.path, status, b, tc.code)
		}
	}
	for _, body := range ra.bodies {
		if strings.Contains(body, password) {
			t.Errorf("a response shows the secret: %s", body)
		}
	}
}
