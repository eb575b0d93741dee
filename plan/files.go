package plan

import (
	"fmt"
	"strings"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// fileMounts records one change per secret or config ("~ secrets.db_password",
// "+ configs.app_conf"). A secret's content is never shown, and every change
// of a secret is sensitive; a config shows the first hex digits of its keyed
// digest, like a config file.
func (d *differ) fileMounts(prefix string, had, want map[string]project.FileRecord, desired []spec.FileMount, userTouches, secret bool) {
	source := map[string]spec.Source{}
	content := map[string]string{}
	from := map[string]string{}
	for _, f := range desired {
		source[f.Name] = f.Source
		content[f.Name] = f.Content
		from[f.Name] = f.From
	}
	eachChangedKey(had, want, func(k string, o project.FileRecord, hadOK bool, n project.FileRecord, wantOK bool) {
		f := FieldChange{Path: prefix + k, Source: d.removedSource(source, k, userTouches), Sensitive: secret}
		if wantOK && from[k] != "" {
			f.From = from[k]
		}
		if hadOK {
			f.Old = str(fileMountText(o, secret))
		}
		if wantOK {
			f.New = str(fileMountText(n, secret))
		}
		switch {
		case hadOK && wantOK && o.Digest != n.Digest:
			f.Reason = "content changed"
			if o.Target == n.Target && o.Mode == n.Mode && o.UID == n.UID && o.GID == n.GID {
				r := d.had.RecheckConfigObj(d.keys, k, content[k], o.Digest)
				if secret {
					r = d.had.RecheckSecretFile(d.keys, k, content[k], o.Digest)
				}
				d.recheck(&f, r, "content")
			}
		case hadOK && wantOK:
			f.Reason = "target, mode or owner changed"
		}
		d.fields = append(d.fields, f)
	})
}

// fileMountText renders a recorded secret or config: target, mode, owner
// and, for a config, the first digits of its content's keyed digest.
func fileMountText(r project.FileRecord, secret bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s mode %04o", r.Target, r.Mode)
	if r.UID != "" || r.GID != "" {
		fmt.Fprintf(&b, " owner %s:%s", orDash(r.UID), orDash(r.GID))
	}
	if secret {
		b.WriteString(" content " + spec.RedactedValue)
	} else {
		b.WriteString(" content " + shortDigest(r.Digest))
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
