package stackfile

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/devarch/devarch-controller/spec"
)

// sections names, for users, the parts of the format the yaml structs
// stand for, and lists the fields each accepts.
var sections = func() map[string]section {
	m := map[string]section{}
	for name, v := range map[string]any{
		"the top level": document{}, "stack": stackDoc{}, "an instance": instanceDoc{},
		"a port": portDoc{}, "a volume": volumeDoc{}, "a healthcheck": healthcheckDoc{},
		"a config file": configFileDoc{}, "a config mount": configMountDoc{},
		"a domain": domainDoc{}, "a wire": wireDoc{},
	} {
		t := reflect.TypeOf(v)
		var fields []string
		for i := range t.NumField() {
			if name := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]; name != "" {
				fields = append(fields, name)
			}
		}
		m[t.String()] = section{name: name, fields: fields}
	}
	return m
}()

type section struct {
	name   string
	fields []string
}

var (
	unknownField = regexp.MustCompile(`^line (\d+): field (.*) not found in type (\S+)$`)
	wrongType    = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) (?:`.*` )?into (.+)$")
	atLine       = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// describeTypeError turns one yaml.v3 decoding error into a problem that
// names the line and says, without Go type names, what is expected. Values
// are never repeated: a misplaced secret must not end up in an error.
func describeTypeError(e string) spec.Problem {
	if m := unknownField.FindStringSubmatch(e); m != nil {
		if s, ok := sections[m[3]]; ok {
			return spec.Problem{Field: "line " + m[1], Message: fmt.Sprintf(
				"unknown field %q in %s; the fields are %s", m[2], s.name, strings.Join(s.fields, ", "))}
		}
		return spec.Problem{Field: "line " + m[1], Message: fmt.Sprintf("unknown field %q", m[2])}
	}
	if m := wrongType.FindStringSubmatch(e); m != nil {
		return spec.Problem{Field: "line " + m[1], Message: fmt.Sprintf("expected %s, found %s", expected(m[3]), found(m[2]))}
	}
	if m := atLine.FindStringSubmatch(e); m != nil {
		return spec.Problem{Field: "line " + m[1], Message: m[2]}
	}
	return spec.Problem{Message: e}
}

func expected(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "stackfile."), strings.HasPrefix(goType, "*stackfile."):
		return "a mapping"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case goType == "bool" || goType == "*bool":
		return "true or false"
	case goType == "string" || goType == "*string":
		return "a string"
	}
	return "another kind of value"
}

func found(tag string) string {
	switch tag {
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	case "str":
		return "a string"
	case "int", "float":
		return "a number"
	case "bool":
		return "a boolean"
	case "null":
		return "nothing"
	}
	return "a " + tag
}
