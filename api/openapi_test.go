package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/lock"
)

// operation is one documented path and method.
type operation struct {
	path, method string
	spec         map[string]any
}

func (d *openAPI) operations(t *testing.T) []operation {
	t.Helper()
	paths, ok := d.root["paths"].(map[string]any)
	if !ok {
		t.Fatal("the document has no paths")
	}
	var ops []operation
	for p, item := range paths {
		for method, op := range item.(map[string]any) {
			m, ok := op.(map[string]any)
			if !ok {
				continue
			}
			ops = append(ops, operation{path: p, method: strings.ToUpper(method), spec: m})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

// response returns the documented response of op for status (or its
// default response) and whether the status is documented explicitly.
func (d *openAPI) response(t *testing.T, op operation, status int) (map[string]any, bool) {
	t.Helper()
	responses := op.spec["responses"].(map[string]any)
	r, explicit := responses[strconv.Itoa(status)].(map[string]any)
	if !explicit {
		if r, _ = responses["default"].(map[string]any); r == nil {
			t.Fatalf("%s %s: status %d is not documented and there is no default response", op.method, op.path, status)
		}
	}
	r, err := d.deref(r)
	if err != nil {
		t.Fatal(err)
	}
	return r, explicit
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	public := map[string]bool{}
	var documented, served []string
	for _, rt := range (&server{}).routes() {
		served = append(served, rt.method+" "+rt.path)
		public[rt.method+" "+rt.path] = rt.public
	}
	for _, op := range doc.operations(t) {
		key := op.method + " " + op.path
		documented = append(documented, key)
		if op.spec["operationId"] == nil || op.spec["summary"] == nil {
			t.Errorf("%s lacks operationId or summary", key)
		}
		sec, overridden := op.spec["security"].([]any)
		if docPublic := overridden && len(sec) == 0; docPublic != public[key] {
			t.Errorf("%s: documented as public %t, served as public %t", key, docPublic, public[key])
		}
	}
	sort.Strings(documented)
	sort.Strings(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("documented routes differ from served ones:\ndocumented %v\nserved     %v", documented, served)
	}
}

// TestOpenAPIRoutesAreServed calls every documented operation and checks
// the router does not answer 404 or 405 for it.
func TestOpenAPIRoutesAreServed(t *testing.T) {
	doc := loadOpenAPI(t)
	for _, op := range doc.operations(t) {
		t.Run(op.method+" "+op.path, func(t *testing.T) {
			hs := newHarness(t, Options{})
			a := hs.store.addApproval(approval.Succeeded)
			path := strings.NewReplacer("{name}", "shop", "{id}", strconv.FormatInt(a.ID, 10)).Replace(op.path)
			w := hs.do(t, request{method: op.method, path: path, body: ""})
			if w.Code == 404 || w.Code == 405 {
				var body errorBody
				_ = json.Unmarshal(w.Body.Bytes(), &body)
				if body.Error.Code == codeNotFound || body.Error.Code == codeMethodNotAllowed {
					t.Fatalf("the router does not serve it: %d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// conformanceCase is one request whose response is validated against the
// document.
type conformanceCase struct {
	name   string
	op     string // "METHOD /documented/path"
	opts   Options
	setup  func(*harness) request
	status int
}

func conformanceCases() []conformanceCase {
	auth := Options{APIToken: apiToken}
	get := func(path string) func(*harness) request { return func(*harness) request { return request{path: path} } }
	apply := func(body string, mutate func(*harness), headers map[string]string) func(*harness) request {
		return func(h *harness) request {
			if mutate != nil {
				mutate(h)
			}
			if body == "" {
				s, _ := h.store.Stack(context.Background(), "shop")
				body = `{"token":"` + h.store.token(s) + `"}`
			}
			return request{method: "POST", path: "/api/v1/stacks/shop/apply", body: body, headers: headers}
		}
	}
	withApproval := func(status approval.Status, suffix string, rq request) func(*harness) request {
		return func(h *harness) request {
			a := h.store.addApproval(status)
			h.store.appendEvents(a.ID, "created", "started")
			rq.path = approvalURL(a.ID) + suffix + rq.path
			return rq
		}
	}
	cancel := func(status approval.Status, rq request) func(*harness) request {
		rq.method = "POST"
		return withApproval(status, "/cancel", rq)
	}
	return append(append(lifecycleConformanceCases(), editConformanceCases()...), []conformanceCase{
		{"stacks", "GET /api/v1/stacks", Options{}, get("/api/v1/stacks"), 200},
		{"stacks 401", "GET /api/v1/stacks", auth, get("/api/v1/stacks"), 401},
		{"stacks 500", "GET /api/v1/stacks", Options{}, func(h *harness) request { h.store.failWith = errors.New("x"); return request{path: "/api/v1/stacks"} }, 500},
		{"stack", "GET /api/v1/stacks/{name}", Options{}, get("/api/v1/stacks/shop"), 200},
		{"stack without status", "GET /api/v1/stacks/{name}", Options{}, get("/api/v1/stacks/empty"), 200},
		{"stack 401", "GET /api/v1/stacks/{name}", auth, get("/api/v1/stacks/shop"), 401},
		{"stack 404", "GET /api/v1/stacks/{name}", Options{}, get("/api/v1/stacks/nope"), 404},
		{"stack 405", "GET /api/v1/stacks/{name}", Options{}, func(*harness) request { return request{method: "POST", path: "/api/v1/stacks/shop"} }, 405},
		{"plan", "GET /api/v1/stacks/{name}/plan", Options{}, get("/api/v1/stacks/shop/plan"), 200},
		{"empty plan", "GET /api/v1/stacks/{name}/plan", Options{}, get("/api/v1/stacks/empty/plan"), 200},
		{"plan 401", "GET /api/v1/stacks/{name}/plan", auth, get("/api/v1/stacks/shop/plan"), 401},
		{"plan 404", "GET /api/v1/stacks/{name}/plan", Options{}, get("/api/v1/stacks/nope/plan"), 404},
		{"plan 500", "GET /api/v1/stacks/{name}/plan", Options{}, func(h *harness) request {
			h.planErr = errors.New("down")
			return request{path: "/api/v1/stacks/shop/plan"}
		}, 500},
		{"export", "GET /api/v1/stacks/{name}/export", Options{}, get("/api/v1/stacks/empty/export"), 200},
		{"export compose", "GET /api/v1/stacks/{name}/export", Options{}, get("/api/v1/stacks/shop/export?format=compose"), 200},
		{"export 400", "GET /api/v1/stacks/{name}/export", Options{}, get("/api/v1/stacks/shop/export?format=helm"), 400},
		{"export 401", "GET /api/v1/stacks/{name}/export", auth, get("/api/v1/stacks/shop/export"), 401},
		{"export 404", "GET /api/v1/stacks/{name}/export", Options{}, get("/api/v1/stacks/nope/export"), 404},
		{"export 422", "GET /api/v1/stacks/{name}/export", Options{}, get("/api/v1/stacks/shop/export"), 422},
		{"apply", "POST /api/v1/stacks/{name}/apply", Options{ApprovalTTL: time30m}, apply("", nil, nil), 202},
		{"apply 400", "POST /api/v1/stacks/{name}/apply", Options{}, apply("{}", nil, nil), 400},
		{"apply 401", "POST /api/v1/stacks/{name}/apply", auth, apply("", nil, nil), 401},
		{"apply 403", "POST /api/v1/stacks/{name}/apply", Options{}, apply("", nil, map[string]string{"Origin": "http://evil.example"}), 403},
		{"apply 404", "POST /api/v1/stacks/{name}/apply", Options{}, func(*harness) request {
			return request{method: "POST", path: "/api/v1/stacks/nope/apply", body: `{"token":"x"}`}
		}, 404},
		{"apply 409 stale", "POST /api/v1/stacks/{name}/apply", Options{}, apply(`{"token":"old"}`, nil, nil), 409},
		{"apply 409 locked", "POST /api/v1/stacks/{name}/apply", Options{}, apply("", func(h *harness) { h.locks.holders = []lock.Holder{{StackID: 1, Granted: true}} }, nil), 409},
		{"apply 413", "POST /api/v1/stacks/{name}/apply", Options{MaxBodyBytes: 16}, apply(`{"token":"0123456789abcdef"}`, nil, nil), 413},
		{"apply 415", "POST /api/v1/stacks/{name}/apply", Options{}, apply("", nil, map[string]string{"Content-Type": "text/plain"}), 415},
		{"approvals", "GET /api/v1/approvals", Options{}, func(h *harness) request {
			h.store.addApproval(approval.Succeeded)
			return request{path: "/api/v1/approvals"}
		}, 200},
		{"approvals by stack", "GET /api/v1/approvals", Options{}, func(h *harness) request {
			h.store.addApproval(approval.Pending)
			return request{path: "/api/v1/approvals?stack=shop&limit=10"}
		}, 200},
		{"approvals 400", "GET /api/v1/approvals", Options{}, get("/api/v1/approvals?limit=-1"), 400},
		{"approvals 401", "GET /api/v1/approvals", auth, get("/api/v1/approvals"), 401},
		{"approvals 404", "GET /api/v1/approvals", Options{}, get("/api/v1/approvals?stack=nope"), 404},
		{"approval", "GET /api/v1/approvals/{id}", Options{}, withApproval(approval.Succeeded, "", request{}), 200},
		{"approval pending", "GET /api/v1/approvals/{id}", Options{}, withApproval(approval.Pending, "", request{}), 200},
		{"approval 400", "GET /api/v1/approvals/{id}", Options{}, get("/api/v1/approvals/x"), 400},
		{"approval 401", "GET /api/v1/approvals/{id}", auth, get("/api/v1/approvals/1"), 401},
		{"approval 404", "GET /api/v1/approvals/{id}", Options{}, get("/api/v1/approvals/77"), 404},
		{"cancel", "POST /api/v1/approvals/{id}/cancel", Options{}, cancel(approval.Pending, request{}), 200},
		{"cancel 400", "POST /api/v1/approvals/{id}/cancel", Options{}, cancel(approval.Pending, request{body: `{"x":1}`}), 400},
		{"cancel 401", "POST /api/v1/approvals/{id}/cancel", auth, cancel(approval.Pending, request{}), 401},
		{"cancel 403", "POST /api/v1/approvals/{id}/cancel", Options{}, cancel(approval.Pending, request{headers: map[string]string{"Sec-Fetch-Site": "cross-site"}}), 403},
		{"cancel 404", "POST /api/v1/approvals/{id}/cancel", Options{}, func(*harness) request { return request{method: "POST", path: "/api/v1/approvals/77/cancel"} }, 404},
		{"cancel 409", "POST /api/v1/approvals/{id}/cancel", Options{}, cancel(approval.Applying, request{}), 409},
		{"cancel 413", "POST /api/v1/approvals/{id}/cancel", Options{MaxBodyBytes: 4}, cancel(approval.Pending, request{body: `{"aaaaaaaa":1}`}), 413},
		{"cancel 415", "POST /api/v1/approvals/{id}/cancel", Options{}, cancel(approval.Pending, request{headers: map[string]string{"Content-Type": "text/plain"}}), 415},
		{"events", "GET /api/v1/approvals/{id}/events", Options{}, withApproval(approval.Succeeded, "/events", request{}), 200},
		{"events 400", "GET /api/v1/approvals/{id}/events", Options{}, withApproval(approval.Succeeded, "/events", request{headers: map[string]string{"Last-Event-ID": "z"}}), 400},
		{"events 401", "GET /api/v1/approvals/{id}/events", auth, get("/api/v1/approvals/1/events"), 401},
		{"events 404", "GET /api/v1/approvals/{id}/events", Options{}, get("/api/v1/approvals/77/events"), 404},
		{"openapi", "GET /api/v1/openapi.yaml", auth, get("/api/v1/openapi.yaml"), 200},
		{"healthz", "GET /healthz", auth, get("/healthz"), 200},
		{"readyz", "GET /readyz", auth, get("/readyz"), 200},
		{"readyz 503", "GET /readyz", auth, func(h *harness) request { h.ready["database"] = errors.New("down"); return request{path: "/readyz"} }, 503},
		{"metrics", "GET /metrics", auth, get("/metrics"), 200},
	}...)
}

// TestOpenAPIConformance validates real responses against the documented
// schemas, and checks that every documented status of every operation is
// exercised.
func TestOpenAPIConformance(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := map[string]operation{}
	for _, op := range doc.operations(t) {
		ops[op.method+" "+op.path] = op
	}
	covered := map[string]bool{}
	for _, tc := range conformanceCases() {
		t.Run(tc.name, func(t *testing.T) {
			op, ok := ops[tc.op]
			if !ok {
				t.Fatalf("operation %s is not documented", tc.op)
			}
			hs := newHarness(t, tc.opts)
			w := hs.do(t, tc.setup(hs))
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			resp, explicit := doc.response(t, op, w.Code)
			if explicit {
				covered[tc.op+" "+strconv.Itoa(w.Code)] = true
			}
			validateResponse(t, doc, resp, w)
		})
	}
	for key, op := range ops {
		for status := range op.spec["responses"].(map[string]any) {
			if status != "default" && !covered[key+" "+status] {
				t.Errorf("documented response %s %s is never exercised", key, status)
			}
		}
	}
}

// validateResponse checks the response's media type is documented and its
// body matches the documented schema.
func validateResponse(t *testing.T, doc *openAPI, resp map[string]any, w *httptest.ResponseRecorder) {
	t.Helper()
	content, _ := resp["content"].(map[string]any)
	mt, _, err := mime.ParseMediaType(w.Header().Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", w.Header().Get("Content-Type"), err)
	}
	media, ok := content[mt].(map[string]any)
	if !ok {
		t.Fatalf("media type %s is not documented for this response (documented: %v)", mt, keys(content))
	}
	if headers, ok := resp["headers"].(map[string]any); ok {
		for name := range headers {
			if w.Header().Get(name) == "" {
				t.Errorf("documented header %s is missing", name)
			}
		}
	}
	schema, _ := media["schema"].(map[string]any)
	switch mt {
	case "application/json":
		if errs := doc.validateJSON(schema, w.Body.Bytes()); len(errs) > 0 {
			t.Fatalf("response does not match its schema:\n%s\nbody: %s", strings.Join(errs, "\n"), w.Body)
		}
	case "text/event-stream":
		validateEventStream(t, doc, media, w.Body.Bytes())
	case "application/yaml":
		if !bytes.Equal(w.Body.Bytes(), openAPIDoc) {
			t.Error("GET /api/v1/openapi.yaml does not serve api/openapi.yaml")
		}
	}
}

// validateEventStream validates each event's data against the schema the
// document names for the event (x-event-schemas).
func validateEventStream(t *testing.T, doc *openAPI, media map[string]any, body []byte) {
	t.Helper()
	schemas, ok := media["x-event-schemas"].(map[string]any)
	if !ok {
		t.Fatal("the event stream documents no x-event-schemas")
	}
	r := bufio.NewReader(bytes.NewReader(body))
	seen := map[string]int{}
	for {
		ev, err := readEvent(r)
		if err != nil {
			break
		}
		if ev.name == "" {
			continue
		}
		seen[ev.name]++
		schema, ok := schemas[ev.name].(map[string]any)
		if !ok {
			t.Fatalf("event %q is not documented", ev.name)
		}
		if errs := doc.validateJSON(schema, []byte(ev.data)); len(errs) > 0 {
			t.Fatalf("%s event does not match its schema: %v\ndata: %s", ev.name, errs, ev.data)
		}
	}
	if seen[eventProgress] == 0 || seen[eventStatus] != 1 {
		t.Fatalf("events seen %v, want progress events and one status", seen)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIErrorCodesMatchTheCode keeps the documented error codes and
// the constants in respond.go equal.
func TestOpenAPIErrorCodesMatchTheCode(t *testing.T) {
	doc := loadOpenAPI(t)
	detail, err := doc.resolve("#/components/schemas/ErrorDetail")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, c := range detail["properties"].(map[string]any)["code"].(map[string]any)["enum"].([]any) {
		documented = append(documented, c.(string))
	}
	b, err := os.ReadFile("respond.go")
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	var defined []string
	for _, m := range regexp.MustCompile(`(?m)^\s+code\w+\s+= "(\w+)"`).FindAllStringSubmatch(src, -1) {
		defined = append(defined, m[1])
	}
	sort.Strings(documented)
	sort.Strings(defined)
	if len(defined) == 0 || !slices.Equal(documented, defined) {
		t.Fatalf("error codes differ:\ndocumented %v\ndefined    %v", documented, defined)
	}
}
