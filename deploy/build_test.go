package deploy

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// writeContext writes files (path → content) under a new directory and
// returns it.
func writeContext(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildInstance is an instance without a template that builds its image
// from dir.
func buildInstance(id int64, name string, b spec.Build) spec.Instance {
	o := spec.Overrides{ServiceSpec: spec.ServiceSpec{Build: &b}}
	return spec.Instance{ID: id, Name: name, Enabled: true, Overrides: o, Effective: spec.Merge(nil, o)}
}

// removeImageAfter removes the image tagged tag when the test ends.
func removeImageAfter(t *testing.T, rt *Runtime, tag string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = rt.Client().ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
	})
}

// TestBuildScratchImage builds a FROM scratch image from a context with
// one file and reads the file back out of the image.
func TestBuildScratchImage(t *testing.T) {
	testenv.Docker(t)
	rt, err := NewRuntime("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM scratch\nCOPY hello.txt /hello.txt\nLABEL purpose=test\n",
		"hello.txt":  "hello from the context\n",
		"skip.txt":   "ignored\n", ".dockerignore": "skip.txt\n",
	})
	s := spec.Stack{ID: lastStackID.Add(1), Name: testenv.UniqueName("t"), Enabled: true}
	s.Instances = []spec.Instance{buildInstance(1, "scratch", spec.Build{Context: dir})}
	tag := spec.BuildTag(s.Name, "scratch")
	removeImageAfter(t, rt, tag)
	o := ApplyOptions{}
	o.Paths.Builds = NewBuildContexts().Stack(s)
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	built, err := rt.buildImages(ctx, s, o, &out, func(string, string, string, string) {})
	if err != nil || len(built) != 1 || built[0] != tag {
		t.Fatalf("build: %v %v\n%s", built, err, out.String())
	}
	img, err := rt.Client().ImageInspect(ctx, tag)
	if err != nil {
		t.Fatal(err)
	}
	if img.Config.Labels["purpose"] != "test" || img.Config.Labels[spec.LabelBuildDigest] == "" {
		t.Fatalf("image labels: %v", img.Config.Labels)
	}
	// Read the image's only layer back.
	save, err := rt.Client().ImageSave(ctx, []string{tag})
	if err != nil {
		t.Fatal(err)
	}
	defer save.Close()
	files := layerFiles(t, save)
	if files["hello.txt"] != "hello from the context\n" || len(files) != 1 {
		t.Fatalf("files in the image: %v", files)
	}
	// Built again with the same digest: nothing to do.
	built, err = rt.buildImages(ctx, s, o, io.Discard, func(string, string, string, string) {})
	if err != nil || len(built) != 0 {
		t.Fatalf("second build: %v %v", built, err)
	}
}

// layerFiles returns the regular files of every layer of a saved image.
func layerFiles(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	out := map[string]string{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(h.Name, "layer.tar") && !strings.HasPrefix(h.Name, "blobs/") {
			continue
		}
		lr := tar.NewReader(tr)
		for {
			lh, err := lr.Next()
			if err != nil {
				break
			}
			if lh.Typeflag == tar.TypeReg {
				b, _ := io.ReadAll(lr)
				out[lh.Name] = string(b)
			}
		}
	}
}

// TestBuildOnRealEngine applies an instance that builds its image FROM the
// test image, proves the plan empty, edits a file of the context (the plan
// is exactly `~ build`), applies (rebuilt and recreated) and proves the
// plan empty again.
func TestBuildOnRealEngine(t *testing.T) {
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM " + testenv.TestImage + "\nCOPY app.txt /app.txt\n",
		"app.txt":    "v1\n",
	})
	f := newApplyFixture(t, buildInstance(1, "app", spec.Build{Context: dir, Args: map[string]string{"API_TOKEN": "build-arg-s3cret"}}))
	removeImageAfter(t, f.rt, spec.BuildTag(f.stack.Name, "app"))
	cache := NewBuildContexts()
	read := func() { f.opts.Paths.Builds = cache.Stack(f.stack) }
	read()
	p := f.plan()
	if p.Summary.Add != 1 || !hasField(p.Changes[0].Fields, "build") {
		t.Fatalf("first plan: %+v", p.Changes)
	}
	res := f.apply()
	if len(res.Built) != 1 || len(res.Created) != 1 {
		t.Fatalf("first apply: %+v", res)
	}
	f.requireEmptyPlan("right after the first apply")
	if n := cache.Hashed(); n != 2 {
		t.Fatalf("files hashed: %d, want 2 (Dockerfile, app.txt)", n)
	}
	read()
	if n := cache.Hashed(); n != 2 {
		t.Fatalf("an unchanged context was read again: %d files hashed", n)
	}

	if err := os.WriteFile(filepath.Join(dir, "app.txt"), []byte("v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	read()
	p = f.plan()
	if len(p.Changes) != 1 || len(p.Changes[0].Fields) != 1 || p.Changes[0].Fields[0].Path != "build" || !p.Changes[0].Recreate {
		t.Fatalf("after editing a context file, want exactly ~ build: %+v", p.Changes)
	}
	fc := p.Changes[0].Fields[0]
	if fc.Old == nil || fc.New == nil || *fc.Old == *fc.New || fc.Source != spec.SourceUser {
		t.Fatalf("build field: %+v", fc)
	}
	var text strings.Builder
	if err := p.WriteText(&text, plan.TextOptions{}); err != nil || strings.Contains(text.String(), "build-arg-s3cret") {
		t.Fatalf("plan text shows the secret build arg (err %v):\n%s", err, text.String())
	}
	res = f.apply()
	if len(res.Built) != 1 || len(res.Recreated) != 1 {
		t.Fatalf("apply after the edit: %+v", res)
	}
	f.requireEmptyPlan("after rebuilding")
}

func hasField(fs []plan.FieldChange, path string) bool {
	for _, f := range fs {
		if f.Path == path {
			return true
		}
	}
	return false
}

// TestBuildErrors: a missing context, a missing Dockerfile and a failing
// step are clear errors, and nothing is created.
func TestBuildErrors(t *testing.T) {
	good := writeContext(t, map[string]string{"Dockerfile": "FROM " + testenv.TestImage + "\nCOPY missing.txt /x\n"})
	noDockerfile := writeContext(t, map[string]string{"other.txt": "x"})
	for _, tc := range []struct {
		name  string
		build spec.Build
		want  []string
	}{
		{"missing context", spec.Build{Context: filepath.Join(good, "nope")}, []string{"does not exist", "build.context"}},
		{"missing dockerfile", spec.Build{Context: noDockerfile}, []string{`no Dockerfile "Dockerfile"`, "build.dockerfile"}},
		{"failing step", spec.Build{Context: good}, []string{`instance "app"`, `Dockerfile step "COPY missing.txt /x" failed`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newApplyFixture(t, buildInstance(1, "app", tc.build))
			removeImageAfter(t, f.rt, spec.BuildTag(f.stack.Name, "app"))
			f.opts.Paths.Builds = NewBuildContexts().Stack(f.stack)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := f.rt.Apply(ctx, f.stack, f.opts, nil)
			if err == nil {
				t.Fatal("apply succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if len(res.Created) != 0 || res.NetworkCreated {
				t.Errorf("a failed build touched the engine: %+v", res)
			}
		})
	}
}
