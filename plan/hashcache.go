package plan

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// cannotApplyError says an instance's compose service cannot be built (for
// example, its template has no image).
type cannotApplyError struct{ err error }

func (e *cannotApplyError) Error() string { return e.err.Error() }
func (e *cannotApplyError) Unwrap() error { return e.err }

// hashCache memoizes compose's config hash of an instance's service by the
// stack's staleness token, the host paths and the instance id. The token
// covers everything a service is built from (stack id, name and network;
// every instance's id, name, template and overrides; see Token), so the
// cache is exact: it changes how fast Compute is, never what it returns.
// It keeps the steady state cheap, where the same unchanged stacks are
// planned again and again. It is bounded: when full it is emptied.
type hashCache struct {
	mu sync.Mutex
	m  map[string]string
}

const hashCacheSize = 1 << 15

var hashes = &hashCache{m: map[string]string{}}

func hashKey(token string, paths project.Options, instanceID int64) string {
	return token + "\x00" + paths.StateDir + "\x00" + paths.WorkspaceDir + "\x00" + strconv.FormatInt(instanceID, 10)
}

// serviceHash returns compose's config hash of an instance's service.
func serviceHash(s spec.Stack, inst spec.Instance, paths project.Options, token string) (string, error) {
	key := hashKey(token, paths, inst.ID)
	hashes.mu.Lock()
	h, ok := hashes.m[key]
	hashes.mu.Unlock()
	if ok {
		return h, nil
	}
	svc, _, err := project.Service(s, inst, paths)
	if err != nil {
		return "", &cannotApplyError{err: err}
	}
	h, err = project.ServiceHash(svc)
	if err != nil {
		return "", fmt.Errorf("hash service %q: %w", inst.Name, err)
	}
	hashes.mu.Lock()
	if len(hashes.m) >= hashCacheSize {
		clear(hashes.m)
	}
	hashes.m[key] = h
	hashes.mu.Unlock()
	return h, nil
}
