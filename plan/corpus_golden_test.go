package plan

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/stackfile"
)

// loadTemplates loads catalog templates from the corpus (next to the
// repository) and the repository's examples, by name.
func loadTemplates(t *testing.T) map[string]spec.Template {
	t.Helper()
	corpus := testenv.Corpus(t, "devarch-services")
	out := map[string]spec.Template{}
	for i, fr := range catalog.LoadPaths(corpus, filepath.Join("..", "examples", "templates")) {
		if fr.Err != nil {
			t.Fatalf("load %s: %v", fr.Path, fr.Err)
		}
		tmpl := fr.Result.Template
		tmpl.ID = int64(100 + i)
		out[tmpl.Name] = tmpl
	}
	return out
}

// resolve gives a parsed stack ids and its templates, as state would.
func resolve(t *testing.T, s spec.Stack, id int64, templates map[string]spec.Template) spec.Stack {
	t.Helper()
	s.ID = id
	for i := range s.Instances {
		inst := &s.Instances[i]
		inst.ID = id*10 + int64(i) + 1
		if inst.Template != nil {
			tmpl, ok := templates[inst.Template.Name]
			if !ok {
				t.Fatalf("template %q not loaded", inst.Template.Name)
			}
			inst.Template = &tmpl
		}
		var base *spec.ServiceSpec
		if inst.Template != nil {
			base = &inst.Template.Spec
		}
		inst.Effective = spec.Merge(base, inst.Overrides)
	}
	return s
}

// TestGoldenPlansFromCorpus keeps golden plans of real inputs: devarch's
// shop export (with the example templates it names) and a stack of corpus
// templates (postgres, redis, traefik with its config files, grafana), each
// first with no container, then converged with a few edits and a stray.
func TestGoldenPlansFromCorpus(t *testing.T) {
	templates := loadTemplates(t)
	secrets := func(name string) (string, bool) { return "secret-value-of-" + name, true }
	shopFile, err := stackfile.ParseFile(testenv.Corpus(t, filepath.Join("devarch-stacks", "shop-export.yaml")), secrets)
	if err != nil {
		t.Fatal(err)
	}
	shop := resolve(t, shopFile.Stack, 7, templates)

	corpusStack := spec.Stack{Name: "corpus", Enabled: true}
	for _, name := range []string{"postgres", "redis", "traefik", "grafana"} {
		corpusStack.Instances = append(corpusStack.Instances, spec.Instance{Name: name, Enabled: true, Template: &spec.Template{Name: name}})
	}
	corpusStack = resolve(t, corpusStack, 8, templates)

	for name, s := range map[string]spec.Stack{"shop-export": shop, "corpus-stack": corpusStack} {
		t.Run(name, func(t *testing.T) {
			if err := s.Validate(); err != nil {
				t.Fatalf("stack does not validate: %v", err)
			}
			fresh := mustCompute(s, Observed{ImageIDs: map[string]string{}})
			// Converged, then: one instance edited by the user, one template
			// edited, one container stopped, one stray container.
			obs := observedFor(s)
			edited := s
			edited.Instances = append([]spec.Instance(nil), s.Instances...)
			edited.Instances[0].Overrides.Env = append(append([]spec.EnvVar(nil), edited.Instances[0].Overrides.Env...), spec.EnvVar{Key: "EDITED", Value: "yes"})
			tmpl := *edited.Instances[1].Template
			tmpl.Spec.Image += "-next"
			edited.Instances[1].Template = &tmpl
			edited = remerge(edited)
			obs.Containers[2].State, obs.Containers[2].ExitCode = spec.StateExited, 0
			stray := obs.Containers[0]
			stray.ID, stray.InstanceID, stray.InstanceName, stray.Name = "f00dfeed0000", 999, "old", "/devarch-"+s.Name+"-old"
			obs.Containers = append(obs.Containers, stray)
			// Snapshots share their containers' maps and slices with the
			// observer's cache (spec.Container): a plan must not write to
			// them.
			observedBefore, _ := json.Marshal(obs.Containers)
			changed := mustCompute(edited, obs)
			if changed.Summary != (Summary{Modify: 3, Remove: 1}) {
				t.Errorf("summary %+v, want 3 modify and 1 remove", changed.Summary)
			}
			for label, p := range map[string]*Plan{"fresh": fresh, "changed": changed} {
				var js, text bytes.Buffer
				_ = p.WriteJSON(&js)
				_ = p.WriteText(&text, TextOptions{})
				if bytes.Contains(js.Bytes(), []byte("secret-value-of-")) || bytes.Contains(text.Bytes(), []byte("secret-value-of-")) {
					t.Fatalf("%s plan leaks a secret", label)
				}
				golden(t, name+"-"+label+".json", js.Bytes())
				golden(t, name+"-"+label+".txt", text.Bytes())
			}
			if after, _ := json.Marshal(obs.Containers); !bytes.Equal(after, observedBefore) {
				t.Errorf("computing and rendering the plan changed the observed containers:\nbefore %s\nafter  %s", observedBefore, after)
			}
		})
	}
}
