package plan

import (
	"reflect"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

func TestAnnotateVariables(t *testing.T) {
	uses := []spec.VariableUse{
		{Field: "user", Variables: []string{"UID"}},
		{Field: "ulimits.nofile", Variables: []string{"NOFILE"}},
		{Field: "healthcheck.test", Variables: []string{"PORT"}},
		{Field: "env.DB_URL", Variables: []string{"DB_PASSWORD", "DB_HOST"}},
	}
	fields := []FieldChange{
		{Path: "user", Source: spec.SourceTemplate},
		{Path: "ulimits.nofile.soft", Source: spec.SourceTemplate},
		{Path: "healthcheck", Source: spec.SourceTemplate},
		{Path: "env.DB_URL", Source: spec.SourceTemplate},
		{Path: "env.DB_URLX", Source: spec.SourceTemplate},
		{Path: "username", Source: spec.SourceTemplate},
		{Path: "ulimits.nofile.hard", Source: spec.SourceUser},
		{Path: "read_only", Source: spec.SourceRuntime},
	}
	annotateVariables(fields, uses)
	want := [][]string{{"UID"}, {"NOFILE"}, {"PORT"}, {"DB_HOST", "DB_PASSWORD"}, nil, nil, nil, nil}
	for i, f := range fields {
		if !reflect.DeepEqual(f.Variables, want[i]) {
			t.Errorf("%s (%s): variables %v, want %v", f.Path, f.Source, f.Variables, want[i])
		}
	}

	var b strings.Builder
	p := &Plan{Changes: []Change{{Instance: "app", Action: ActionModify, Fields: fields[:1]}}}
	if err := p.WriteText(&b, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "(template, variable UID)") {
		t.Errorf("text rendering does not name the variable:\n%s", b.String())
	}
}
