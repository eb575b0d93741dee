package spec

import (
	"strings"
	"testing"
)

func TestWeakSecrets(t *testing.T) {
	pg := &Template{Name: "postgres", Spec: ServiceSpec{Env: []EnvVar{
		{Key: "POSTGRES_PASSWORD", Value: "devarch-default-pw"}, {Key: "POSTGRES_USER", Value: "postgres"},
	}}}
	inst := func(name string, t *Template, env ...EnvVar) Instance {
		o := Overrides{ServiceSpec: ServiceSpec{Env: env}}
		var base *ServiceSpec
		if t != nil {
			base = &t.Spec
		}
		return Instance{Name: name, Enabled: true, Template: t, Overrides: o, Effective: Merge(base, o)}
	}
	tests := []struct {
		name  string
		stack Stack
		want  []string // "instance KEY: reason fragment", in order; nil for none
	}{
		{"strong secret", Stack{Name: "shop", Instances: []Instance{inst("db", pg, EnvVar{Key: "POSTGRES_PASSWORD", Value: "k3Jx9-random-Qp2"})}}, nil},
		{"template default inherited", Stack{Name: "shop", Instances: []Instance{inst("db", pg)}},
			[]string{`db POSTGRES_PASSWORD: default value of POSTGRES_PASSWORD in template "postgres"`}},
		{"template default set again by the user", Stack{Name: "shop", Instances: []Instance{inst("db", pg, EnvVar{Key: "POSTGRES_PASSWORD", Value: "devarch-default-pw"})}},
			[]string{`db POSTGRES_PASSWORD: default value of POSTGRES_PASSWORD in template "postgres"`}},
		{"another template's default under another key", Stack{Name: "shop", Instances: []Instance{inst("db", pg, EnvVar{Key: "POSTGRES_PASSWORD", Value: "k3Jx9-random-Qp2"}),
			inst("app", nil, EnvVar{Key: "DB_PASSWORD", Value: "devarch-default-pw"})}},
			[]string{`app DB_PASSWORD: default value of POSTGRES_PASSWORD in template "postgres"`}},
		{"short", Stack{Name: "shop", Instances: []Instance{inst("app", nil, EnvVar{Key: "API_TOKEN", Value: "abc12"})}},
			[]string{"app API_TOKEN: only 5 characters long"}},
		{"too short to be hidden", Stack{Name: "shop", Instances: []Instance{inst("app", nil, EnvVar{Key: "PIN", Value: "123", Secret: true})}},
			[]string{"app PIN: too short to be hidden"}},
		{"empty", Stack{Name: "shop", Instances: []Instance{inst("app", nil, EnvVar{Key: "API_TOKEN", Value: ""})}},
			[]string{"app API_TOKEN: it is empty"}},
		{"equal to the stack name", Stack{Name: "inventory", Instances: []Instance{inst("app", nil, EnvVar{Key: "API_TOKEN", Value: "inventory"})}},
			[]string{"app API_TOKEN: equal to a name the controller uses"}},
		{"part of a generated name", Stack{Name: "shop", Instances: []Instance{inst("app", nil, EnvVar{Key: "API_TOKEN", Value: "devarch-sh"})}},
			[]string{"app API_TOKEN: part of names the controller generates"}},
		{"the catalog's devarch default has every reason", Stack{Name: "ceo-demo", Instances: []Instance{
			inst("postgres", &Template{Name: "postgres", Spec: ServiceSpec{Env: []EnvVar{{Key: "POSTGRES_PASSWORD", Value: "devarch"}}}})}},
			[]string{`postgres POSTGRES_PASSWORD: default value of POSTGRES_PASSWORD in template "postgres"`,
				"postgres POSTGRES_PASSWORD: only 7 characters long", "postgres POSTGRES_PASSWORD: part of names the controller generates"}},
		{"non-secret values are not checked", Stack{Name: "shop", Instances: []Instance{inst("db", pg, EnvVar{Key: "POSTGRES_PASSWORD", Value: "k3Jx9-random-Qp2"}),
			inst("app", nil, EnvVar{Key: "MODE", Value: "x"})}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.stack.WeakSecrets()
			var lines []string
			for _, w := range got {
				for _, r := range w.Reasons {
					lines = append(lines, w.Instance+" "+w.Key+": "+r)
				}
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("WeakSecrets() reasons:\n%s\nwant %d:\n%s", strings.Join(lines, "\n"), len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i, want := range tt.want {
				who, fragment, _ := strings.Cut(want, ": ")
				if !strings.HasPrefix(lines[i], who+": ") || !strings.Contains(lines[i], fragment) {
					t.Errorf("reason %d = %q, want it to hold %q", i, lines[i], want)
				}
			}
			for _, w := range got {
				msg := w.String()
				for _, inst := range tt.stack.Instances {
					for _, e := range inst.Effective.Env {
						if e.IsSecret() && len(e.Value) >= MinScrubLength && strings.Contains(msg, e.Value) {
							t.Errorf("warning shows the secret %q: %s", e.Value, msg)
						}
					}
				}
				if !strings.HasPrefix(msg, `instance "`+w.Instance+`": secret `+w.Key+" is weak: ") || !strings.Contains(msg, "${SECRET:") {
					t.Errorf("warning %q does not name the variable and say what to do", msg)
				}
			}
		})
	}
}
