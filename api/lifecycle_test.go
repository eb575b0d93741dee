package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/approval"
	"github.com/devarch/devarch-controller/deploy"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

// The fake store's lifecycle changes follow *state.Store's rules: an
// applying approval refuses every change (ErrApplying), a deleting stack
// keeps no instances and cannot be changed, a change that adds a
// validation problem is refused, and nothing is written on a refusal.

func (f *fakeStore) change(name, instance string, deleting bool, do func(st *spec.Stack, i int) bool) (state.LifecycleResult, error) {
	if err := f.fail(); err != nil {
		return state.LifecycleResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := slices.IndexFunc(f.stacks, func(s spec.Stack) bool { return s.Name == name })
	if idx < 0 {
		return state.LifecycleResult{}, fmt.Errorf("stack %q %w", name, state.ErrNotFound)
	}
	st := f.stacks[idx]
	for _, a := range f.approvals {
		if a.StackID == st.ID && a.Status == approval.Applying {
			return state.LifecycleResult{}, fmt.Errorf("stack %q %w", name, state.ErrApplying)
		}
	}
	if st.Deleting && !deleting {
		return state.LifecycleResult{}, fmt.Errorf("stack %q is deleting: %w", name, state.ErrNotFound)
	}
	i := -1
	if instance != "" {
		if i = slices.IndexFunc(st.Instances, func(in spec.Instance) bool { return in.Name == instance }); i < 0 {
			return state.LifecycleResult{}, fmt.Errorf("instance %q of stack %q %w", instance, name, state.ErrNotFound)
		}
	}
	st.Instances = slices.Clone(st.Instances)
	before := fmt.Sprint(st.Validate())
	changed := do(&st, i)
	if err := st.Validate(); err != nil && fmt.Sprint(err) != before {
		return state.LifecycleResult{}, err
	}
	f.stacks[idx] = st
	return state.LifecycleResult{StackID: st.ID, Changed: changed}, nil
}

func (f *fakeStore) DeleteStackChecked(_ context.Context, name string, o state.DeleteStackOptions) (state.LifecycleResult, error) {
	return f.change(name, "", true, func(st *spec.Stack, _ int) bool {
		was := st.Deleting
		st.Deleting, st.RemoveVolumes, st.Instances = true, st.RemoveVolumes || o.RemoveVolumes, []spec.Instance{}
		return !was
	})
}

func (f *fakeStore) SetStackEnabledChecked(_ context.Context, name string, enabled bool) (state.LifecycleResult, error) {
	return f.change(name, "", false, func(st *spec.Stack, _ int) bool {
		was := st.Enabled
		st.Enabled = enabled
		return was != enabled
	})
}

func (f *fakeStore) DeleteInstanceChecked(_ context.Context, stack, instance string) (state.LifecycleResult, error) {
	return f.change(stack, instance, false, func(st *spec.Stack, i int) bool {
		st.Instances = slices.Delete(st.Instances, i, i+1)
		return true
	})
}

func (f *fakeStore) SetInstanceEnabledChecked(_ context.Context, stack, instance string, enabled bool) (state.LifecycleResult, error) {
	return f.change(stack, instance, false, func(st *spec.Stack, i int) bool {
		was := st.Instances[i].Enabled
		st.Instances[i].Enabled = enabled
		return was != enabled
	})
}

// fakeOrphans lists one orphaned container and network.
type fakeOrphans struct{ err error }

func (o fakeOrphans) Orphans(context.Context) (deploy.Orphans, error) {
	if o.err != nil {
		return deploy.Orphans{}, o.err
	}
	return deploy.Orphans{
		Containers: []deploy.OrphanContainer{{ID: "0123456789ab", Name: "devarch-old-app", StackID: 7, Stack: "old", State: "running", Engine: "local"}},
		Networks:   []deploy.OrphanNetwork{{ID: "ba9876543210", Name: "devarch-old-net", StackID: 7, Engine: "local"}},
	}, nil
}

// lifecycleConformanceCases exercise every documented status of the
// lifecycle endpoints.
func lifecycleConformanceCases() []conformanceCase {
	auth := Options{APIToken: apiToken}
	call := func(method, path string, headers map[string]string, mutate func(*harness)) func(*harness) request {
		return func(h *harness) request {
			if mutate != nil {
				mutate(h)
			}
			return request{method: method, path: path, headers: headers}
		}
	}
	evil := map[string]string{"Origin": "http://evil.example"}
	text := map[string]string{"Content-Type": "text/plain"}
	applying := func(h *harness) {
		a := h.store.addApproval(approval.Pending)
		h.store.setStatus(a.ID, approval.Applying)
	}
	cases := []conformanceCase{
		{"delete", "DELETE /api/v1/stacks/{name}", Options{}, call("DELETE", "/api/v1/stacks/shop?volumes=true", nil, nil), 200},
		{"delete 400", "DELETE /api/v1/stacks/{name}", Options{}, call("DELETE", "/api/v1/stacks/shop?volumes=maybe", nil, nil), 400},
		{"delete 401", "DELETE /api/v1/stacks/{name}", auth, call("DELETE", "/api/v1/stacks/shop", nil, nil), 401},
		{"delete 403", "DELETE /api/v1/stacks/{name}", Options{}, call("DELETE", "/api/v1/stacks/shop", evil, nil), 403},
		{"delete 404", "DELETE /api/v1/stacks/{name}", Options{}, call("DELETE", "/api/v1/stacks/nope", nil, nil), 404},
		{"delete 409", "DELETE /api/v1/stacks/{name}", Options{}, call("DELETE", "/api/v1/stacks/shop", nil, applying), 409},
		{"delete without plan", "DELETE /api/v1/stacks/{name}", Options{}, call("DELETE", "/api/v1/stacks/shop", nil, func(h *harness) { h.planErr = errors.New("down") }), 200},
		{"orphans", "GET /api/v1/orphans", Options{}, call("GET", "/api/v1/orphans", nil, nil), 200},
		{"orphans 401", "GET /api/v1/orphans", auth, call("GET", "/api/v1/orphans", nil, nil), 401},
	}
	for _, verb := range []string{"disable", "enable"} {
		op := "POST /api/v1/stacks/{name}/" + verb
		path := "/api/v1/stacks/shop/" + verb
		cases = append(cases,
			conformanceCase{verb, op, Options{}, call("POST", path, nil, nil), 200},
			conformanceCase{verb + " 401", op, auth, call("POST", path, nil, nil), 401},
			conformanceCase{verb + " 403", op, Options{}, call("POST", path, evil, nil), 403},
			conformanceCase{verb + " 404", op, Options{}, call("POST", "/api/v1/stacks/nope/"+verb, nil, nil), 404},
			conformanceCase{verb + " 409", op, Options{}, call("POST", path, nil, applying), 409},
			conformanceCase{verb + " 415", op, Options{}, call("POST", path, text, nil), 415},
		)
		op = "POST /api/v1/stacks/{name}/instances/{instance}/" + verb
		path = "/api/v1/stacks/shop/instances/web/" + verb
		cases = append(cases,
			conformanceCase{"instance " + verb, op, Options{}, call("POST", path, nil, nil), 200},
			conformanceCase{"instance " + verb + " 401", op, auth, call("POST", path, nil, nil), 401},
			conformanceCase{"instance " + verb + " 403", op, Options{}, call("POST", path, evil, nil), 403},
			conformanceCase{"instance " + verb + " 404", op, Options{}, call("POST", "/api/v1/stacks/shop/instances/nope/"+verb, nil, nil), 404},
			conformanceCase{"instance " + verb + " 409", op, Options{}, call("POST", path, nil, applying), 409},
			conformanceCase{"instance " + verb + " 415", op, Options{}, call("POST", path, text, nil), 415},
		)
	}
	// Enabling an instance that publishes a host port an enabled one
	// already publishes is refused (disabling adds no problem).
	conflict := func(h *harness) {
		h.store.mu.Lock()
		defer h.store.mu.Unlock()
		shop := &h.store.stacks[1]
		twin := shop.Instances[0]
		twin.ID, twin.Name, twin.Enabled = 13, "db2", false
		shop.Instances = append(shop.Instances, twin)
	}
	cases = append(cases,
		conformanceCase{"instance enable 422", "POST /api/v1/stacks/{name}/instances/{instance}/enable", Options{},
			call("POST", "/api/v1/stacks/shop/instances/db2/enable", nil, conflict), 422},
	)
	op := "DELETE /api/v1/stacks/{name}/instances/{instance}"
	cases = append(cases,
		conformanceCase{"instance delete", op, Options{}, call("DELETE", "/api/v1/stacks/shop/instances/web", nil, nil), 200},
		conformanceCase{"instance delete 401", op, auth, call("DELETE", "/api/v1/stacks/shop/instances/web", nil, nil), 401},
		conformanceCase{"instance delete 403", op, Options{}, call("DELETE", "/api/v1/stacks/shop/instances/web", evil, nil), 403},
		conformanceCase{"instance delete 404", op, Options{}, call("DELETE", "/api/v1/stacks/shop/instances/nope", nil, nil), 404},
		conformanceCase{"instance delete 409", op, Options{}, call("DELETE", "/api/v1/stacks/shop/instances/web", nil, applying), 409},
		conformanceCase{"instance delete 422", op, Options{}, call("DELETE", "/api/v1/stacks/shop/instances/db", nil, nil), 422},
	)
	return cases
}

// errorOf decodes an error body.
func errorOf(t *testing.T, body []byte) apiError {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return e.Error
}

// TestLifecycleBadInputWritesNothing: an unknown stack is 404 naming it;
// a stack with an approval applying is 409 naming it; an unknown instance
// is 404 naming it; nothing is written on any of them.
func TestLifecycleBadInputWritesNothing(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		applying bool
		status   int
		code     string
		names    string
	}{
		{"delete unknown stack", "DELETE", "/api/v1/stacks/nope", false, 404, codeStackNotFound, `"nope"`},
		{"disable unknown stack", "POST", "/api/v1/stacks/nope/disable", false, 404, codeStackNotFound, `"nope"`},
		{"delete unknown instance", "DELETE", "/api/v1/stacks/shop/instances/nope", false, 404, codeInstanceNotFound, `"nope"`},
		{"enable instance of unknown stack", "POST", "/api/v1/stacks/gone/instances/db/enable", false, 404, codeStackNotFound, `"gone"`},
		{"delete applying stack", "DELETE", "/api/v1/stacks/shop?volumes=true", true, 409, codeStackApplying, `"shop"`},
		{"disable applying stack", "POST", "/api/v1/stacks/shop/disable", true, 409, codeStackApplying, `"shop"`},
		{"delete instance of applying stack", "DELETE", "/api/v1/stacks/shop/instances/web", true, 409, codeStackApplying, `"shop"`},
		{"bad volumes parameter", "DELETE", "/api/v1/stacks/shop?volumes=yes", false, 400, codeInvalidParameter, "volumes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := newHarness(t, Options{})
			if tc.applying {
				a := hs.store.addApproval(approval.Pending)
				hs.store.setStatus(a.ID, approval.Applying)
			}
			before := slices.Clone(hs.store.stacks)
			w := hs.do(t, request{method: tc.method, path: tc.path})
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			e := errorOf(t, w.Body.Bytes())
			if e.Code != tc.code || !strings.Contains(e.Message, tc.names) {
				t.Errorf("error %+v, want code %s naming %s", e, tc.code, tc.names)
			}
			if !reflect.DeepEqual(before, hs.store.stacks) {
				t.Error("the refused request changed the desired state")
			}
		})
	}
}

