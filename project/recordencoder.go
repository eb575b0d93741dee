package project

import (
	"encoding/hex"
	"slices"
	"strconv"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/spec"
)

// RecordEncoder encodes the records of the instances of one stack
// straight from their effective specs: Encode(inst) is byte for byte
// NewRecordScrubbed(s, inst, o, sc).Encode(), without building the Record
// and its maps, and without sorting again what the effective spec holds
// sorted already (spec.Merge sorts env, labels, config files, secrets,
// configs and option leaves by key). The first plan of a stack encodes the
// record of every instance: this is most of what that plan costs.
//
// Its digests are those NewRecordScrubbed makes, with HMAC keyed once for
// the whole stack. A RecordEncoder is not safe for concurrent use.
type RecordEncoder struct {
	s       spec.Stack
	o       Options
	sc      spec.Scrubber
	keyID   int64
	dg      *keyring.Digester
	network string
	buf     []byte
	// inst is the instance being encoded, id its decimal id (the first
	// part of its digests), scratch the bytes of a digest's other parts,
	// sum the last MAC.
	inst    *spec.Instance
	id      []byte
	scratch []byte
	sum     []byte
	// keyed is set once the record holds a digest (Record.KeyID).
	keyed bool
}

// NewRecordEncoder returns an encoder of the records of s's instances,
// with the stack's Scrubber sc (s.Scrubber()).
func NewRecordEncoder(s spec.Stack, o Options, sc spec.Scrubber) *RecordEncoder {
	return &RecordEncoder{s: s, o: o, sc: sc, keyID: o.Keys.Current.ID, dg: o.Keys.Current.Digester(), network: s.Network(),
		buf: make([]byte, 0, 2048)}
}

// Encode returns the devarch.spec label of an instance of the encoder's
// stack: NewRecordScrubbed(s, *inst, o, sc).Encode(). The instance is
// given by reference: it is kilobytes, and encoding reads it in place.
func (e *RecordEncoder) Encode(inst *spec.Instance) string { return e.EncodeReusing(inst, "") }

// EncodeReusing is Encode, returning had when the record equals it: the
// label of a converged container is the record, and sharing it spares a
// copy of every record of a plan with nothing to change.
func (e *RecordEncoder) EncodeReusing(inst *spec.Instance, had string) string {
	e.inst, e.keyed = inst, false
	e.id = strconv.AppendInt(e.id[:0], inst.ID, 10)
	e.buf = e.appendRecord(e.buf[:0])
	if string(e.buf) == had {
		return had
	}
	return string(e.buf)
}

