package state_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/api/view"
	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/spec"
	"github.com/devarch/devarch-controller/state"
)

const variablesTemplate = `services:
  vapp:
    image: busybox:${TAG:-1.36}
    user: ${UID}
    read_only: ${RO}
    environment:
      STAGE: ${STAGE:?name the stage}
      DB_URL: postgres://app:${DB_PASSWORD}@db/app
`

// storeVariablesTemplate imports a template that references variables
// from a file, as catalog import does.
func storeVariablesTemplate(t *testing.T, s *state.Store) spec.Template {
	t.Helper()
	path := filepath.Join(t.TempDir(), "web", "vapp", "compose.yml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(variablesTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := catalog.LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if _, err := s.UpsertTemplate(testContext(t), res.Template, catalog.Digest(res.Template)); err != nil {
		t.Fatalf("UpsertTemplate: %v", err)
	}
	return res.Template
}

func variablesStack(vars ...spec.Variable) spec.Stack {
	return spec.Stack{Name: "vars", Enabled: true, Variables: vars, Instances: []spec.Instance{
		{Name: "app", Enabled: true, Template: &spec.Template{Name: "vapp"}},
	}}
}

// TestStackVariablesRoundTrip: variables are stored with the stack, read
// back, resolve the template per stack, and secret ones never reach a view.
func TestStackVariablesRoundTrip(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	tmpl := storeVariablesTemplate(t, s)
	got, err := s.Template(ctx, "vapp")
	if err != nil || got.Compose != tmpl.Compose {
		t.Fatalf("Template: compose %q, %v; want the file stored", got.Compose, err)
	}

	vars := []spec.Variable{
		{Name: "UID", Value: "1000"}, {Name: "RO", Value: "true"}, {Name: "STAGE", Value: "dev"},
		{Name: "DB_PASSWORD", Value: secretValue},
	}
	res := importStack(t, s, variablesStack(vars...))
	if len(res.Warnings) != 0 {
		t.Errorf("warnings %q, want none (every variable given)", res.Warnings)
	}
	st, err := s.Stack(ctx, "vars")
	if err != nil {
		t.Fatalf("Stack: %v", err)
	}
	want := []spec.Variable{vars[3], vars[1], vars[2], vars[0]} // by name
	if !reflect.DeepEqual(st.Variables, want) {
		t.Errorf("variables = %+v\nwant %+v", st.Variables, want)
	}
	e := st.Instances[0].Effective
	if e.User.Value != "1000" || !e.Options.ReadOnly || e.Image.Value != "busybox:1.36" {
		t.Errorf("effective user %q read_only %v image %q", e.User.Value, e.Options.ReadOnly, e.Image.Value)
	}
	if st.Instances[0].Template.Spec.User != "1000" {
		t.Errorf("the instance's template copy is not resolved: user %q", st.Instances[0].Template.Spec.User)
	}
	uses := map[string][]string{}
	for _, u := range e.Variables {
		uses[u.Field] = u.Variables
	}
	if !reflect.DeepEqual(uses["user"], []string{"UID"}) || !reflect.DeepEqual(uses["env.DB_URL"], []string{"DB_PASSWORD"}) {
		t.Errorf("variable uses = %v", uses)
	}

	// Views: the secret variable is redacted, and so is the value it
	// was interpolated into.
	b, err := json.Marshal(view.Redact(st))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secretValue) {
		t.Errorf("view leaks the secret variable: %s", b)
	}
	if !strings.Contains(string(b), `{"name":"DB_PASSWORD","value":"(sensitive)","secret":true}`) || !strings.Contains(string(b), `{"name":"UID","value":"1000"}`) {
		t.Errorf("view variables: %s", b)
	}

	// Re-import: unchanged. A changed variable updates the stack row only.
	if again := importStack(t, s, variablesStack(vars...)); again.Changed() {
		t.Errorf("re-import changed %+v", again)
	}
	vars[0].Value = "1001"
	changed := importStack(t, s, variablesStack(vars...))
	if changed.StackAction != state.ActionUpdated || outcomes(changed)["app"] != state.ActionUnchanged {
		t.Errorf("changed variable: %+v", changed)
	}
	st, err = s.Stack(ctx, "vars")
	if err != nil || st.Instances[0].Effective.User.Value != "1001" {
		t.Errorf("after the change: user %q, %v", st.Instances[0].Effective.User.Value, err)
	}
}

