package deploy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// secretDirMode is the mode of an instance's secrets folder on the host:
// only the controller's user may list it. Containers see the bind-mounted
// files, never the folder.
const secretDirMode = 0o700

// fileOwner is the numeric owner a secret or config asks for.
type fileOwner struct{ uid, gid int }

// fileMountFiles returns the instance's secrets and configs as files to
// materialize: "<instance>.secrets/<name>" and "<instance>.configs/<name>"
// in the stack folder (project.SecretPath, project.ConfigMountPath).
func fileMountFiles(inst spec.Instance) ([]configFile, error) {
	var out []configFile
	for _, group := range []struct {
		kind, folder string
		files        []spec.FileMount
		def          uint32
		secret       bool
	}{
		{"secret", project.SecretsFolder(inst.Name), inst.Effective.Secrets, spec.DefaultSecretMode, true},
		{"config", project.ConfigsFolder(inst.Name), inst.Effective.Configs, spec.DefaultConfigMode, false},
	} {
		for _, f := range group.files {
			if err := spec.ValidateFileMount(f); err != nil {
				return nil, fmt.Errorf("%s %q: %w", group.kind, f.Name, err)
			}
			cf := configFile{rel: filepath.Join(group.folder, f.Name), data: f.Content, mode: fs.FileMode(f.FileMode(group.def)), secret: group.secret}
			if f.UID != "" || f.GID != "" {
				cf.owner = &fileOwner{uid: atoiOr(f.UID, -1), gid: atoiOr(f.GID, -1)}
			}
			out = append(out, cf)
		}
	}
	return out, nil
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// finishFileMount gives a written secret or config the owner it asks for
// and makes a secret's folder private. Changing a file's owner takes root:
// a controller running as another user leaves the file its own (the
// container reads it when the mode lets it; see SECURITY.md), and says
// nothing, as compose does for secrets it bind-mounts.
func finishFileMount(path string, f configFile) error {
	if f.owner != nil {
		if err := os.Lchown(path, f.owner.uid, f.owner.gid); err != nil && (os.Geteuid() == 0 || !errors.Is(err, fs.ErrPermission)) {
			return fmt.Errorf("set owner of %s: %w", filepath.ToSlash(f.rel), err)
		}
	}
	if f.secret {
		if err := os.Chmod(filepath.Dir(path), secretDirMode); err != nil {
			return fmt.Errorf("set mode of secrets folder: %w", err)
		}
	}
	return nil
}

// checkExternalVolumes fails, before compose up, when an external volume
// the project uses does not exist: the controller never creates one, and
// compose's own error does not say what to do.
func (r *Runtime) checkExternalVolumes(ctx context.Context, p *project.Project) error {
	var missing []string
	for key, v := range p.Volumes {
		if !bool(v.External) {
			continue
		}
		if _, err := r.cli.VolumeInspect(ctx, v.Name, client.VolumeInspectOptions{}); err != nil {
			if !cerrdefs.IsNotFound(err) {
				return fmt.Errorf("inspect external volume %q: %w", v.Name, err)
			}
			missing = append(missing, fmt.Sprintf("%q (key %s, used by %s)", v.Name, key, usersOf(p, key)))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("external volume %s does not exist; the controller never creates external volumes: create it (docker volume create NAME) or remove external: true so that the stack creates its own", joinList(missing))
}

func usersOf(p *project.Project, key string) string {
	var names []string
	for name, svc := range p.Services {
		if slices.ContainsFunc(svc.Volumes, func(v types.ServiceVolumeConfig) bool {
			return v.Type == types.VolumeTypeVolume && v.Source == key
		}) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "no instance"
	}
	return "instance " + joinList(names)
}

func joinList(xs []string) string { return strings.Join(xs, ", ") }
