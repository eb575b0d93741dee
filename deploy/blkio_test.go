package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/plan"
	"github.com/devarch/devarch-controller/spec"
)

// blockDevice returns the path of a whole block device of this machine
// (the disk the engine's storage lives on, as a rule): blkio_config's
// throttles need a real one.
func blockDevice(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir("/sys/block")
	if err != nil {
		t.Fatalf("list block devices: %v", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "loop") || strings.HasPrefix(name, "ram") || strings.HasPrefix(name, "zram") {
			continue
		}
		if _, err := os.Stat(filepath.Join("/dev", name)); err == nil {
			return filepath.Join("/dev", name)
		}
	}
	t.Fatal("this machine has no block device besides loop and ram devices: blkio_config cannot be tested")
	return ""
}

// TestBlkioConfigOnRealEngine applies device throttles (blkio_config) on a
// block device of this machine: the engine has them, the plan is empty,
// and changing one rate is a one-field plan naming the device.
func TestBlkioConfigOnRealEngine(t *testing.T) {
	dev := blockDevice(t)
	blkio := func(readBps spec.Bytes) spec.Overrides {
		return spec.Overrides{ServiceSpec: spec.ServiceSpec{Options: spec.Options{BlkioConfig: &spec.BlkioConfig{
			DeviceReadBps: map[string]spec.Bytes{dev: readBps}, DeviceWriteIOps: map[string]uint64{dev: 120},
		}}}}
	}
	f := newApplyFixture(t, sleeperInstance(1, "io", blkio(12<<20)))
	f.apply()
	f.requireEmptyPlan("right after the first apply")
	h := f.inspect("io").HostConfig
	if got := fmt.Sprint(h.BlkioDeviceReadBps, h.BlkioDeviceWriteIOps); got != fmt.Sprintf("[%s:%d] [%s:120]", dev, 12<<20, dev) {
		t.Errorf("the engine has read bps and write iops %s", got)
	}
	f.edit("io", func(o *spec.Overrides, _ *spec.Template) { *o = blkio(24 << 20) })
	p := f.plan()
	if len(p.Changes) != 1 || p.Changes[0].Action != plan.ActionModify {
		t.Fatalf("want one modify, got %+v", p.Changes)
	}
	var paths []string
	for _, fc := range p.Changes[0].Fields {
		paths = append(paths, fc.Path)
	}
	if want := []string{"blkio_config.device_read_bps." + dev}; !slices.Equal(paths, want) {
		t.Fatalf("plan fields %v, want %v", paths, want)
	}
	f.apply()
	f.requireEmptyPlan("after the new rate")
	if got := f.inspect("io").HostConfig.BlkioDeviceReadBps; len(got) != 1 || got[0].Rate != 24<<20 {
		t.Errorf("read bps after the edit: %v", got)
	}
}