// TestStackVariablesRequired: a required variable that is missing fails
// the import, naming the template file, the key and the variable, and
// writes nothing; an unset plain reference is a warning.
func TestStackVariablesRequired(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	tmpl := storeVariablesTemplate(t, s)
	_, err := s.ImportStack(ctx, variablesStack(spec.Variable{Name: "RO", Value: "false"}, spec.Variable{Name: "DB_PASSWORD", Value: secretValue}))
	var ve *spec.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("err = %v, want one validation problem", err)
	}
	p := ve.Problems[0]
	for _, w := range []string{tmpl.SourcePath, "services.vapp.environment.STAGE", "STAGE", "name the stage", "variables:"} {
		if !strings.Contains(p.Message, w) {
			t.Errorf("problem %q does not say %q", p.Message, w)
		}
	}
	if p.Field != "instances.app.template" {
		t.Errorf("problem field %q", p.Field)
	}
	if strings.Contains(err.Error(), secretValue) {
		t.Errorf("error leaks the secret: %v", err)
	}
	if n := count(t, s.Pool(), `SELECT count(*) FROM stacks WHERE name = 'vars'`); n != 0 {
		t.Errorf("%d stacks written by a failed import", n)
	}

	res := importStack(t, s, variablesStack(spec.Variable{Name: "RO", Value: "false"}, spec.Variable{Name: "STAGE", Value: "dev"}))
	joined := strings.Join(res.Warnings, "\n")
	for _, w := range []string{"services.vapp.user", "UID", "services.vapp.environment.DB_URL", "DB_PASSWORD", tmpl.SourcePath} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings %q do not name %q", res.Warnings, w)
		}
	}
}

// TestStackVariablesTemplateWithoutReferences: variables change nothing
// for a template without references: the effective spec is the plain
// merge, with no variable uses.
func TestStackVariablesTemplateWithoutReferences(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	st := shopStack("plain")
	st.Variables = []spec.Variable{{Name: "UID", Value: "1000"}}
	importStack(t, s, st)
	got, err := s.Stack(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	for _, inst := range got.Instances {
		var base *spec.ServiceSpec
		if inst.Template != nil {
			base = &inst.Template.Spec
		}
		want := spec.Merge(base, inst.Overrides)
		if !reflect.DeepEqual(inst.Effective, want) || inst.Effective.Variables != nil {
			t.Errorf("%s: effective differs from the plain merge", inst.Name)
		}
		b, _ := json.Marshal(inst.Effective)
		if strings.Contains(string(b), `"variables"`) {
			t.Errorf("%s: effective JSON names variables: %s", inst.Name, b)
		}
	}
}

// TestStackNeedingANewVariableDoesNotHideTheOthers: a template re-imported
// with a required variable a stack does not give leaves that stack
// readable, with a problem on the instance (its plan says it cannot be
// applied), and every other stack listed as before.
func TestStackNeedingANewVariableDoesNotHideTheOthers(t *testing.T) {
	t.Parallel()
	s, ctx := seededStore(t)
	tmpl := storeVariablesTemplate(t, s)
	importStack(t, s, variablesStack(spec.Variable{Name: "RO", Value: "false"}, spec.Variable{Name: "STAGE", Value: "dev"},
		spec.Variable{Name: "UID", Value: "1000"}, spec.Variable{Name: "DB_PASSWORD", Value: secretValue}))
	importStack(t, s, shopStack("other"))

	path := filepath.Join(t.TempDir(), "web", "vapp", "compose.yml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(tmpl.Compose, "image:", "hostname: ${HOST_NAME:?give the host name}\n    image:", 1)
	if changed == tmpl.Compose {
		t.Fatal("could not add a required variable to the template")
	}
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := catalog.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertTemplate(ctx, res.Template, catalog.Digest(res.Template)); err != nil {
		t.Fatal(err)
	}
	stacks, err := s.Stacks(ctx)
	if err != nil {
		t.Fatalf("Stacks: %v; one stack's unresolvable template must not hide the others", err)
	}
	byName := map[string]spec.Stack{}
	for _, st := range stacks {
		byName[st.Name] = st
	}
	if _, ok := byName["other"]; !ok {
		t.Fatal("the other stack is missing")
	}
	app := byName["vars"].Instances[0]
	if !strings.Contains(app.Problem, "HOST_NAME") || strings.Contains(app.Problem, secretValue) {
		t.Errorf("problem = %q, want it to name HOST_NAME (and no secret)", app.Problem)
	}
}
