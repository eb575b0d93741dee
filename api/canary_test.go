package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/devarch/devarch-controller/approval"
)

// TestSecretsNeverLeave calls every endpoint on a stack whose secrets are
// the canary (as secret env values, inside a non-secret env value, a
// command and a config file) and checks that no response body, header or
// log line holds the canary or the API token.
func TestSecretsNeverLeave(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	hs := newLoggedHarness(t, Options{APIToken: apiToken}, zap.New(core))
	auth := map[string]string{"Authorization": "Bearer " + apiToken}
	var bodies []string
	call := func(rq request) string {
		t.Helper()
		if rq.headers == nil {
			rq.headers = map[string]string{}
		}
		for k, v := range auth {
			rq.headers[k] = v
		}
		w := hs.do(t, rq)
		bodies = append(bodies, fmt.Sprintf("%s %s → %d %v\n%s", rq.method, rq.path, w.Code, w.Header(), w.Body))
		return w.Body.String()
	}

	call(request{path: "/api/v1/stacks"})
	call(request{path: "/api/v1/stacks/shop"})
	call(request{path: "/api/v1/stacks/shop/plan"})
	call(request{path: "/api/v1/stacks/shop/export"})
	call(request{path: "/api/v1/stacks/shop/export?format=compose"})
	var filed applyResponse
	tok := shopToken(t, hs)
	if err := json.Unmarshal([]byte(call(request{method: "POST", path: "/api/v1/stacks/shop/apply", body: `{"token":"` + tok + `"}`})), &filed); err != nil {
		t.Fatal(err)
	}
	call(request{method: "POST", path: "/api/v1/stacks/shop/apply", body: `{"token":"` + canary + `"}`})
	call(request{method: "POST", path: "/api/v1/stacks/shop/apply", body: `{"token":"` + tok + `","` + canary + `":1}`})
	call(request{path: "/api/v1/approvals?stack=shop"})
	call(request{path: approvalURL(filed.Approval.ID)})
	hs.store.appendEvents(filed.Approval.ID, "created devarch-shop-db")
	hs.store.mu.Lock()
	hs.store.approvals[filed.Approval.ID].Status = approval.Applying
	hs.store.mu.Unlock()
	hs.store.setStatus(filed.Approval.ID, approval.Succeeded)
	call(request{path: approvalURL(filed.Approval.ID) + "/events"})
	pending := hs.store.addApproval(approval.Pending)
	call(request{method: "POST", path: approvalURL(pending.ID) + "/cancel", body: "{}"})
	call(request{path: "/api/v1/approvals/" + canary})
	call(request{path: "/api/v1/stacks/" + canary})
	call(request{path: "/healthz"})
	call(request{path: "/readyz"})
	call(request{path: "/metrics"})
	call(request{path: "/api/v1/openapi.yaml"})
	hs.planErr = errors.New("compose rejected env POSTGRES_PASSWORD=" + canary)
	call(request{path: "/api/v1/stacks/shop/plan"})
	hs.ready["database"] = errors.New("connection refused")
	call(request{path: "/readyz"})

	if len(bodies) < 15 || !strings.Contains(strings.Join(bodies, ""), `"status":"succeeded"`) {
		t.Fatalf("the calls did not run as planned:\n%s", strings.Join(bodies, "\n"))
	}
	for _, b := range bodies {
		if strings.Contains(b, apiToken) {
			t.Errorf("a response holds the API token:\n%s", b)
		}
		// Requests that echo a path segment or field name the caller sent
		// are the only ones allowed to contain what the caller sent.
		if strings.Contains(b, canary) && !strings.Contains(b, "/"+canary) && !strings.Contains(b, `unknown field \"`+canary) {
			t.Errorf("a response holds the secret:\n%s", b)
		}
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		if strings.Contains(line, apiToken) || strings.Contains(line, canary) && !strings.Contains(line, "path=/api/v1/") {
			t.Errorf("a log line holds a secret: %s", line)
		}
	}
	if logs.FilterMessage("http request").Len() < len(bodies) {
		t.Errorf("%d request log lines for %d requests", logs.FilterMessage("http request").Len(), len(bodies))
	}
}