// appendRecord follows NewRecordScrubbed and appendRecord field by field.
// The key id comes second in the record but is known only at its end: it
// is inserted after the version when the record holds a digest.
func (e *RecordEncoder) appendRecord(b []byte) []byte {
	s, inst, ef := &e.s, e.inst, &e.inst.Effective
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, RecordVersion, 10)
	keyAt := len(b)
	b = append(b, `,"stack_id":`...)
	b = strconv.AppendInt(b, s.ID, 10)
	b = appendStringField(b, "stack", s.Name)
	b = append(b, `,"instance_id":`...)
	b = strconv.AppendInt(b, inst.ID, 10)
	b = appendStringField(b, "instance", inst.Name)
	b = appendStringField(b, "state_dir", e.o.StateDir)
	b = appendStringField(b, "workspace", e.o.WorkspaceDir)
	if t := inst.TemplateName(); t != "" {
		b = appendStringField(b, "template", t)
	}
	b = appendStringField(b, "network", e.network)
	b = appendStringField(b, "image", Image(*s, *inst))
	if len(ef.Command.Value) > 0 {
		b = append(b, `,"command":`...)
		b = e.appendHiddenList(b, "command", ef.Command.Value)
	}
	if len(ef.Entrypoint.Value) > 0 {
		b = append(b, `,"entrypoint":`...)
		b = e.appendHiddenList(b, "entrypoint", ef.Entrypoint.Value)
	}
	if v := ef.WorkingDir.Value; v != "" {
		b = append(b, `,"working_dir":`...)
		b = e.appendValue(b, e.embeddedMAC("working_dir", "", v), v)
	}
	if v := ef.User.Value; v != "" {
		b = append(b, `,"user":`...)
		b = e.appendValue(b, e.embeddedMAC("user", "", v), v)
	}
	if ef.Privileged.Value {
		b = append(b, `,"privileged":true`...)
	}
	if len(ef.CapAdd.Value) > 0 {
		b = appendStringsField(b, "cap_add", ef.CapAdd.Value)
	}
	if len(ef.Env) > 0 {
		b = append(b, `,"env":`...)
		b = appendSortedMap(b, e, ef.Env, func(v spec.EnvVar) string { return v.Key }, (*RecordEncoder).envValue)
	}
	if len(ef.Ports.Value) > 0 {
		b = append(b, `,"ports":[`...)
		for i, p := range ef.Ports.Value {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPort(b, p)
		}
		b = append(b, ']')
	}
	if len(ef.Volumes.Value) > 0 {
		b = appendVolumes(b, ef.Volumes.Value)
	}
	if len(ef.Labels) > 0 {
		b = append(b, `,"labels":`...)
		b = appendSortedMap(b, e, ef.Labels, func(l spec.Label) string { return l.Key }, (*RecordEncoder).labelValue)
	}
	if h := ef.Healthcheck.Value; h != nil {
		b = append(b, `,"healthcheck":`...)
		b = appendHealthcheckWith(b, h, func(b []byte, test []string) []byte { return e.appendHiddenList(b, "healthcheck.test", test) })
	}
	if ef.Restart.Value != "" {
		b = appendStringField(b, "restart", ef.Restart.Value)
	}
	if len(ef.DependsOn.Value) > 0 {
		b = appendDependsOn(b, ef.DependsOn.Value)
	}
	if len(ef.ConfigFiles) > 0 {
		b = e.appendConfigFiles(b, ef.ConfigFiles)
	}
	if len(ef.OptionFields) > 0 {
		b = append(b, `,"options":`...)
		b = appendSortedMap(b, e, ef.OptionFields, func(f spec.OptionField) string { return f.Path }, (*RecordEncoder).optionValue)
	}
	if len(ef.Secrets) > 0 {
		b = e.appendFileMounts(b, "secrets", ef.Secrets, spec.DefaultSecretMode, purposeSecretFile)
	}
	if len(ef.Configs) > 0 {
		b = e.appendFileMounts(b, "configs", ef.Configs, spec.DefaultConfigMode, purposeConfigObj)
	}
	if ef.Build.Value != nil { // InstanceBuildDigest is "" without a build
		if digest, err := InstanceBuildDigest(*inst, e.o); err == nil && digest != "" {
			e.keyed = true
			b = appendStringField(b, "build", digest)
		}
	}
	if len(ef.Networks.Value) > 0 && ef.Options.NetworkMode == "" { // networkFields is nil otherwise
		if n := networkFields(*s, *inst); len(n) > 0 {
			b = append(b, `,"networks":`...)
			b = textMap(n).appendJSON(b)
		}
	}
	b = append(b, '}')
	if e.keyed && e.keyID != 0 {
		var field [32]byte
		b = slices.Insert(b, keyAt, strconv.AppendInt(append(field[:0], `,"key_id":`...), e.keyID, 10)...)
	}
	return b
}

// mac returns the keyed MAC of the instance's value v under name (the
// parts of SecretDigest, EmbeddedDigest and the file digests: the
// instance id, name, v) and marks the record keyed. name is prefix+key,
// joined only here: most values need no digest. The MAC is valid until
// the next one.
func (e *RecordEncoder) mac(purpose, prefix, key, v string) []byte {
	e.keyed = true
	b := append(append(append(e.scratch[:0], prefix...), key...), v...)
	e.scratch = b
	n := len(prefix) + len(key)
	e.sum = e.dg.AppendMAC(e.sum[:0], purpose, e.id, b[:n:n], b[n:])
	return e.sum
}

// contentMAC returns the MAC of a config file's content (ContentDigest),
// valid until the next one.
func (e *RecordEncoder) contentMAC(content string) []byte {
	e.scratch = append(e.scratch[:0], content...)
	e.sum = e.dg.AppendMAC(e.sum[:0], purposeContent, e.scratch)
	return e.sum
}

// embeddedMAC is the MAC of the embedded digest (EmbeddedDigest) of the
// value at path prefix+key when v embeds one of the stack's secrets
// (NewRecordScrubbed's hide), nil when v is recorded as it is.
func (e *RecordEncoder) embeddedMAC(prefix, key, v string) []byte {
	if v == "" || e.sc.Scrub(v) == v {
		return nil
	}
	return e.mac(purposeEmbedded, prefix, key, v)
}

// envValue, labelValue and optionValue return the MAC that replaces an
// entry's value in the record (nil: the value is recorded as it is) and
// the value.
func (e *RecordEncoder) envValue(v spec.EnvVar) ([]byte, string) {
	if v.IsSecret() {
		return e.mac(purposeSecretEnv, "", v.Key, v.Value), ""
	}
	return e.embeddedMAC("env.", v.Key, v.Value), v.Value
}

func (e *RecordEncoder) labelValue(l spec.Label) ([]byte, string) {
	return e.embeddedMAC("labels.", l.Key, l.Value), l.Value
}

func (e *RecordEncoder) optionValue(f spec.OptionField) ([]byte, string) {
	if f.Secret {
		return e.mac(purposeSecretEnv, "options.", f.Path, f.Value), ""
	}
	return e.embeddedMAC("", f.Path, f.Value), f.Value
}

