package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file is a validator for the JSON-schema subset api/openapi.yaml
// uses: $ref (to #/components/...), type (one or a list, "null" included),
// nullable (OpenAPI 3.0), enum, properties, required,
// additionalProperties (boolean or schema), items, anyOf, minimum,
// maxLength and format date-time. A keyword outside the subset fails the
// validation, so the document cannot rely on a rule nobody checks.

// annotations are keywords that do not constrain a value.
var annotations = map[string]bool{
	"description": true, "title": true, "default": true, "example": true, "examples": true, "deprecated": true,
}

// openAPI is the parsed document.
type openAPI struct {
	root map[string]any
}

func loadOpenAPI(t testing.TB) *openAPI {
	t.Helper()
	var root map[string]any
	if err := yaml.Unmarshal(openAPIDoc, &root); err != nil {
		t.Fatalf("parse api/openapi.yaml: %v", err)
	}
	if v, _ := root["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("openapi version %q", v)
	}
	return &openAPI{root: root}
}

// resolve follows a local $ref such as "#/components/schemas/Plan".
func (d *openAPI) resolve(ref string) (map[string]any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("$ref %q is not local", ref)
	}
	var cur any = d.root
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("$ref %q: %q is not an object", ref, part)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("$ref %q: no %q", ref, part)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q does not name an object", ref)
	}
	return m, nil
}

// deref returns the object itself or the one its $ref names.
func (d *openAPI) deref(m map[string]any) (map[string]any, error) {
	for depth := 0; depth < 10; depth++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, nil
		}
		var err error
		if m, err = d.resolve(ref); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("$ref chain too deep")
}

// validateJSON decodes body and validates it against schema.
func (d *openAPI) validateJSON(schema map[string]any, body []byte) []string {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"body is not JSON: " + err.Error()}
	}
	var errs []string
	d.validate(schema, v, "$", &errs)
	return errs
}

// validate appends to errs every way value breaks schema.
func (d *openAPI) validate(schema map[string]any, value any, path string, errs *[]string) {
	fail := func(format string, args ...any) { *errs = append(*errs, path+": "+fmt.Sprintf(format, args...)) }
	if ref, ok := schema["$ref"].(string); ok {
		target, err := d.resolve(ref)
		if err != nil {
			fail("%v", err)
			return
		}
		d.validate(target, value, path, errs)
		return
	}
	keys := make([]string, 0, len(schema))
	for k := range schema {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if annotations[k] || strings.HasPrefix(k, "x-") {
			continue
		}
		switch k {
		case "type", "nullable", "properties", "required", "additionalProperties", "items", "enum", "anyOf", "format", "minimum", "maxLength":
		default:
			fail("schema keyword %q is not supported by the validator", k)
		}
	}
	if value == nil && schema["nullable"] == true {
		return
	}
	if t, ok := schema["type"]; ok && !typeMatches(t, value) {
		fail("type %v wanted, got %s", t, describe(value))
		return
	}
	if enum, ok := schema["enum"].([]any); ok && !inEnum(enum, value) {
		fail("%s is not one of %v", describe(value), enum)
	}
	if alts, ok := schema["anyOf"].([]any); ok {
		d.anyOf(alts, value, path, errs)
	}
	d.checkFormat(schema, value, fail)
	switch v := value.(type) {
	case map[string]any:
		d.object(schema, v, path, errs)
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, item := range v {
				d.validate(items, item, fmt.Sprintf("%s[%d]", path, i), errs)
			}
		}
	}
}

func (d *openAPI) anyOf(alts []any, value any, path string, errs *[]string) {
	var all []string
	for _, alt := range alts {
		m, _ := alt.(map[string]any)
		var sub []string
		d.validate(m, value, path, &sub)
		if len(sub) == 0 {
			return
		}
		all = append(all, sub...)
	}
	*errs = append(*errs, path+": matches no anyOf alternative: "+strings.Join(all, "; "))
}

func (d *openAPI) checkFormat(schema map[string]any, value any, fail func(string, ...any)) {
	if f, _ := schema["format"].(string); f == "date-time" {
		if s, ok := value.(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				fail("%q is not an RFC 3339 date-time", s)
			}
		}
	}
	if min, ok := schema["minimum"].(int); ok {
		if n, isNum := value.(json.Number); isNum {
			if f, err := n.Float64(); err == nil && f < float64(min) {
				fail("%s is below the minimum %d", n, min)
			}
		}
	}
	if max, ok := schema["maxLength"].(int); ok {
		if s, isStr := value.(string); isStr && len([]rune(s)) > max {
			fail("string longer than %d", max)
		}
	}
}

