package project

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/spec"
)

// RecordVersion is the version of the devarch.spec label format.
const RecordVersion = 1

// Record is what an instance's container was created from, stored in its
// devarch.spec label. It holds no secret: secret env values and config file
// contents are replaced by digests keyed with the installation's current
// key (see SecretDigest), which is enough to tell that they changed and
// does not let a reader of the label test guesses offline.
type Record struct {
	Version int `json:"v"`
	// KeyID is the installation key that made the record's digests; 0 when
	// the record holds none (or was written before digests were keyed:
	// those digests start with "sha256:").
	KeyID       int64                 `json:"key_id,omitempty"`
	StackID     int64                 `json:"stack_id"`
	Stack       string                `json:"stack"`
	InstanceID  int64                 `json:"instance_id"`
	Instance    string                `json:"instance"`
	StateDir    string                `json:"state_dir"`
	Workspace   string                `json:"workspace"`
	Template    string                `json:"template,omitempty"`
	Network     string                `json:"network"`
	Image       string                `json:"image"`
	Command     []string              `json:"command,omitempty"`
	Entrypoint  []string              `json:"entrypoint,omitempty"`
	WorkingDir  string                `json:"working_dir,omitempty"`
	User        string                `json:"user,omitempty"`
	Privileged  bool                  `json:"privileged,omitempty"`
	CapAdd      []string              `json:"cap_add,omitempty"`
	Env         textMap               `json:"env,omitempty"`
	Ports       []spec.Port           `json:"ports,omitempty"`
	Volumes     []spec.Volume         `json:"volumes,omitempty"`
	Labels      textMap               `json:"labels,omitempty"`
	Healthcheck *spec.Healthcheck     `json:"healthcheck,omitempty"`
	Restart     string                `json:"restart,omitempty"`
	DependsOn   []spec.Dependency     `json:"depends_on,omitempty"`
	ConfigFiles map[string]ConfigFile `json:"config_files,omitempty"`
	// Options are the instance's options (spec.Options) flattened to
	// their leaves: path ("ulimits.nofile.soft") → value as text.
	Options textMap `json:"options,omitempty"`
	// Secrets and Configs record the compose secrets and configs by name,
	// their contents as keyed digests (see files.go).
	Secrets map[string]FileRecord `json:"secrets,omitempty"`
	Configs map[string]FileRecord `json:"configs,omitempty"`
	// Build is the build digest (BuildDigest) of an instance that builds
	// its image.
	Build string `json:"build,omitempty"`
	// Networks are the instance's network attachments as leaves (see
	// networkFields); none when it joins the stack's network alone.
	Networks textMap `json:"networks,omitempty"`
}

// ConfigFile records a config file without its content.
type ConfigFile struct {
	Target string `json:"target"`
	Mode   uint32 `json:"mode"`
	Digest string `json:"digest"`
}

// Purposes of the installation key's digests (keyring.Key.MAC): a digest
// made for one use never equals one made for another.
const (
	purposeEmbedded    = "devarch.spec embedded secret"
	purposeSecretEnv   = "devarch.spec secret env"
	purposeContent     = "devarch.spec config content"
	purposeConfigSet   = "devarch.config_digest"
	legacyDigestPrefix = "sha256:"
)

// SecretDigest replaces a secret env value in records: an HMAC-SHA256
// under the installation key k over the instance id, the variable's name
// and the value, so equal secrets of different instances or variables
// differ and nobody without the key can test a guess against it.
func SecretDigest(k keyring.Key, instanceID int64, name, value string) string {
	return secretDigest(k, instanceID, name, value)
}

// digester is a keyring.Key, or a *keyring.Digester of one for the many
// digests of a record.
type digester interface {
	Digest(purpose string, parts ...[]byte) string
}

func secretDigest(k digester, instanceID int64, name, value string) string {
	return k.Digest(purposeSecretEnv, []byte(strconv.FormatInt(instanceID, 10)), []byte(name), []byte(value))
}

// ContentDigest replaces a config file's content in records: an
// HMAC-SHA256 under the installation key k. Config files can hold secrets
// (passwords in a server's configuration, private keys), so their digests
// are keyed like secret env values.
// EmbeddedDigest replaces, in a record, a value that is not secret itself
// but embeds one of the stack's secret values (a DATABASE_URL holding the
// password, a command line passing it): the record is a container label,
// which monitoring tools and pasted `docker inspect` output carry far.
func EmbeddedDigest(k keyring.Key, instanceID int64, path, value string) string {
	return embeddedDigest(k, instanceID, path, value)
}