// appendValue appends mac's digest (in its label form, keyring.Digest)
// when mac is set, plain otherwise, as a JSON string.
func (e *RecordEncoder) appendValue(b, mac []byte, plain string) []byte {
	if mac == nil {
		return appendJSONString(b, plain)
	}
	b = append(b, '"')
	b = append(b, keyring.DigestPrefix...)
	b = hex.AppendEncode(b, mac)
	return append(b, '"')
}

// digestString is appendValue's text, unquoted.
func digestString(mac []byte, plain string) string {
	if mac == nil {
		return plain
	}
	return string(hex.AppendEncode([]byte(keyring.DigestPrefix), mac))
}

// appendHiddenList appends a non-nil list whose elements are hidden one by
// one (path name.INDEX), like NewRecordScrubbed's hideAll.
func (e *RecordEncoder) appendHiddenList(b []byte, name string, vs []string) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		var mac []byte
		if v != "" && e.sc.Scrub(v) != v {
			mac = e.mac(purposeEmbedded, name+".", strconv.Itoa(i), v)
		}
		b = e.appendValue(b, mac, v)
	}
	return append(b, ']')
}

// appendSortedMap appends the JSON object NewRecordScrubbed records for
// entries xs (a textMap: key → value or digest). Entries whose keys
// strictly increase are encoded in order; others (unsorted, or a key
// repeated, the last one winning) through a textMap, as NewRecordScrubbed
// does. Every entry's value is computed either way, so that a digest of a
// repeated key still marks the record keyed.
func appendSortedMap[T any](b []byte, e *RecordEncoder, xs []T, key func(T) string, value func(*RecordEncoder, T) ([]byte, string)) []byte {
	if !strictlyIncreasing(xs, key) {
		m := make(textMap, len(xs))
		for _, x := range xs {
			m[key(x)] = digestString(value(e, x))
		}
		return m.appendJSON(b)
	}
	b = append(b, '{')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, key(x))
		b = append(b, ':')
		mac, plain := value(e, x)
		b = e.appendValue(b, mac, plain)
	}
	return append(b, '}')
}

// strictlyIncreasing reports whether the keys of xs strictly increase in
// byte order, the order of encoding/json's map keys.
func strictlyIncreasing[T any](xs []T, key func(T) string) bool {
	for i := 1; i < len(xs); i++ {
		if key(xs[i-1]) >= key(xs[i]) {
			return false
		}
	}
	return true
}

// appendConfigFiles appends ,"config_files":{...} of non-empty files:
// path → target, mode and content digest.
func (e *RecordEncoder) appendConfigFiles(b []byte, files []spec.ConfigFile) []byte {
	e.keyed = true
	if !strictlyIncreasing(files, func(c spec.ConfigFile) string { return c.Path }) {
		m := make(map[string]ConfigFile, len(files))
		for _, c := range files {
			m[c.Path] = ConfigFile{Target: c.Target, Mode: c.FileMode(), Digest: contentDigest(e.dg, c.Content)}
		}
		return appendConfigFiles(b, m)
	}
	b = append(b, `,"config_files":{`...)
	for i, c := range files {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, c.Path)
		b = append(b, `:{"target":`...)
		b = appendJSONString(b, c.Target)
		b = append(b, `,"mode":`...)
		b = strconv.AppendUint(b, uint64(c.FileMode()), 10)
		b = append(b, `,"digest":`...)
		b = e.appendValue(b, e.contentMAC(c.Content), "")
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendFileMounts appends ,"secrets":{...} or ,"configs":{...} of
// non-empty mounts: name → target, mode, owner and content digest
// (Record.recordFiles).
func (e *RecordEncoder) appendFileMounts(b []byte, field string, fs []spec.FileMount, defaultMode uint32, purpose string) []byte {
	e.keyed = true
	if !strictlyIncreasing(fs, func(f spec.FileMount) string { return f.Name }) {
		m := make(map[string]FileRecord, len(fs))
		for _, f := range fs {
			m[f.Name] = FileRecord{Target: f.Target, Mode: f.FileMode(defaultMode), UID: f.UID, GID: f.GID,
				Digest: digestString(e.mac(purpose, "", f.Name, f.Content), "")}
		}
		return appendFileRecords(b, field, m)
	}
	b = append(b, ',', '"')
	b = append(b, field...)
	b = append(b, `":{`...)
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, f.Name)
		b = append(b, `:{"target":`...)
		b = appendJSONString(b, f.Target)
		b = append(b, `,"mode":`...)
		b = strconv.AppendUint(b, uint64(f.FileMode(defaultMode)), 10)
		if f.UID != "" {
			b = appendStringField(b, "uid", f.UID)
		}
		if f.GID != "" {
			b = appendStringField(b, "gid", f.GID)
		}
		b = append(b, `,"digest":`...)
		b = e.appendValue(b, e.mac(purpose, "", f.Name, f.Content), "")
		b = append(b, '}')
	}
	return append(b, '}')
}
