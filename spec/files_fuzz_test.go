package spec_test

import (
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// FuzzValidateFileMount: an accepted secret or config names one file
// directly inside its folder on the host, has a clean absolute target, a
// mode within 0777 and numeric owners.
func FuzzValidateFileMount(f *testing.F) {
	f.Add("db_password", "/run/secrets/db_password", uint32(0o400), "1000", "")
	f.Add("..", "/run/secrets/x", uint32(0), "", "")
	f.Add("a/b", "/x", uint32(0), "", "")
	f.Add("a", "relative", uint32(0), "", "")
	f.Add("a", "/x/../y", uint32(0o7777), "root", "-1")
	f.Fuzz(func(t *testing.T, name, target string, mode uint32, uid, gid string) {
		m := spec.FileMount{Name: name, Target: target, Mode: mode, UID: uid, GID: gid}
		if spec.ValidateFileMount(m) != nil {
			return
		}
		base := filepath.Join(string(filepath.Separator), "state", "stacks", "s", "app.secrets")
		if p := filepath.Join(base, name); filepath.Dir(p) != base || strings.ContainsAny(name, `/\`) {
			t.Fatalf("accepted name %q leaves its folder: %s", name, p)
		}
		if !path.IsAbs(target) || path.Clean(target) != target || target == "/" {
			t.Fatalf("accepted target %q", target)
		}
		if mode&^0o777 != 0 {
			t.Fatalf("accepted mode %o", mode)
		}
		for _, id := range []string{uid, gid} {
			if id == "" {
				continue
			}
			if n, err := strconv.Atoi(id); err != nil || n < 0 {
				t.Fatalf("accepted owner %q", id)
			}
		}
	})
}
