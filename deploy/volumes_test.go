package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/sys/unix"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// TestApplyKeepsVolumesItDidNotCreate leaves, for two stacks, the volume
// their compose project uses with data in it and labels compose does not
// expect: one created by hand with foreign labels (compose reuses it and
// warns), one labeled as the project's own with another configuration
// (compose asks whether to recreate it, losing its data). The plan names
// both; the two applies run at once; both keep the data; compose's
// messages reach the controller's log with the right stack and approval,
// its question is answered no, the progress shows a warning, and nothing
// is written to the process's stderr or stdout.
func TestApplyKeepsVolumesItDidNotCreate(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	rt, err := NewRuntime("", zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })

	foreign := newApplyFixture(t, sleeperInstance(1, "db", spec.Overrides{}))
	other := newApplyFixture(t, sleeperInstance(1, "db", spec.Overrides{}))
	foreignVol := spec.ProjectName(foreign.stack.Name) + "_data"
	otherVol := spec.ProjectName(other.stack.Name) + "_data"
	createVolumeWithData(t, rt, foreignVol, map[string]string{"something": "else"}, "kept by "+foreign.stack.Name)
	createVolumeWithData(t, rt, otherVol, map[string]string{
		api.ProjectLabel: spec.ProjectName(other.stack.Name), api.VolumeLabel: "data",
		api.ConfigHashLabel: strings.Repeat("0", 64), "something": "else",
	}, "kept by "+other.stack.Name)

	cases := []struct {
		f         *applyFixture
		volume    string
		condition string
		line      string
		approval  int64
	}{
		{foreign, foreignVol, plan.NoticeOtherLabels, "! volume " + foreignVol + " exists with other labels: kept", 41},
		{other, otherVol, plan.NoticeOtherConfig, "! volume " + otherVol + " exists with another configuration: kept", 42},
	}
	for _, c := range cases {
		p := c.f.plan()
		if len(p.Notices) != 1 || p.Notices[0].Name != c.volume || p.Notices[0].Condition != c.condition ||
			p.Notices[0].Action != plan.NoticeKeep || len(p.Notices[0].Instances) != 1 || p.Notices[0].Instances[0] != "db" {
			t.Fatalf("plan of %s: notices %+v, want one %s notice for %s used by db", c.f.stack.Name, p.Notices, c.condition, c.volume)
		}
		var text strings.Builder
		if err := p.WriteText(&text, plan.TextOptions{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text.String(), c.line) {
			t.Errorf("plan text of %s does not say %q:\n%s", c.f.stack.Name, c.line, text.String())
		}
	}

	events := make([][]Progress, len(cases))
	errs := make([]error, len(cases))
	stdio := captureStdio(t)
	var wg sync.WaitGroup
	for i, c := range cases {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			opts := c.f.opts
			opts.ApprovalID = c.approval
			_, errs[i] = rt.Apply(ctx, c.f.stack, opts, func(p Progress) { events[i] = append(events[i], p) })
		})
	}
	wg.Wait()
	written := stdio()
	for i, c := range cases {
		if errs[i] != nil {
			t.Fatalf("apply %s: %v", c.f.stack.Name, errs[i])
		}
	}

	for _, bad := range []string{"level=", "ompose", "Recreate", "volume", foreignVol, otherVol} {
		if strings.Contains(written, bad) {
			t.Errorf("compose wrote to the process's stdout/stderr (found %q):\n%s", bad, written)
		}
	}

	for i, c := range cases {
		if got := readVolumeFile(t, rt, c.f.container("db"), "/data/proof"); got != "kept by "+c.f.stack.Name {
			t.Errorf("%s: /data/proof = %q after the apply, want the data left in the volume", c.f.stack.Name, got)
		}
		insp, err := rt.Client().VolumeInspect(context.Background(), c.volume, client.VolumeInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if insp.Volume.Labels["something"] != "else" {
			t.Errorf("%s: volume labels %v: it was recreated", c.volume, insp.Volume.Labels)
		}
		var warned bool
		for _, e := range events[i] {
			if e.Container == "volume "+c.volume && e.Status == ProgressWarning {
				warned = true
			}
			if strings.Contains(e.Container+e.Message, cases[1-i].f.stack.Name) {
				t.Errorf("%s: progress event of the other stack: %+v", c.f.stack.Name, e)
			}
		}
		if !warned {
			t.Errorf("%s: no warning progress event for volume %s: %+v", c.f.stack.Name, c.volume, events[i])
		}
		if p := c.f.plan(); !p.Empty() || len(p.Notices) != 1 {
			t.Errorf("%s after the apply: changes %+v, notices %+v; want no change and the notice still there", c.f.stack.Name, p.Changes, p.Notices)
		}
	}

	// Compose's messages about each volume reached the log with the stack
	// and approval that applied it; its question was answered no.
	for _, c := range cases {
		var found bool
		for _, e := range logs.All() {
			if !namesVolume(e, c.volume) {
				continue
			}
			found = true
			fields := e.ContextMap()
			if fields["stack"] != c.f.stack.Name || fields["approval_id"] != c.approval {
				t.Errorf("log %q has stack %v approval_id %v, want %s and %d", e.Message, fields["stack"], fields["approval_id"], c.f.stack.Name, c.approval)
			}
			if e.Level < zapcore.WarnLevel {
				t.Errorf("log %q at level %s, want warn", e.Message, e.Level)
			}
		}
		if !found {
			t.Errorf("no log entry names volume %s; entries: %v", c.volume, messages(logs))
		}
	}
	var declined bool
	for _, e := range logs.FilterField(zap.String("stack", other.stack.Name)).All() {
		if q, ok := e.ContextMap()["question"].(string); ok && strings.Contains(q, otherVol) && strings.Contains(e.Message, "answered no") {
			declined = true
		}
	}
	if !declined {
		t.Errorf("compose's question about %s was not logged as answered no: %v", otherVol, messages(logs))
	}
}

