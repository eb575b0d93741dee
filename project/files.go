package project

import (
	"maps"
	"path/filepath"
	"strconv"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/keyring"
	"github.com/devarch/devarch-controller/spec"
)

// Folders, inside a stack's config folder, holding an instance's
// materialized secrets and configs: "<instance>.secrets/<name>". Instance
// names hold no dot, so they never clash with an instance's config folder.
const (
	secretsSuffix = ".secrets"
	configsSuffix = ".configs"
)

// SecretPath is the host path a secret of an instance is written to and
// bind-mounted from. name must be valid (spec.ValidateFileMount).
func SecretPath(stateDir, stack, instance, name string) string {
	return filepath.Join(ConfigDir(stateDir, stack), instance+secretsSuffix, name)
}

// ConfigMountPath is the host path a compose config of an instance is
// written to and bind-mounted from.
func ConfigMountPath(stateDir, stack, instance, name string) string {
	return filepath.Join(ConfigDir(stateDir, stack), instance+configsSuffix, name)
}

// SecretsFolder and ConfigsFolder are the folders, relative to the stack's
// config folder, of an instance's secrets and configs.
func SecretsFolder(instance string) string { return instance + secretsSuffix }

// ConfigsFolder: see SecretsFolder.
func ConfigsFolder(instance string) string { return instance + configsSuffix }

// fileKey is the compose project's key of an instance's secret or config:
// two instances may each have their own "db_password".
func fileKey(instance, name string) string { return instance + "." + name }

// serviceFiles references the instance's secrets and configs from its
// service with their targets, modes and owners, as a user's compose file
// would. Compose bind-mounts file-backed secrets and configs read-only;
// the materialized file carries the mode and owner.
func serviceFiles(svc *types.ServiceConfig, inst spec.Instance) {
	for _, f := range inst.Effective.Secrets {
		svc.Secrets = append(svc.Secrets, types.ServiceSecretConfig(fileRef(fileKey(inst.Name, f.Name), f, spec.DefaultSecretMode)))
	}
	for _, f := range inst.Effective.Configs {
		svc.Configs = append(svc.Configs, types.ServiceConfigObjConfig(fileRef(fileKey(inst.Name, f.Name), f, spec.DefaultConfigMode)))
	}
}

// projectFiles declares the instance's secrets and configs in the project,
// each backed by its materialized file.
func projectFiles(p *types.Project, s spec.Stack, inst spec.Instance, o Options) {
	for _, f := range inst.Effective.Secrets {
		key := fileKey(inst.Name, f.Name)
		if p.Secrets == nil {
			p.Secrets = types.Secrets{}
		}
		p.Secrets[key] = types.SecretConfig{Name: key, File: SecretPath(o.StateDir, s.Name, inst.Name, f.Name)}
	}
	for _, f := range inst.Effective.Configs {
		key := fileKey(inst.Name, f.Name)
		if p.Configs == nil {
			p.Configs = types.Configs{}
		}
		p.Configs[key] = types.ConfigObjConfig{Name: key, File: ConfigMountPath(o.StateDir, s.Name, inst.Name, f.Name)}
	}
}

func fileRef(key string, f spec.FileMount, def uint32) types.FileReferenceConfig {
	mode := types.FileMode(f.FileMode(def))
	return types.FileReferenceConfig{Source: key, Target: f.Target, UID: f.UID, GID: f.GID, Mode: &mode}
}

// volumeConfig is the compose declaration of the named volume key of
// project projectName, from the instance's volume definition def (nil
// when it declares none): external volumes by their name, others under
// their name or "<project>_<key>" with devarch labels.
func volumeConfig(projectName, key string, def *spec.VolumeDef, labels types.Labels) types.VolumeConfig {
	if def == nil {
		return types.VolumeConfig{Name: projectName + "_" + key, Labels: labels}
	}
	if def.External {
		name := def.Name
		if name == "" {
			name = key
		}
		return types.VolumeConfig{Name: name, External: true}
	}
	v := types.VolumeConfig{Name: def.Name, Driver: def.Driver, Labels: labels}
	if v.Name == "" {
		v.Name = projectName + "_" + key
	}
	if len(def.DriverOpts) > 0 {
		v.DriverOpts = types.Options(maps.Clone(def.DriverOpts))
	}
	for k, val := range def.Labels {
		v.Labels[k] = val
	}
	return v
}

