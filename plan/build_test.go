package plan

import (
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// buildStack is one instance of a template that builds its image and names
// none, with a secret build argument.
func buildStack() spec.Stack {
	t := &spec.Template{ID: 9, Name: "php", Category: "backend", Spec: spec.ServiceSpec{
		Build: &spec.Build{Context: "/srv/php", Args: map[string]string{"API_TOKEN": "build-arg-s3cret", "MODE": "dev"}},
	}}
	return spec.Stack{ID: 4, Name: "web", Enabled: true, Instances: []spec.Instance{instance(41, "php", t, spec.Overrides{})}}
}

func withBuilds(paths project.Options, digest string) project.Options {
	paths.Builds = map[int64]project.BuildContext{41: {Digest: digest}}
	return paths
}

// TestPlanBuild: a changed build context is exactly `~ build` with the old
// and new digest and the template as source; an override's build is the
// user's; the built image's tag is the service's image; a context that
// cannot be read makes the instance one that cannot be applied; the
// secret build argument is never shown.
func TestPlanBuild(t *testing.T) {
	s := buildStack()
	before := withBuilds(testPaths, "sha256:aaaa")
	o := Observed{Containers: convergedWith(s, before), NetworkID: testNetworkID}
	compute := func(s spec.Stack, paths project.Options) *Plan {
		t.Helper()
		p, err := Compute(Desired{Stack: s, Paths: paths}, o, testNow)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if p := compute(s, before); !p.Empty() {
		t.Fatalf("converged: %+v", p.Changes)
	}
	if img := o.Containers[0].Image; img != "devarch-build/web/php:latest" {
		t.Errorf("image = %q, want the build tag", img)
	}
	if Token(Desired{Stack: s, Paths: before}) == Token(Desired{Stack: s, Paths: withBuilds(testPaths, "sha256:bbbb")}) {
		t.Error("the token does not cover the build context's digest")
	}

	p := compute(s, withBuilds(testPaths, "sha256:bbbb"))
	if len(p.Changes) != 1 || len(p.Changes[0].Fields) != 1 || !p.Changes[0].Recreate {
		t.Fatalf("after a context edit: %+v", p.Changes)
	}
	f := p.Changes[0].Fields[0]
	if f.Path != "build" || f.Old == nil || f.New == nil || *f.Old == *f.New || f.Source != spec.SourceTemplate {
		t.Errorf("build field = %+v", f)
	}

	s.Instances[0].Overrides.Build = &spec.Build{Context: "/srv/php", Target: "prod"}
	s = remerge(s)
	p = compute(s, before)
	if len(p.Changes) != 1 || len(p.Changes[0].Fields) != 1 || p.Changes[0].Fields[0].Source != spec.SourceUser {
		t.Fatalf("after a user build override: %+v", p.Changes)
	}

	p = compute(s, project.Options{StateDir: testPaths.StateDir, WorkspaceDir: testPaths.WorkspaceDir, Keys: testPaths.Keys,
		Builds: map[int64]project.BuildContext{41: {Err: `instance "php": build context "/srv/php" does not exist; create it or correct build.context`}}})
	if len(p.Changes) != 1 || !strings.Contains(p.Changes[0].Reason, "cannot be applied") || !strings.Contains(p.Changes[0].Reason, "does not exist") {
		t.Fatalf("unreadable context: %+v", p.Changes)
	}
	var text strings.Builder
	if err := p.WriteText(&text, TextOptions{}); err != nil || strings.Contains(text.String(), "build-arg-s3cret") {
		t.Fatalf("plan shows the secret build argument (err %v)", err)
	}
	if strings.Contains(o.Containers[0].Labels[spec.LabelSpec], "build-arg-s3cret") {
		t.Error("the devarch.spec label holds the secret build argument")
	}
}