// TestDeleteStackShowsDeleting: the delete answers the removal plan, and
// the stack is listed and shown as deleting until its removal is applied.
func TestDeleteStackShowsDeleting(t *testing.T) {
	hs := newHarness(t, Options{})
	w := hs.do(t, request{method: "DELETE", path: "/api/v1/stacks/shop"})
	if w.Code != 200 {
		t.Fatalf("delete: %d %s", w.Code, w.Body)
	}
	var res lifecycleResponse
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Lifecycle != spec.LifecycleDeleting || res.Plan == nil || res.ID != 1 {
		t.Errorf("delete answered %+v", res)
	}
	if strings.Contains(w.Body.String(), canary) {
		t.Error("the delete's answer holds a secret")
	}
	var list stackList
	w = hs.do(t, request{path: "/api/v1/stacks"})
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Stacks {
		want := map[string]string{"shop": spec.LifecycleDeleting, "empty": spec.LifecycleDisabled}[s.Name]
		if s.Lifecycle != want {
			t.Errorf("stack %s listed with lifecycle %q, want %q", s.Name, s.Lifecycle, want)
		}
	}
	w = hs.do(t, request{method: "DELETE", path: "/api/v1/stacks/shop"})
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || w.Code != 200 || res.Changed {
		t.Errorf("second delete: %d %+v %v; want 200 unchanged", w.Code, res, err)
	}
	w = hs.do(t, request{method: "POST", path: "/api/v1/stacks/shop/disable"})
	if e := errorOf(t, w.Body.Bytes()); w.Code != 404 || !strings.Contains(e.Message, "deleted") {
		t.Errorf("disable a deleting stack: %d %+v; want 404 saying it is deleted", w.Code, e)
	}
}

