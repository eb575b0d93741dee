package plan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// differ accumulates field changes between the record a container was
// created from (old) and the record of the desired spec (new). The zero
// Record as old describes an instance that has no container yet.
type differ struct {
	inst   spec.Instance
	had    project.Record
	keys   keyring.Ring
	fields []FieldChange
	// rekeyed counts the fields whose value is unchanged and whose digest
	// differs only because it was made with another installation key.
	rekeyed int
}

// diffRecords returns the fields that differ between had and want, and how
// many of them differ only by the key their digest was made with.
func diffRecords(had, want project.Record, inst spec.Instance, keys keyring.Ring) ([]FieldChange, int) {
	d := &differ{inst: inst, had: had, keys: keys, fields: []FieldChange{}}
	e := inst.Effective
	adding := had.Version == 0
	if !adding {
		d.scalar("stack", had.Stack, want.Stack, spec.SourceUser, "the stack was renamed; the container is replaced")
		d.scalar("name", had.Instance, want.Instance, spec.SourceUser, "the instance was renamed; the container is replaced")
		d.scalar("networks", had.Network, want.Network, spec.SourceUser, "")
		d.scalar("host_paths", had.StateDir+" "+had.Workspace, want.StateDir+" "+want.Workspace, spec.SourceUser,
			"the controller's state or workspace directory changed; config files and bind mounts move")
	}
	d.scalar("image", had.Image, want.Image, imageSource(e), "")
	d.masked("command", words(had.Command), words(want.Command), words(masked(had.Command)), words(masked(want.Command)), words(e.Command.Value), e.Command.Source)
	d.masked("entrypoint", words(had.Entrypoint), words(want.Entrypoint), words(masked(had.Entrypoint)), words(masked(want.Entrypoint)), words(e.Entrypoint.Value), e.Entrypoint.Source)
	d.masked("working_dir", had.WorkingDir, want.WorkingDir, mask(had.WorkingDir), mask(want.WorkingDir), e.WorkingDir.Value, e.WorkingDir.Source)
	d.masked("user", had.User, want.User, mask(had.User), mask(want.User), e.User.Value, e.User.Source)
	d.scalar("privileged", boolStr(had.Privileged), boolStr(want.Privileged), e.Privileged.Source, "")
	d.scalar("cap_add", strings.Join(had.CapAdd, ", "), strings.Join(want.CapAdd, ", "), e.CapAdd.Source, "")
	d.env(had.Env, want.Env)
	d.scalar("ports", join(had.Ports), join(want.Ports), e.Ports.Source, "")
	d.scalar("volumes", join(had.Volumes), join(want.Volumes), e.Volumes.Source, "")
	d.labels(had.Labels, want.Labels)
	d.masked("healthcheck", healthText(had.Healthcheck, false), healthText(want.Healthcheck, false),
		healthText(had.Healthcheck, true), healthText(want.Healthcheck, true), healthText(e.Healthcheck.Value, false), e.Healthcheck.Source)
	d.scalar("restart", had.Restart, want.Restart, e.Restart.Source, "")
	d.scalar("depends_on", depsText(had.DependsOn), depsText(want.DependsOn), e.DependsOn.Source, "")
	d.configFiles(had.ConfigFiles, want.ConfigFiles)
	d.options(had.Options, want.Options)
	d.fileMounts("secrets.", had.Secrets, want.Secrets, d.inst.Effective.Secrets, len(d.inst.Overrides.Secrets) > 0, true)
	d.fileMounts("configs.", had.Configs, want.Configs, d.inst.Effective.Configs, len(d.inst.Overrides.Configs) > 0, false)
	d.build(had.Build, want.Build)
	d.networks(had, want, adding)
	annotateVariables(d.fields, e.Variables)
	return d.fields, d.rekeyed
}

// masked records a change of a field whose recorded value may hold
// digests of values that embed a secret (project.EmbeddedDigest). had and
// want are the recorded texts; maskedHad and maskedWant the same with
// every digest shown as RedactedValue; desired is the desired value in
// clear text, shown as the new value (the plan's scrubbing then hides the
// secret inside it and keeps the rest readable). A change involving such a
// digest is sensitive, and when only the desired side embeds a secret the
// recorded side may come from a record written before such values were
// digested, holding the secret's earlier value in clear text: it is
// hidden whole.
func (d *differ) masked(path, had, want, maskedHad, maskedWant, desired string, source spec.Source) {
	if had == want {
		return
	}
	f := FieldChange{Path: path, Old: optional(maskedHad), New: optional(maskedWant), Source: source}
	hadSecret, wantSecret := maskedHad != had, maskedWant != want
	if wantSecret {
		f.New = optional(desired)
	}
	if hadSecret || wantSecret {
		f.Sensitive = true
		f.Reason = "its value embeds a secret"
		if maskedHad == maskedWant {
			f.Reason = "a secret embedded in its value changed"
		}
		if wantSecret && !hadSecret && f.Old != nil {
			f.Old = str(spec.RedactedValue)
		}
	}
	d.fields = append(d.fields, f)
}

