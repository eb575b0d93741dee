package project

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/devarch/devarch-controller/spec"
)

// RecordVersion is the version of the devarch.spec label format.
const RecordVersion = 1

// Record is what an instance's container was created from, stored in its
// devarch.spec label. It holds no secret: secret env values and config file
// contents are replaced by digests, which is enough to tell that they
// changed.
type Record struct {
	Version     int                   `json:"v"`
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
	Env         map[string]string     `json:"env,omitempty"`
	Ports       []spec.Port           `json:"ports,omitempty"`
	Volumes     []spec.Volume         `json:"volumes,omitempty"`
	Labels      map[string]string     `json:"labels,omitempty"`
	Healthcheck *spec.Healthcheck     `json:"healthcheck,omitempty"`
	Restart     string                `json:"restart,omitempty"`
	DependsOn   []spec.Dependency     `json:"depends_on,omitempty"`
	ConfigFiles map[string]ConfigFile `json:"config_files,omitempty"`
}

// ConfigFile records a config file without its content.
type ConfigFile struct {
	Target string `json:"target"`
	Mode   uint32 `json:"mode"`
	Digest string `json:"digest"`
}

// SecretDigest replaces a secret value in records. It is salted with the
// instance id and key so equal secrets of different instances differ.
func SecretDigest(instanceID int64, key, value string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%s\x00", instanceID, key)
	h.Write([]byte(value))
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// ContentDigest is the digest of a config file's content.
func ContentDigest(content string) string {
	sum := sha256.Sum256([]byte(content))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// NewRecord builds the record of an instance of a stack. Together with the
// set of enabled instances it determines the instance's compose service
// completely: equal records (and dependencies) mean equal services.
func NewRecord(s spec.Stack, inst spec.Instance, o Options) Record {
	e := inst.Effective
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
		Image:      e.Image.Value,
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
	if h := e.Healthcheck.Value; h != nil {
		c := *h
		r.Healthcheck = &c
	}
	if len(e.Env) > 0 {
		r.Env = make(map[string]string, len(e.Env))
		for _, v := range e.Env {
			if v.IsSecret() {
				r.Env[v.Key] = SecretDigest(inst.ID, v.Key, v.Value)
				continue
			}
			r.Env[v.Key] = v.Value
		}
	}
	if len(e.Labels) > 0 {
		r.Labels = make(map[string]string, len(e.Labels))
		for _, l := range e.Labels {
			r.Labels[l.Key] = l.Value
		}
	}
	if len(e.ConfigFiles) > 0 {
		r.ConfigFiles = make(map[string]ConfigFile, len(e.ConfigFiles))
		for _, c := range e.ConfigFiles {
			r.ConfigFiles[c.Path] = ConfigFile{Target: c.Target, Mode: c.FileMode(), Digest: ContentDigest(c.Content)}
		}
	}
	return r
}

// Encode returns the label value of a record: compact, deterministic JSON.
func (r Record) Encode() string {
	b, err := json.Marshal(r)
	if err != nil {
		// Record holds only strings, numbers, bools, slices and maps of
		// them: Marshal cannot fail.
		panic("project: encode record: " + err.Error())
	}
	return string(b)
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
// targets, modes and contents). It is stored as the devarch.config_digest
// label, so an edited config file changes compose's config hash and
// recreates the container.
func ConfigDigest(files []spec.ConfigFile) string {
	h := sha256.New()
	for _, c := range files {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", c.Path, c.Target, strconv.FormatUint(uint64(c.FileMode()), 8), ContentDigest(c.Content))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
