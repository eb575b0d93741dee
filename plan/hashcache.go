package plan

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/docker/compose/v5/pkg/api"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// cannotApplyError says an instance's compose service cannot be built (for
// example, its template has no image).
type cannotApplyError struct{ err error }

func (e *cannotApplyError) Error() string { return e.err.Error() }
func (e *cannotApplyError) Unwrap() error { return e.err }

// HashCache memoizes compose's config hash of an instance's service by
// the stack's staleness token, the host paths and the instance id. The
// token covers everything a service is built from (stack id, name and
// network; every instance's id, name, template and overrides; see Token),
// so the cache is exact: it changes how fast ComputeCached is, never what
// it returns. It keeps the steady state cheap, where the same unchanged
// stacks are planned again and again. It is bounded: when full it is
// emptied. It is safe for concurrent use; a nil *HashCache caches nothing.
type HashCache struct {
	mu sync.Mutex
	m  map[string]string
}

// hashCacheSize bounds a HashCache: 32768 instances of unchanged stacks.
const hashCacheSize = 1 << 15

// NewHashCache returns an empty cache.
func NewHashCache() *HashCache { return &HashCache{m: map[string]string{}} }

// Len is the number of hashes held.
func (c *HashCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

func (c *HashCache) get(key string) (string, bool) {
	if c == nil {
		return "", false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[key]
	return h, ok
}

func (c *HashCache) put(key, h string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= hashCacheSize {
		clear(c.m)
	}
	c.m[key] = h
}

func hashKey(token string, paths project.Options, instanceID int64) string {
	return token + "\x00" + paths.StateDir + "\x00" + paths.WorkspaceDir + "\x00" + strconv.FormatInt(instanceID, 10)
}

// serviceRecord returns the devarch.spec label of an instance's compose
// service: its record (project.NewRecord), encoded. had is the label of
// the instance's container, returned instead of a copy when it is that
// record. The error is a *cannotApplyError when the service cannot be
// built.
func serviceRecord(hashes *HashCache, records *stackRecords, inst *spec.Instance, paths project.Options, token, had string) (string, error) {
	key := hashKey(token, paths, inst.ID) + "\x00record"
	if r, ok := hashes.get(key); ok {
		return r, nil
	}
	if err := project.CheckService(*inst, paths); err != nil {
		return "", &cannotApplyError{err: err}
	}
	r := records.encode(inst, had)
	hashes.put(key, r)
	return r, nil
}

// recordDecides reports whether comparing a container's devarch.spec
// label with the desired one tells whether compose would recreate it,
// without computing compose's config hash. The record determines the
// service (project.NewRecord) when the container was created by the same
// compose version, the service refers to no other container (volumes_from,
// ipc and pid references are resolved to container ids, links depend on
// which instances are enabled) and its bind mounts have absolute sources
// (relative ones are resolved under the template's category, which the
// record does not hold). Otherwise the plan compares config hashes.
func recordDecides(c spec.Container, inst spec.Instance) bool {
	if c.Labels[api.VersionLabel] != api.ComposeVersion || c.Labels[spec.LabelSpec] == "" {
		return false
	}
	o := inst.Effective.Options
	if len(o.Links) > 0 || project.References(o) != nil {
		return false
	}
	for _, v := range inst.Effective.Volumes.Value {
		if v.Type == spec.VolumeTypeBind && !filepath.IsAbs(v.Source) {
			return false
		}
	}
	return true
}

// serviceHash returns compose's config hash of an instance's service.
// ids maps instance names to the ids of their containers: a service that
// shares volumes or namespaces with another instance's container is
// hashed with its references resolved, as compose hashes it. ok is false
// when such a container is missing: no existing container can match.
func serviceHash(hashes *HashCache, s spec.Stack, inst spec.Instance, paths project.Options, token string, ids map[string]string) (hash string, ok bool, err error) {
	key := hashKey(token, paths, inst.ID)
	refs := project.References(inst.Effective.Options)
	for _, k := range slices.Sorted(maps.Keys(refs)) {
		for _, name := range refs[k] {
			key += "\x00" + name + "=" + ids[name]
		}
	}
	if h, ok := hashes.get(key); ok {
		return h, true, nil
	}
	svc, _, err := project.Service(s, inst, paths)
	if err != nil {
		return "", false, &cannotApplyError{err: err}
	}
	if refs != nil && !project.ResolveReferences(&svc, ids) {
		return "", false, nil
	}
	h, err := project.ServiceHash(svc)
	if err != nil {
		return "", false, fmt.Errorf("hash service %q: %w", inst.Name, err)
	}
	hashes.put(key, h)
	return h, true, nil
}
