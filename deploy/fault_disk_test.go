package deploy

import (
	"context"
	"errors"
	"maps"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/internal/testenv"
	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// mountPoint is a file system mounted by a test on dir, unmounted when the
// test ends (after everything registered later, such as an apply fixture,
// was torn down).
type mountPoint struct {
	t       *testing.T
	dir     string
	mounted bool
}

// mountFS runs `mount args... dir`. Mounting needs root (CAP_SYS_ADMIN):
// without it the test is skipped, or fails when DEVARCH_TEST_REQUIRE=1.
func mountFS(t *testing.T, dir string, args ...string) *mountPoint {
	t.Helper()
	testenv.MkdirAll(t, dir)
	if out, err := exec.Command("mount", append(args, dir)...).CombinedOutput(); err != nil {
		msg := "mount " + strings.Join(args, " ") + ": " + err.Error() + ": " + strings.TrimSpace(string(out))
		testenv.Skipf(t, "%s; the disk fault tests need root to mount file systems", msg)
	}
	m := &mountPoint{t: t, dir: dir, mounted: true}
	t.Cleanup(m.unmount)
	return m
}

// remount changes the mount's options (e.g. "remount,ro").
func (m *mountPoint) remount(options string) {
	m.t.Helper()
	if out, err := exec.Command("mount", "-o", options, m.dir).CombinedOutput(); err != nil {
		m.t.Fatalf("mount -o %s %s: %v: %s", options, m.dir, err, out)
	}
}

func (m *mountPoint) unmount() {
	if !m.mounted {
		return
	}
	out, err := exec.Command("umount", m.dir).CombinedOutput()
	if err != nil {
		// Containers may still bind-mount files from it: detach it now,
		// the kernel frees it when they are gone.
		out2, err2 := exec.Command("umount", "-l", m.dir).CombinedOutput()
		if err2 != nil {
			m.t.Errorf("umount %s: %v: %s; umount -l: %v: %s", m.dir, err, out, err2, out2)
			return
		}
	}
	m.mounted = false
}

// bigConfigs are config files of size bytes each.
func bigConfigs(size int, paths ...string) []spec.ConfigFile {
	var out []spec.ConfigFile
	for _, p := range paths {
		out = append(out, spec.ConfigFile{Path: p, Target: "/etc/" + p, Content: strings.Repeat("x", size-1) + "\n"})
	}
	return out
}

// TestFaultDiskDuringMaterialization makes the state directory read-only or
// full while an apply materializes config files, on real file systems: the
// apply fails in the configs phase saying why, leaves no partial file or
// work folder, keeps the previous config folder, and touches no container.
// Once the file system is healed, the same apply succeeds.
func TestFaultDiskDuringMaterialization(t *testing.T) {
	tests := []struct {
		name string
		// mountState runs before the first apply, on the empty state dir.
		mountState func(t *testing.T, dir string) *mountPoint
		// breakState runs after the first apply.
		breakState func(t *testing.T, m *mountPoint, dir string) *mountPoint
		heal       func(m *mountPoint)
		configs    []spec.ConfigFile // what the failing apply writes
		wantErr    string
	}{
		{
			name: "read-only bind mount",
			breakState: func(t *testing.T, _ *mountPoint, dir string) *mountPoint {
				m := mountFS(t, dir, "--bind", dir)
				m.remount("remount,bind,ro")
				return m
			},
			heal:    func(m *mountPoint) { m.unmount() },
			configs: []spec.ConfigFile{{Path: "app/app.conf", Target: "/etc/app.conf", Content: "level=debug\n"}},
			wantErr: "read-only file system",
		},
		{
			name: "full tmpfs",
			mountState: func(t *testing.T, dir string) *mountPoint {
				return mountFS(t, dir, "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs")
			},
			heal: func(m *mountPoint) { m.remount("remount,size=1m") },
			// Three files of 24 KiB beside the first apply's: the first
			// ones fit, a later one does not.
			configs: bigConfigs(24<<10, "app/app.conf", "app/b.conf", "app/c.conf"),
			wantErr: "no space left on device",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			var m *mountPoint
			if tt.mountState != nil {
				m = tt.mountState(t, dir)
			}
			// Only the named volume: the fixture's teardown removes
			// labeled volumes, and the template's anonymous one has none.
			named := spec.Overrides{ServiceSpec: spec.ServiceSpec{Volumes: []spec.Volume{{Type: spec.VolumeTypeVolume, Source: "data", Target: "/data"}}}}
			f := newApplyFixture(t, sleeperInstance(1, "a", named), sleeperInstance(2, "b", named))
			f.opts.Paths.StateDir = dir
			f.apply()
			f.requireEmptyPlan("after the first apply")
			before, ids := tree(t, dir), f.containerStarts()
			if tt.breakState != nil {
				m = tt.breakState(t, m, dir)
			}
			// Heal before the fixture's teardown applies the stack down.
			t.Cleanup(func() { tt.heal(m) })

			f.edit("a", func(o *spec.Overrides, _ *spec.Template) { o.ConfigFiles = tt.configs })
			var events []Progress
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := f.rt.Apply(ctx, f.stack, f.opts, func(p Progress) { events = append(events, p) })
			var ae *ApplyError
			if !errors.As(err, &ae) || ae.Phase != PhaseConfigs {
				t.Fatalf("apply: %v, want an *ApplyError of the configs phase", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), dir) {
				t.Errorf("apply error %q does not say %q about the state directory %s", err, tt.wantErr, dir)
			}
			t.Logf("apply error: %v", err)
			if after := tree(t, dir); !maps.Equal(before, after) {
				t.Errorf("the failed apply changed the state directory:\nbefore %v\nafter  %v", before, after)
			}
			assertNoWorkFolders(t, dir)
			for _, e := range events {
				if strings.HasPrefix(e.Container, "Container ") {
					t.Errorf("a container was touched after the configs phase failed: %+v", e)
				}
			}
			if got := f.containerStarts(); !maps.Equal(ids, got) {
				t.Errorf("containers changed: before %v, after %v", ids, got)
			}
			if p := f.plan(); p.Summary != (plan.Summary{Modify: 1}) {
				t.Errorf("plan after the failed apply: %+v, want a's config change still to do", p.Summary)
			}

			tt.heal(m)
			f.apply()
			f.requireEmptyPlan("after healing the state directory")
			assertNoWorkFolders(t, dir)
		})
	}
}

// containerStarts maps each container of the stack to its id and start
// time: a recreated or restarted container changes its entry.
func (f *applyFixture) containerStarts() map[string]string {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := f.rt.Client().ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", spec.LabelStackID+"="+itoa(f.stack.ID))})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range list.Items {
		insp, err := f.rt.Client().ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			f.t.Fatal(err)
		}
		out[firstName(c.Names)] = c.ID + " " + insp.Container.State.StartedAt
	}
	return out
}