func (d *openAPI) object(schema map[string]any, v map[string]any, path string, errs *[]string) {
	props, _ := schema["properties"].(map[string]any)
	if req, ok := schema["required"].([]any); ok {
		for _, r := range req {
			if _, present := v[r.(string)]; !present {
				*errs = append(*errs, fmt.Sprintf("%s: required property %q is missing", path, r))
			}
		}
	}
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		sub := path + "." + k
		if ps, ok := props[k].(map[string]any); ok {
			d.validate(ps, v[k], sub, errs)
			continue
		}
		switch ap := schema["additionalProperties"].(type) {
		case bool:
			if !ap {
				*errs = append(*errs, fmt.Sprintf("%s: property is not documented", sub))
			}
		case map[string]any:
			d.validate(ap, v[k], sub, errs)
		}
	}
}

func typeMatches(t any, value any) bool {
	switch t := t.(type) {
	case string:
		return isType(t, value)
	case []any:
		for _, one := range t {
			if s, ok := one.(string); ok && isType(s, value) {
				return true
			}
		}
	}
	return false
}

func isType(t string, value any) bool {
	switch t {
	case "null":
		return value == nil
	case "boolean":
		_, ok := value.(bool)
		return ok
	case "string":
		_, ok := value.(string)
		return ok
	case "number":
		_, ok := value.(json.Number)
		return ok
	case "integer":
		n, ok := value.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case "array":
		_, ok := value.([]any)
		return ok
	case "object":
		_, ok := value.(map[string]any)
		return ok
	}
	return false
}

func inEnum(enum []any, value any) bool {
	return slices.ContainsFunc(enum, func(e any) bool {
		if n, ok := value.(json.Number); ok {
			return fmt.Sprint(e) == n.String()
		}
		return e == value
	})
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("string %q", v)
	case json.Number:
		return "number " + v.String()
	case bool:
		return fmt.Sprintf("boolean %t", v)
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// TestValidator proves the validator rejects what it must, so that the
// conformance tests' passes mean something.
func TestValidator(t *testing.T) {
	doc := loadOpenAPI(t)
	schema := func(name string) map[string]any {
		s, err := doc.resolve("#/components/schemas/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name   string
		schema string
		body   string
		valid  bool
	}{
		{"error ok", "Error", `{"error":{"code":"not_found","message":"No."}}`, true},
		{"error unknown code", "Error", `{"error":{"code":"oops","message":"No."}}`, false},
		{"error missing message", "Error", `{"error":{"code":"not_found"}}`, false},
		{"error extra property", "Error", `{"error":{"code":"not_found","message":"No."},"x":1}`, false},
		{"error wrong type", "Error", `{"error":"not_found"}`, false},
		{"health", "Health", `{"status":"ok"}`, true},
		{"health enum", "Health", `{"status":"fine"}`, false},
		{"nullable status", "StackSummary", `{"id":1,"name":"a","network":"n","enabled":true,"instances":0,"status":null}`, true},
		{"status must be present", "StackSummary", `{"id":1,"name":"a","network":"n","enabled":true,"instances":0}`, false},
		{"integer not float", "StackSummary", `{"id":1.5,"name":"a","network":"n","enabled":true,"instances":0,"status":null}`, false},
		{"status alternative checked", "StackSummary", `{"id":1,"name":"a","network":"n","enabled":true,"instances":0,"status":{"condition":"Bad"}}`, false},
		{"date-time", "ApprovalEvent", `{"approval_id":1,"seq":1,"at":"yesterday","container":"","action":"","status":"","message":""}`, false},
		{"minimum", "ApprovalEvent", `{"approval_id":1,"seq":0,"at":"2026-01-01T00:00:00Z","container":"","action":"","status":"","message":""}`, false},
		{"event ok", "ApprovalEvent", `{"approval_id":1,"seq":1,"at":"2026-01-01T00:00:00.5Z","container":"","action":"","status":"","message":""}`, true},
		{"null string", "FieldChange", `{"path":"image","old":null,"new":"x","source":"user"}`, true},
		{"number is not string", "FieldChange", `{"path":"image","old":1,"new":"x","source":"user"}`, false},
		{"array items", "Plan", `{"format_version":1,"stack_id":1,"stack":"s","token":"t","generated_at":"2026-01-01T00:00:00Z","summary":{"add":0,"modify":0,"remove":0},"changes":[{"action":"nuke"}],"warnings":[]}`, false},
		{"format version enum", "Plan", `{"format_version":2,"stack_id":1,"stack":"s","token":"t","generated_at":"2026-01-01T00:00:00Z","summary":{"add":0,"modify":0,"remove":0},"changes":[],"warnings":[]}`, false},
		{"additionalProperties schema", "StackStatus", `{"condition":"InSync","counts":{"add":0,"modify":0,"remove":0,"other":"x"},"token":"","message":"","last_reconcile":"2026-01-01T00:00:00Z"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := doc.validateJSON(schema(tt.schema), []byte(tt.body))
			if (len(errs) == 0) != tt.valid {
				t.Fatalf("valid = %t, want %t: %v", len(errs) == 0, tt.valid, errs)
			}
		})
	}
	var errs []string
	doc.validate(map[string]any{"oneOf": []any{}}, "x", "$", &errs)
	if len(errs) == 0 {
		t.Error("an unsupported keyword passed")
	}
}