// FuzzLifecycleRequest sends arbitrary stack and instance names and
// volumes values to the lifecycle endpoints: the answer is a documented
// status in the documented format, a refusal changes nothing, and no
// answer shows the stack's secret.
func FuzzLifecycleRequest(f *testing.F) {
	for _, s := range [][3]string{{"shop", "", "true"}, {"shop", "web", ""}, {"nope", "db", "false"}, {"shop", "db", "maybe"},
		{"shop%2Fweb", "x y", "1"}, {"", "", ""}, {"SHOP", "WEB", "TRUE"}, {canary, canary, canary}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, stack, instance, volumes string) {
		hs := newHarness(t, Options{})
		base := "/api/v1/stacks/" + url.PathEscape(stack)
		reqs := []request{{method: "DELETE", path: base + "?volumes=" + url.QueryEscape(volumes)}, {method: "POST", path: base + "/disable"}}
		if instance != "" {
			ip := base + "/instances/" + url.PathEscape(instance)
			reqs = append(reqs, request{method: "DELETE", path: ip}, request{method: "POST", path: ip + "/enable"})
		}
		for _, rq := range reqs {
			before := slices.Clone(hs.store.stacks)
			w := hs.do(t, rq)
			if strings.Contains(w.Body.String(), canary) && !strings.Contains(stack+instance+volumes, canary) {
				t.Fatalf("%s %s: the answer shows the stack's secret: %s", rq.method, rq.path, w.Body)
			}
			switch w.Code {
			case http.StatusOK, http.StatusMovedPermanently, http.StatusTemporaryRedirect: // the mux cleans paths such as "//"
				continue
			case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusConflict, http.StatusUnprocessableEntity:
			default:
				t.Fatalf("%s %s: status %d: %s", rq.method, rq.path, w.Code, w.Body)
			}
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || !strings.HasSuffix(e.Error.Message, ".") {
				t.Fatalf("%s %s: error response %q is not the documented format", rq.method, rq.path, w.Body)
			}
			if !reflect.DeepEqual(before, hs.store.stacks) {
				t.Fatalf("%s %s answered %d but changed the desired state", rq.method, rq.path, w.Code)
			}
		}
	})
}
