package spec

import (
	"slices"
	"testing"
)

func TestMergeBuild(t *testing.T) {
	tmpl := &ServiceSpec{Build: &Build{Context: "/t", Args: map[string]string{"A": "1", "DB_PASSWORD": "hunter2-long"}}}
	e := Merge(tmpl, Overrides{})
	if e.Build.Source != SourceTemplate || e.Build.Value.Context != "/t" {
		t.Errorf("template build = %+v", e.Build)
	}
	e.Build.Value.Args["A"] = "changed"
	if tmpl.Build.Args["A"] != "1" {
		t.Error("Merge shares the template's build args")
	}
	e = Merge(tmpl, Overrides{ServiceSpec: ServiceSpec{Build: &Build{Context: "/u", Target: "dev"}}})
	if e.Build.Source != SourceUser || e.Build.Value.Context != "/u" || e.Build.Value.Args != nil {
		t.Errorf("an override's build must replace the template's whole: %+v", e.Build.Value)
	}
	e = Merge(tmpl, Overrides{})
	if r := e.Redacted(); r.Build.Value.Args["DB_PASSWORD"] != RedactedValue || r.Build.Value.Args["A"] != "1" || e.Build.Value.Args["DB_PASSWORD"] != "hunter2-long" {
		t.Errorf("redacted build args = %v (original %v)", r.Build.Value.Args, e.Build.Value.Args)
	}
	s := Stack{Instances: []Instance{{Effective: e}}}
	if !slices.Contains(s.SecretValues(), "hunter2-long") {
		t.Error("a secret build argument is not among the stack's secret values (it would not be scrubbed)")
	}
}

func TestBuildValidate(t *testing.T) {
	for _, tc := range []struct {
		b  Build
		ok bool
	}{
		{Build{Context: "/src"}, true},
		{Build{Context: "/src", Dockerfile: "docker/Dockerfile.dev"}, true},
		{Build{}, false},
		{Build{Context: "src"}, false},
		{Build{Context: "/src", Dockerfile: "../Dockerfile"}, false},
		{Build{Context: "/src", Dockerfile: "/etc/Dockerfile"}, false},
		{Build{Context: "/src", Labels: map[string]string{LabelBuildDigest: "x"}}, false},
	} {
		if err := tc.b.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok %v", tc.b, err, tc.ok)
		}
	}
	if got := BuildTag("shop", "web"); got != "devarch-build/shop/web:latest" {
		t.Errorf("BuildTag = %q", got)
	}
}