// masked returns args with every digest shown as RedactedValue.
func masked(args []string) []string {
	if !slices.ContainsFunc(args, project.IsDigest) {
		return args
	}
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = mask(a)
	}
	return out
}

// mask shows a digest as RedactedValue.
func mask(v string) string {
	if project.IsDigest(v) {
		return spec.RedactedValue
	}
	return v
}

// scalar records a change of a single-valued field. Empty means unset.
func (d *differ) scalar(path, had, want string, source spec.Source, reason string) {
	if had == want {
		return
	}
	d.fields = append(d.fields, FieldChange{Path: path, Old: optional(had), New: optional(want), Source: source, Reason: reason})
}

func (d *differ) env(had, want map[string]string) {
	secret := map[string]bool{}
	source := map[string]spec.Source{}
	value := map[string]string{}
	from := map[string]string{}
	for _, v := range d.inst.Effective.Env {
		from[v.Key] = v.EnvFileSource()
		secret[v.Key] = v.IsSecret()
		source[v.Key] = v.Source
		value[v.Key] = v.Value
	}
	eachChangedKey(had, want, func(k string, o string, hadOK bool, n string, wantOK bool) {
		f := FieldChange{Path: "env." + k, Source: d.removedSource(source, k, len(d.inst.Overrides.Env) > 0), From: from[k]}
		sensitive := secret[k] || spec.IsSecretName(k) || isSecretDigest(o) || isSecretDigest(n)
		if hadOK {
			f.Old = str(o)
		}
		if wantOK {
			f.New = str(n)
		}
		if sensitive {
			f.Sensitive = true
			f.Old, f.New = redact(f.Old), redact(f.New)
			f.Reason = "secret value changed"
			if !hadOK {
				f.Reason = "secret value set"
			}
			if !secret[k] && !spec.IsSecretName(k) {
				// The value is not secret itself but embeds one: show
				// the desired value (the plan's scrubbing hides the
				// secret in it), never the recorded digest.
				f.Reason = "its value embeds a secret"
				if wantOK {
					f.New = str(value[k])
				}
			}
			if hadOK && wantOK && secret[k] {
				d.recheck(&f, d.had.RecheckSecret(d.keys, k, value[k], o), "value")
			}
		}
		d.fields = append(d.fields, f)
	})
}

// recheck explains a digest that differs although the value may not: the
// digest was made with a retired installation key, without one (by an
// earlier controller version), or with a key no longer known. The
// container is recreated all the same (the label is part of compose's
// configuration hash); the reason says why, so that a key rotation does not
// look like a changed secret.
func (d *differ) recheck(f *FieldChange, r project.Recheck, what string) {
	switch r {
	case project.RecheckRekeyed:
		f.Source = spec.SourceUser
		f.Reason = fmt.Sprintf("%s unchanged; re-keyed: its digest was made with retired installation key %d", what, d.had.KeyID)
		d.rekeyed++
	case project.RecheckUnkeyed:
		f.Source = spec.SourceUser
		f.Reason = what + " unchanged; re-keyed: its digest was made without an installation key, by an earlier controller version"
		d.rekeyed++
	case project.RecheckUnknownKey:
		f.Reason = fmt.Sprintf("its digest was made with installation key %d, which is no longer known; the %s may be unchanged", d.had.KeyID, what)
	}
}

func (d *differ) labels(had, want map[string]string) {
	source := map[string]spec.Source{}
	value := map[string]string{}
	for _, l := range d.inst.Effective.Labels {
		source[l.Key] = l.Source
		value[l.Key] = l.Value
	}
	d.keyed("labels.", had, want, source, value, len(d.inst.Overrides.Labels) > 0)
}

// options records one change per option leaf ("~ ulimits.nofile.soft",
// "+ read_only", "- sysctls.net.core.somaxconn").
func (d *differ) options(had, want map[string]string) {
	source := map[string]spec.Source{}
	value := map[string]string{}
	for _, f := range d.inst.Effective.OptionFields {
		source[f.Path] = f.Source
		value[f.Path] = f.Value
		if f.Secret {
			value[f.Path] = spec.RedactedValue
		}
	}
	d.keyed("", had, want, source, value, !d.inst.Overrides.Options.IsZero())
}

