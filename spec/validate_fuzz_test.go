package spec_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/devarch/devarch-controller/spec"
)

// FuzzValidateName: an accepted stack or instance name is DNS-safe, so it
// can be used as is in container, network and folder names: 1 to 63
// characters of [a-z0-9-], no leading or trailing '-', and never a path
// element such as "." or "..".
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"shop", "a", "a-b", "-a", "a-", "A", "a_b", "..", ".", "a/b", "a.b", "", strings.Repeat("a", 63), strings.Repeat("a", 64), "é", "a\x00", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := spec.ValidateName(name)
		if err == nil {
			if len(name) < 1 || len(name) > spec.MaxNameLength || name[0] == '-' || name[len(name)-1] == '-' {
				t.Fatalf("accepted name %q", name)
			}
			for _, c := range name {
				if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
					t.Fatalf("accepted name %q with character %q", name, c)
				}
			}
			return
		}
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
	})
}

// FuzzValidateImageRef: image references come from templates and stack
// files. Validation never panics, and an accepted reference holds no
// whitespace or control character that could smuggle a second argument or
// header into an engine call.
func FuzzValidateImageRef(f *testing.F) {
	for _, s := range []string{"postgres:16", "ghcr.io/org/app@sha256:" + strings.Repeat("a", 64), "localhost:5000/x", "UPPER", "a b", "a:", ":tag", "", "a\nb", "a@sha256:zz", "devarch-test/sleeper:latest"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		if err := spec.ValidateImageRef(ref); err != nil {
			return
		}
		if ref == "" || strings.IndexFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			t.Fatalf("accepted image reference %q", ref)
		}
	})
}

// FuzzValidateEnvKey: accepted variable names never hold '=', NUL or
// whitespace (each would corrupt the KEY=VALUE list handed to the engine).
func FuzzValidateEnvKey(f *testing.F) {
	for _, s := range []string{"A", "_A", "A_B", "a.b", "1A", "A=B", "A B", "", "A\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if spec.ValidateEnvKey(key) != nil {
			return
		}
		if key == "" || strings.ContainsAny(key, "= \t\r\n\x00") {
			t.Fatalf("accepted env key %q", key)
		}
	})
}

// FuzzIdentityFromLabels: container labels are written by whoever can
// reach the engine. Only a managed container with a positive decimal stack
// id is claimed, and its ids are exactly the labels' values.
func FuzzIdentityFromLabels(f *testing.F) {
	f.Add("devarch", "7", "12")
	f.Add("devarch", "-7", "x")
	f.Add("other", "7", "12")
	f.Add("devarch", "0x10", "")
	f.Add("devarch", "9223372036854775808", "1")
	f.Fuzz(func(t *testing.T, managedBy, stackID, instanceID string) {
		labels := map[string]string{spec.LabelManagedBy: managedBy, spec.LabelStackID: stackID, spec.LabelInstanceID: instanceID}
		sid, iid, ok := spec.IdentityFromLabels(labels)
		if !ok {
			if sid != 0 || iid != 0 {
				t.Fatalf("rejected labels returned ids %d, %d", sid, iid)
			}
			return
		}
		want, err := strconv.ParseInt(stackID, 10, 64)
		if managedBy != spec.ManagedByValue || err != nil || want <= 0 || sid != want {
			t.Fatalf("claimed %v as stack %d", labels, sid)
		}
		if iid < 0 {
			t.Fatalf("negative instance id %d from %q", iid, instanceID)
		}
		if n, err := strconv.ParseInt(instanceID, 10, 64); err == nil && n >= 0 && iid != n {
			t.Fatalf("instance id %d, label %q", iid, instanceID)
		}
	})
}
