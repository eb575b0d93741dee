package stackfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

func TestParseVariables(t *testing.T) {
	doc := stackWithApp("") + "variables:\n  UID: 1000\n  RO: true\n  EMPTY: \"\"\n  DB_URL: postgres://app:${SECRET:PW}@db/app\n  API_TOKEN: plain\n"
	f, err := Parse([]byte(doc), testSecrets)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := []spec.Variable{
		{Name: "API_TOKEN", Value: "plain"},
		{Name: "DB_URL", Value: "postgres://app:pw-value@db/app", Secret: true},
		{Name: "EMPTY", Value: ""},
		{Name: "RO", Value: "true"},
		{Name: "UID", Value: "1000"},
	}
	if !reflect.DeepEqual(f.Stack.Variables, want) {
		t.Errorf("variables = %+v\nwant %+v", f.Stack.Variables, want)
	}
	if !f.Stack.Variables[0].IsSecret() {
		t.Error("API_TOKEN is not secret by name")
	}
	red := f.Stack.RedactedVariables()
	if red[0].Value != spec.RedactedValue || red[1].Value != spec.RedactedValue || red[4].Value != "1000" {
		t.Errorf("redacted = %+v", red)
	}
	if vals := f.Stack.SecretValues(); !reflect.DeepEqual(vals, []string{"plain", "postgres://app:pw-value@db/app"}) {
		t.Errorf("secret values = %q", vals)
	}
}

func TestParseVariablesErrors(t *testing.T) {
	tests := []struct{ body, field, want string }{
		{"variables:\n  1BAD: x\n", "variables.1BAD", "variable name"},
		{"variables:\n  A-B: x\n", "variables.A-B", "variable name"},
		{"variables:\n  NOVALUE:\n", "variables.NOVALUE", "has no value"},
		{"variables:\n  X: ${SECRET:MISSING}\n", "variables.X", "secret \"MISSING\" is not set"},
		{"variables:\n  X: [a]\n", "", "line"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(stackWithApp("")+tt.body), testSecrets)
		var ve *spec.ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%q: err = %v, want a validation error", tt.body, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || (tt.field != "" && ve.Problems[0].Field != tt.field) {
			t.Errorf("%q: %v, want %s at %s", tt.body, err, tt.want, tt.field)
		}
	}
}
