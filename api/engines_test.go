package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestStackEngine: the list and the stack carry the engine a stack runs
// on (the default engine for a stack that names none), ?engine= filters
// the list, and a stack file naming an engine the controller does not
// have is refused, naming it and the engines, with nothing written.
func TestStackEngine(t *testing.T) {
	hs := newHarness(t, Options{Engines: []string{"local", "edge"}, DefaultEngine: "local"})
	for i := range hs.store.stacks {
		if hs.store.stacks[i].Name == "shop" {
			hs.store.stacks[i].Engine = "edge"
		}
	}
	list := func(path string) map[string]string {
		rec := hs.do(t, request{path: path})
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
		var body struct {
			Stacks []struct{ Name, Engine string } `json:"stacks"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, s := range body.Stacks {
			out[s.Name] = s.Engine
		}
		return out
	}
	all := list("/api/v1/stacks")
	if all["shop"] != "edge" || len(all) < 2 {
		t.Fatalf("list: %v; want shop on edge beside the others", all)
	}
	for name, engine := range all {
		if name != "shop" && engine != "local" {
			t.Errorf("stack %s without an engine shows engine %q; want the default, local", name, engine)
		}
	}
	if got := list("/api/v1/stacks?engine=edge"); len(got) != 1 || got["shop"] != "edge" {
		t.Errorf("?engine=edge: %v; want shop only", got)
	}
	if got := list("/api/v1/stacks?engine=local"); got["shop"] != "" || len(got) != len(all)-1 {
		t.Errorf("?engine=local: %v; want every stack but shop", got)
	}
	rec := hs.do(t, request{path: "/api/v1/stacks/shop"})
	if !strings.Contains(rec.Body.String(), `"engine":"edge"`) {
		t.Errorf("GET shop: %s; want engine edge", rec.Body)
	}

	file := strings.Replace(shopFile, "  name: shop\n", "  name: shop\n  engine: mars\n", 1)
	rec = hs.do(t, request{method: http.MethodPut, path: "/api/v1/stacks/shop", body: file, headers: map[string]string{"Content-Type": "application/yaml"}})
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `engine \"mars\"`) || !strings.Contains(rec.Body.String(), "local, edge") {
		t.Errorf("PUT with engine mars: %d %s; want 400 naming mars and the engines", rec.Code, rec.Body)
	}
	if rec := hs.do(t, request{path: "/api/v1/stacks/shop"}); !strings.Contains(rec.Body.String(), `"engine":"edge"`) {
		t.Errorf("after the refused file: %s; want shop unchanged", rec.Body)
	}
}
