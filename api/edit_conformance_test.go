package api

import (
	"errors"
	"strings"
)

// shopFile is a stack file of stack "shop" (full specs, no template).
const shopFile = `version: 1
stack:
  name: shop
instances:
  web:
    template: node
    image: node:22-alpine
    environment:
      NODE_ENV: production
`

// editConformanceCases are the conformance cases of the desired-state
// edit endpoints.
func editConformanceCases() []conformanceCase {
	auth := Options{APIToken: apiToken}
	yaml := map[string]string{"Content-Type": "application/yaml"}
	put := func(path, body string, headers map[string]string) func(*harness) request {
		return func(*harness) request { return request{method: "PUT", path: path, body: body, headers: headers} }
	}
	with := func(h map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for hk, hv := range h {
			out[hk] = hv
		}
		return out
	}
	patch := func(path, body string, headers map[string]string) func(*harness) request {
		return func(*harness) request {
			return request{method: "PATCH", path: path, body: body, headers: with(headers, "Content-Type", "application/json")}
		}
	}
	match := map[string]string{"If-Match": `"2"`}
	revert := func(path string, headers map[string]string) func(*harness) request {
		return func(*harness) request { return request{method: "POST", path: path, headers: headers} }
	}
	const (
		db       = "/api/v1/stacks/shop/instances/web"
		putOp    = "PUT /api/v1/stacks/{name}"
		patchOp  = "PATCH /api/v1/stacks/{name}/instances/{instance}"
		revsOp   = "GET /api/v1/stacks/{name}/revisions"
		revertOp = "POST /api/v1/stacks/{name}/revisions/{number}/revert"
	)
	newFile := strings.Replace(shopFile, "name: shop", "name: new", 1)
	return []conformanceCase{
		{"put", putOp, Options{}, put("/api/v1/stacks/shop", shopFile, yaml), 200},
		{"put dry run", putOp, Options{}, put("/api/v1/stacks/shop?dry_run=true", shopFile, yaml), 200},
		{"put create", putOp, Options{}, put("/api/v1/stacks/new", newFile, yaml), 201},
		{"put 400 name", putOp, Options{}, put("/api/v1/stacks/other", shopFile, yaml), 400},
		{"put 400 template", putOp, Options{}, put("/api/v1/stacks/shop", shopFile+"  db:\n    template: postgres\n", yaml), 400},
		{"put 401", putOp, auth, put("/api/v1/stacks/shop", shopFile, yaml), 401},
		{"put 403", putOp, Options{}, put("/api/v1/stacks/shop", shopFile, with(yaml, "Origin", "http://evil.example")), 403},
		{"put 412", putOp, Options{}, put("/api/v1/stacks/shop", shopFile, with(yaml, "If-Match", `"1"`)), 412},
		{"put 413", putOp, Options{MaxBodyBytes: 16}, put("/api/v1/stacks/shop", shopFile, yaml), 413},
		{"put 415", putOp, Options{}, put("/api/v1/stacks/shop", shopFile, map[string]string{"Content-Type": "application/json"}), 415},
		{"put 500", putOp, Options{}, func(h *harness) request {
			h.edits.failWith = errors.New("down")
			return request{method: "PUT", path: "/api/v1/stacks/shop", body: shopFile, headers: yaml}
		}, 500},
		{"patch", patchOp, Options{}, patch(db, `{"image":"node:22-alpine"}`, match), 200},
		{"patch dry run", patchOp, Options{}, patch(db+"?dry_run=true", `{"env":[{"key":"APP_KEY","value":"(sensitive)"}]}`, nil), 200},
		{"patch 400 unknown field", patchOp, Options{}, patch(db, `{"imagex":"x"}`, match), 400},
		{"patch 400 invalid", patchOp, Options{}, patch(db, `{"image":null}`, match), 400},
		{"patch 401", patchOp, auth, patch(db, `{"image":"x"}`, match), 401},
		{"patch 403", patchOp, Options{}, patch(db, `{"image":"x"}`, with(match, "Origin", "http://evil.example")), 403},
		{"patch 404 stack", patchOp, Options{}, patch("/api/v1/stacks/nope/instances/web", `{"image":"x"}`, match), 404},
		{"patch 404 instance", patchOp, Options{}, patch("/api/v1/stacks/shop/instances/nope", `{"image":"x"}`, match), 404},
		{"patch 412", patchOp, Options{}, patch(db, `{"image":"x"}`, map[string]string{"If-Match": `"1"`}), 412},
		{"patch 413", patchOp, Options{MaxBodyBytes: 8}, patch(db, `{"image":"node:22"}`, match), 413},
		{"patch 415", patchOp, Options{}, func(*harness) request {
			return request{method: "PATCH", path: db, body: `{"image":"x"}`, headers: with(match, "Content-Type", "text/plain")}
		}, 415},
		{"patch 428", patchOp, Options{}, patch(db, `{"image":"x"}`, nil), 428},
		{"revisions", revsOp, Options{}, func(*harness) request { return request{path: "/api/v1/stacks/shop/revisions"} }, 200},
		{"revisions 401", revsOp, auth, func(*harness) request { return request{path: "/api/v1/stacks/shop/revisions"} }, 401},
		{"revisions 404", revsOp, Options{}, func(*harness) request { return request{path: "/api/v1/stacks/nope/revisions"} }, 404},
		{"revert", revertOp, Options{}, revert("/api/v1/stacks/shop/revisions/1/revert", nil), 200},
		{"revert dry run", revertOp, Options{}, revert("/api/v1/stacks/shop/revisions/1/revert?dry_run=true", match), 200},
		{"revert 400", revertOp, Options{}, revert("/api/v1/stacks/shop/revisions/x/revert", nil), 400},
		{"revert 401", revertOp, auth, revert("/api/v1/stacks/shop/revisions/1/revert", nil), 401},
		{"revert 403", revertOp, Options{}, revert("/api/v1/stacks/shop/revisions/1/revert", map[string]string{"Sec-Fetch-Site": "cross-site"}), 403},
		{"revert 404", revertOp, Options{}, revert("/api/v1/stacks/shop/revisions/9/revert", nil), 404},
		{"revert 412", revertOp, Options{}, revert("/api/v1/stacks/shop/revisions/1/revert", map[string]string{"If-Match": `"7"`}), 412},
		{"revert 415", revertOp, Options{}, revert("/api/v1/stacks/shop/revisions/1/revert", map[string]string{"Content-Type": "text/plain"}), 415},
	}
}
