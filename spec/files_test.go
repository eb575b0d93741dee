package spec_test

import (
	"slices"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// TestMergeFiles: secrets, configs and volume declarations merge by name,
// the instance winning, with compose's default modes; secret contents
// are redacted and scrubbed like secret env values.
func TestMergeFiles(t *testing.T) {
	tmpl := spec.ServiceSpec{
		Image:      "app:1",
		Secrets:    []spec.FileMount{{Name: "a", Target: "/run/secrets/a", Content: "template-secret"}, {Name: "b", Target: "/run/secrets/b", Content: "b-secret\n", Mode: 0o400}},
		Configs:    []spec.FileMount{{Name: "c", Target: "/c", Content: "x"}},
		VolumeDefs: []spec.VolumeDef{{Key: "data", Driver: "local"}},
	}
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{
		Secrets:    []spec.FileMount{{Name: "a", Target: "/run/secrets/a", Content: "instance-secret"}},
		VolumeDefs: []spec.VolumeDef{{Key: "data", External: true}},
	}}
	e := spec.Merge(&tmpl, o)
	if len(e.Secrets) != 2 || e.Secrets[0].Content != "instance-secret" || e.Secrets[0].Source != spec.SourceUser || e.Secrets[0].Mode != 0o444 ||
		e.Secrets[1].Source != spec.SourceTemplate || e.Secrets[1].Mode != 0o400 {
		t.Errorf("secrets = %+v", e.Secrets)
	}
	if len(e.Configs) != 1 || e.Configs[0].Mode != 0o444 || e.Configs[0].Source != spec.SourceTemplate {
		t.Errorf("configs = %+v", e.Configs)
	}
	if len(e.VolumeDefs) != 1 || !e.VolumeDefs[0].External || e.VolumeDefs[0].Driver != "" {
		t.Errorf("volume definitions = %+v", e.VolumeDefs)
	}
	r := e.Redacted()
	if r.Secrets[0].Content != spec.RedactedValue || e.Secrets[0].Content != "instance-secret" {
		t.Errorf("redacted %+v, original %+v", r.Secrets, e.Secrets)
	}
	s := spec.Stack{Instances: []spec.Instance{{Name: "x", Enabled: true, Effective: e}}}
	values := s.SecretValues()
	for _, want := range []string{"instance-secret", "b-secret\n", "b-secret"} {
		if !slices.Contains(values, want) {
			t.Errorf("secret values %q lack %q", values, want)
		}
	}
	if p := spec.ValidateEffective("i", e); len(p) != 0 {
		t.Errorf("problems: %v", p)
	}
	e.Configs = append(e.Configs, spec.FileMount{Name: "d", Target: "/run/secrets/a", Mode: 0o444})
	if p := spec.ValidateEffective("i", e); len(p) != 1 || p[0].Field != "i.configs.d" {
		t.Errorf("two mounts at one target: %v", p)
	}
}