// volumeDef returns the instance's definition of volume key, or nil.
func volumeDef(inst spec.Instance, key string) *spec.VolumeDef {
	for i, d := range inst.Effective.VolumeDefs {
		if d.Key == key {
			return &inst.Effective.VolumeDefs[i]
		}
	}
	return nil
}

// FileRecord records a secret or config without its content.
type FileRecord struct {
	Target string `json:"target"`
	Mode   uint32 `json:"mode"`
	UID    string `json:"uid,omitempty"`
	GID    string `json:"gid,omitempty"`
	Digest string `json:"digest"`
}

// Purposes of the digests of secrets' and configs' contents.
const (
	purposeSecretFile = "devarch.spec secret file"
	purposeConfigObj  = "devarch.spec config object"
)

// SecretFileDigest replaces a secret's content in records: an HMAC-SHA256
// under the installation key k over the instance id, the secret's name
// and its content.
func SecretFileDigest(k keyring.Key, instanceID int64, name, content string) string {
	return secretFileDigest(k, instanceID, name, content)
}

func secretFileDigest(k digester, instanceID int64, name, content string) string {
	return k.Digest(purposeSecretFile, []byte(strconv.FormatInt(instanceID, 10)), []byte(name), []byte(content))
}

// ConfigObjDigest replaces a compose config's content in records.
func ConfigObjDigest(k keyring.Key, instanceID int64, name, content string) string {
	return configObjDigest(k, instanceID, name, content)
}

func configObjDigest(k digester, instanceID int64, name, content string) string {
	return k.Digest(purposeConfigObj, []byte(strconv.FormatInt(instanceID, 10)), []byte(name), []byte(content))
}

// recordFiles records the instance's secrets and configs.
func (r *Record) recordFiles(e spec.Effective, inst spec.Instance, keyID int64, k digester) {
	if len(e.Secrets) > 0 {
		r.Secrets = make(map[string]FileRecord, len(e.Secrets))
		for _, f := range e.Secrets {
			r.Secrets[f.Name] = FileRecord{Target: f.Target, Mode: f.FileMode(spec.DefaultSecretMode), UID: f.UID, GID: f.GID,
				Digest: secretFileDigest(k, inst.ID, f.Name, f.Content)}
		}
		r.KeyID = keyID
	}
	if len(e.Configs) > 0 {
		r.Configs = make(map[string]FileRecord, len(e.Configs))
		for _, f := range e.Configs {
			r.Configs[f.Name] = FileRecord{Target: f.Target, Mode: f.FileMode(spec.DefaultConfigMode), UID: f.UID, GID: f.GID,
				Digest: configObjDigest(k, inst.ID, f.Name, f.Content)}
		}
		r.KeyID = keyID
	}
}

// RecheckSecretFile compares the digest r recorded for secret name with
// its current content, using the key r was made with.
func (r Record) RecheckSecretFile(ring keyring.Ring, name, content, digest string) Recheck {
	return r.recheck(ring, digest,
		func(k keyring.Key) string { return SecretFileDigest(k, r.InstanceID, name, content) },
		func() string { return "" })
}

// RecheckConfigObj compares the digest r recorded for config name with its
// current content.
func (r Record) RecheckConfigObj(ring keyring.Ring, name, content, digest string) Recheck {
	return r.recheck(ring, digest,
		func(k keyring.Key) string { return ConfigObjDigest(k, r.InstanceID, name, content) },
		func() string { return "" })
}