// keyed records a change per entry of a map of text values (labels,
// option leaves), each named prefix+key. source and value are the desired
// entries' sources and clear-text values; userTouches says whether the
// instance's overrides set any entry (the source of a removed one).
func (d *differ) keyed(prefix string, had, want map[string]string, source map[string]spec.Source, value map[string]string, userTouches bool) {
	eachChangedKey(had, want, func(k string, o string, hadOK bool, n string, wantOK bool) {
		f := FieldChange{Path: prefix + k, Source: d.removedSource(source, k, userTouches)}
		if hadOK {
			f.Old = str(o)
		}
		if wantOK {
			f.New = str(n)
		}
		if isSecretDigest(o) || isSecretDigest(n) {
			f.Sensitive = true
			f.Old, f.New = redact(f.Old), redact(f.New)
			f.Reason = "its value embeds a secret"
			if wantOK && isSecretDigest(n) {
				f.New = str(value[k])
			}
		}
		d.fields = append(d.fields, f)
	})
}

func (d *differ) configFiles(had, want map[string]project.ConfigFile) {
	source := map[string]spec.Source{}
	content := map[string]string{}
	for _, c := range d.inst.Effective.ConfigFiles {
		source[c.Path] = c.Source
		content[c.Path] = c.Content
	}
	eachChangedKey(had, want, func(k string, o project.ConfigFile, hadOK bool, n project.ConfigFile, wantOK bool) {
		f := FieldChange{Path: "config_files." + k, Source: d.removedSource(source, k, len(d.inst.Overrides.ConfigFiles) > 0)}
		if hadOK {
			f.Old = str(configText(o))
		}
		if wantOK {
			f.New = str(configText(n))
		}
		switch {
		case hadOK && wantOK && o.Digest != n.Digest:
			f.Reason = "content changed"
			if o.Target == n.Target && o.Mode == n.Mode {
				d.recheck(&f, d.had.RecheckContent(d.keys, content[k], o.Digest), "content")
			}
		case hadOK && wantOK:
			f.Reason = "target or mode changed"
		}
		d.fields = append(d.fields, f)
	})
}

// removedSource is the provenance of a keyed entry. An entry that is gone
// from the desired spec has none: it is attributed to the user when the
// instance overrides that collection, else to the template.
func (d *differ) removedSource(sources map[string]spec.Source, key string, userTouches bool) spec.Source {
	if s, ok := sources[key]; ok {
		return s
	}
	if userTouches || d.inst.Template == nil {
		return spec.SourceUser
	}
	return spec.SourceTemplate
}

// eachChangedKey calls fn for every key whose entry is added, removed or
// changed between had and want, in key order.
func eachChangedKey[V comparable](had, want map[string]V, fn func(key string, o V, hadOK bool, n V, wantOK bool)) {
	for _, k := range unionKeys(had, want) {
		o, hadOK := had[k]
		n, wantOK := want[k]
		if hadOK != wantOK || o != n {
			fn(k, o, hadOK, n, wantOK)
		}
	}
}

func isSecretDigest(v string) bool { return project.IsDigest(v) }

func redact(v *string) *string {
	if v == nil {
		return nil
	}
	return str(spec.RedactedValue)
}

func optional(v string) *string {
	if v == "" {
		return nil
	}
	return str(v)
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func join[T fmt.Stringer](xs []T) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = x.String()
	}
	return strings.Join(parts, ", ")
}

// words renders an argument list the way a shell would read it back.
func words(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		if a != spec.RedactedValue && (a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]#~")) {
			a = strconv.Quote(a)
		}
		parts[i] = a
	}
	return strings.Join(parts, " ")
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return ""
}

// healthText renders a healthcheck; with hide, digests in its test show
// as RedactedValue.
func healthText(h *spec.Healthcheck, hide bool) string {
	if h == nil {
		return ""
	}
	if h.Disable {
		return "disabled"
	}
	test := h.Test
	if hide {
		test = masked(test)
	}
	s := words(test)
	var opts []string
	if h.Interval != 0 {
		opts = append(opts, "every "+h.Interval.String())
	}
	if h.Timeout != 0 {
		opts = append(opts, "timeout "+h.Timeout.String())
	}
	if h.StartPeriod != 0 {
		opts = append(opts, "start period "+h.StartPeriod.String())
	}
	if h.Retries != 0 {
		opts = append(opts, strconv.Itoa(h.Retries)+" retries")
	}
	if len(opts) > 0 {
		s += " (" + strings.Join(opts, ", ") + ")"
	}
	return s
}

func depsText(ds []spec.Dependency) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Name
		if d.Condition != "" && d.Condition != spec.ConditionStarted {
			parts[i] += " (" + strings.TrimPrefix(d.Condition, "service_") + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// configText renders a recorded config file. A keyed content digest is
// shown by its first hex digits (they tell versions apart and give nothing
// away without the key); an unkeyed one, written by a controller from
// before installation keys, is not shown at all: a piece of an unkeyed hash
// is enough to confirm a guessed secret offline.
func configText(c project.ConfigFile) string {
	content := shortDigest(c.Digest)
	if !strings.HasPrefix(c.Digest, keyring.DigestPrefix) {
		content = "(digest made without a key)"
	}
	return fmt.Sprintf("%s mode %04o content %s", c.Target, c.Mode, content)
}