func embeddedDigest(k digester, instanceID int64, path, value string) string {
	return k.Digest(purposeEmbedded, []byte(strconv.FormatInt(instanceID, 10)), []byte(path), []byte(value))
}

func ContentDigest(k keyring.Key, content string) string {
	return contentDigest(k, content)
}

func contentDigest(k digester, content string) string {
	return k.Digest(purposeContent, []byte(content))
}

// legacySecretDigest and legacyContentDigest are the unkeyed digests of
// records written before digests were keyed. They are computed only to
// recognise such a record's values (see Recheck), never written.
func legacySecretDigest(instanceID int64, name, value string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00", instanceID, name)
	h.Write([]byte(value))
	return legacyDigestPrefix + hex.EncodeToString(h.Sum(nil))
}

func legacyContentDigest(content string) string {
	sum := sha256.Sum256([]byte(content))
	return legacyDigestPrefix + hex.EncodeToString(sum[:])
}

// IsDigest reports whether a record value is a digest (keyed, or unkeyed
// from an older record) rather than a plain value.
func IsDigest(v string) bool {
	hexPart, ok := strings.CutPrefix(v, keyring.DigestPrefix)
	if !ok {
		hexPart, ok = strings.CutPrefix(v, legacyDigestPrefix)
	}
	if !ok || len(hexPart) != 2*sha256.Size {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil
}

// Recheck says why a digest recorded in an older record differs from the
// digest of the current value.
type Recheck int

// Outcomes of RecheckSecret and RecheckContent.
const (
	// RecheckChanged: the value differs from the one the digest was made of.
	RecheckChanged Recheck = iota
	// RecheckRekeyed: the value is the same; the digest was made with a
	// retired installation key.
	RecheckRekeyed
	// RecheckUnkeyed: the value is the same; the digest was made without a
	// key, by a controller from before installation keys.
	RecheckUnkeyed
	// RecheckUnknownKey: the digest was made with a key the ring no longer
	// holds, so whether the value changed cannot be told.
	RecheckUnknownKey
)

// RecheckSecret compares the digest r recorded for the secret env variable
// name with the variable's current value, using the key r was made with.
func (r Record) RecheckSecret(ring keyring.Ring, name, value, digest string) Recheck {
	return r.recheck(ring, digest,
		func(k keyring.Key) string { return SecretDigest(k, r.InstanceID, name, value) },
		func() string { return legacySecretDigest(r.InstanceID, name, value) })
}

// RecheckContent compares the digest r recorded for a config file with the
// file's current content, using the key r was made with.
func (r Record) RecheckContent(ring keyring.Ring, content, digest string) Recheck {
	return r.recheck(ring, digest,
		func(k keyring.Key) string { return ContentDigest(k, content) },
		func() string { return legacyContentDigest(content) })
}

func (r Record) recheck(ring keyring.Ring, digest string, keyed func(keyring.Key) string, legacy func() string) Recheck {
	switch {
	case strings.HasPrefix(digest, keyring.DigestPrefix):
		k, ok := ring.Key(r.KeyID)
		switch {
		case !ok:
			return RecheckUnknownKey
		case k.ID != ring.Current.ID && keyed(k) == digest:
			return RecheckRekeyed
		}
	case strings.HasPrefix(digest, legacyDigestPrefix):
		if legacy() == digest {
			return RecheckUnkeyed
		}
	}
	return RecheckChanged
}

// NewRecord builds the record of an instance of a stack. Together with the
// set of enabled instances it determines the instance's compose service
// completely: equal records (and dependencies) mean equal services.
//
// Values that embed one of the stack's secret values (where the stack's
// Scrubber would hide something) are recorded as keyed digests
// (EmbeddedDigest), like secret env values: the record holds no secret.
func NewRecord(s spec.Stack, inst spec.Instance, o Options) Record {
	return NewRecordScrubbed(s, inst, o, s.Scrubber())
}

// NewRecordScrubbed is NewRecord with the stack's Scrubber (s.Scrubber())
// given, for callers that build the records of several instances of one
// stack.
func NewRecordScrubbed(s spec.Stack, inst spec.Instance, o Options, sc spec.Scrubber) Record {
	e := inst.Effective
	k := o.Keys.Current
	dg := k.Digester()
	r := Record{
		Version:    RecordVersion,
		StackID:    s.ID,
		Stack:      s.Name,
		InstanceID: inst.ID,
		Instance:   inst.Name,
		StateDir:   o.StateDir,
		Workspace:  o.WorkspaceDir,
		Template:   inst.TemplateName(),
		Network:    s.Network(),
		Image:      Image(s, inst),
		Command:    e.Command.Value,
		Entrypoint: e.Entrypoint.Value,
		WorkingDir: e.WorkingDir.Value,
		User:       e.User.Value,
		Privileged: e.Privileged.Value,
		CapAdd:     e.CapAdd.Value,
		Ports:      e.Ports.Value,
		Volumes:    e.Volumes.Value,
		Restart:    e.Restart.Value,
		DependsOn:  e.DependsOn.Value,
	}
	hide := func(path, v string) string {
		if v == "" || sc.Scrub(v) == v {
			return v
		}
		r.KeyID = k.ID
		return embeddedDigest(dg, inst.ID, path, v)
	}
	hideAll := func(path string, vs []string) []string {
		if vs == nil {
			return nil
		}
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = hide(path+"."+strconv.Itoa(i), v)
		}
		return out
	}
	r.Command = hideAll("command", r.Command)
	r.Entrypoint = hideAll("entrypoint", r.Entrypoint)
	r.WorkingDir = hide("working_dir", r.WorkingDir)
	r.User = hide("user", r.User)
	if h := e.Healthcheck.Value; h != nil {
		c := *h
		c.Test = hideAll("healthcheck.test", h.Test)
		r.Healthcheck = &c
	}
	if len(e.Env) > 0 {
		r.Env = make(textMap, len(e.Env))
		for _, v := range e.Env {
			if v.IsSecret() {
				r.Env[v.Key] = secretDigest(dg, inst.ID, v.Key, v.Value)
				r.KeyID = k.ID
				continue
			}
			r.Env[v.Key] = hide("env."+v.Key, v.Value)
		}
	}
	if len(e.Labels) > 0 {
		r.Labels = make(textMap, len(e.Labels))
		for _, l := range e.Labels {
			r.Labels[l.Key] = hide("labels."+l.Key, l.Value)
		}
	}
	if len(e.OptionFields) > 0 {
		r.Options = make(textMap, len(e.OptionFields))
		for _, f := range e.OptionFields {
			if f.Secret {
				r.Options[f.Path] = secretDigest(dg, inst.ID, "options."+f.Path, f.Value)
				r.KeyID = k.ID
				continue
			}
			r.Options[f.Path] = hide(f.Path, f.Value)
		}
	}
	if digest, err := InstanceBuildDigest(inst, o); err == nil && digest != "" {
		r.Build = digest
		r.KeyID = k.ID
	}
	r.Networks = networkFields(s, inst)
	if len(e.ConfigFiles) > 0 {
		r.ConfigFiles = make(map[string]ConfigFile, len(e.ConfigFiles))
		for _, c := range e.ConfigFiles {
			r.ConfigFiles[c.Path] = ConfigFile{Target: c.Target, Mode: c.FileMode(), Digest: contentDigest(dg, c.Content)}
		}
		r.KeyID = k.ID
	}
	r.recordFiles(e, inst, k.ID, dg)
	return r
}

// Encode returns the label value of a record: compact, deterministic JSON,
// exactly as encoding/json writes it (see appendRecord).
func (r Record) Encode() string {
	return string(appendRecord(make([]byte, 0, 2048), &r))
}

// DecodeRecord parses a devarch.spec label. ok is false when the label is
// missing, malformed or of another version.
func DecodeRecord(label string) (Record, bool) {
	if label == "" {
		return Record{}, false
	}
	var r Record
	if err := json.Unmarshal([]byte(label), &r); err != nil || r.Version != RecordVersion {
		return Record{}, false
	}
	return r, true
}

// ConfigDigest is one digest over all of an instance's config files (paths,
// targets, modes and contents), keyed with the installation key k. It is
// stored as the devarch.config_digest label, so an edited config file
// changes compose's config hash and recreates the container.
func ConfigDigest(k keyring.Key, files []spec.ConfigFile) string {
	parts := make([][]byte, 0, 4*len(files))
	for _, c := range files {
		parts = append(parts, []byte(c.Path), []byte(c.Target), []byte(strconv.FormatUint(uint64(c.FileMode()), 8)), []byte(c.Content))
	}
	return k.Digest(purposeConfigSet, parts...)
}