// TestPlanHasNoVolumeNoticeForItsOwnVolumes: a volume compose created for
// the stack matches what compose expects, so the plan says nothing of it.
func TestPlanHasNoVolumeNoticeForItsOwnVolumes(t *testing.T) {
	f := newApplyFixture(t, sleeperInstance(1, "db", spec.Overrides{}))
	f.apply()
	if p := f.plan(); !p.Empty() || len(p.Notices) != 0 {
		t.Fatalf("after the first apply: changes %+v, notices %+v; want none", p.Changes, p.Notices)
	}
}

// namesVolume reports whether a log entry's message or one of its string
// fields names volume.
func namesVolume(e observer.LoggedEntry, volume string) bool {
	if strings.Contains(e.Message, volume) {
		return true
	}
	for _, v := range e.ContextMap() {
		if s, ok := v.(string); ok && strings.Contains(s, volume) {
			return true
		}
	}
	return false
}

func messages(logs *observer.ObservedLogs) []string {
	var out []string
	for _, e := range logs.All() {
		out = append(out, e.Message)
	}
	return out
}

// createVolumeWithData creates a volume with labels (as `docker volume
// create --label` would) and writes content to its file "proof" through a
// container that is never started. When the test ends, the containers that
// use the volume (the stack's, whose teardown comes later) and the volume
// are removed.
func createVolumeWithData(t *testing.T, rt *Runtime, name string, labels map[string]string, content string) {
	t.Helper()
	ctx := context.Background()
	cli := rt.Client()
	if _, err := cli.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Labels: labels}); err != nil {
		t.Fatalf("create volume %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		users, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("volume", name)})
		if err == nil {
			for _, c := range users.Items {
				_, _ = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true})
			}
		}
		if _, err := cli.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: true}); err != nil {
			t.Errorf("remove volume %s: %v", name, err)
		}
	})
	c, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config:     &container.Config{Image: testenv.TestImage},
		HostConfig: &container.HostConfig{Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: name, Target: "/v"}}},
	})
	if err != nil {
		t.Fatalf("create a container to fill volume %s: %v", name, err)
	}
	defer func() { _, _ = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true}) }()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "proof", Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.CopyToContainer(ctx, c.ID, client.CopyToContainerOptions{DestinationPath: "/v", Content: &buf}); err != nil {
		t.Fatalf("write into volume %s: %v", name, err)
	}
}

// readVolumeFile reads one file from a container through the engine API.
func readVolumeFile(t *testing.T, rt *Runtime, containerName, path string) string {
	t.Helper()
	res, err := rt.Client().CopyFromContainer(context.Background(), containerName, client.CopyFromContainerOptions{SourcePath: path})
	if err != nil {
		t.Fatalf("read %s from %s: %v", path, containerName, err)
	}
	defer res.Content.Close()
	tr := tar.NewReader(res.Content)
	if _, err := tr.Next(); err != nil {
		t.Fatalf("read %s from %s: %v", path, containerName, err)
	}
	b, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// captureStdio redirects the process's file descriptors 1 and 2 to a pipe
// until the returned function is called, which restores them, copies what
// was written to the real stderr (so nothing is lost, e.g. a race report)
// and returns it.
func captureStdio(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := map[int]int{}
	for _, fd := range []int{1, 2} {
		dup, err := unix.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		saved[fd] = dup
		if err := unix.Dup2(int(w.Fd()), fd); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(&buf, r)
		close(done)
	}()
	var once sync.Once
	restore := func() string {
		once.Do(func() {
			for fd, dup := range saved {
				_ = unix.Dup2(dup, fd)
				_ = unix.Close(dup)
			}
			_ = w.Close()
			<-done
			_ = r.Close()
			if buf.Len() > 0 {
				_, _ = os.Stderr.Write(buf.Bytes())
			}
		})
		return buf.String()
	}
	t.Cleanup(func() { restore() })
	return restore
}
