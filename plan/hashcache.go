package plan

import (
	"fmt"
	"sync"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// cannotApplyError says an instance's compose service cannot be built (for
// example, its template has no image).
type cannotApplyError struct{ err error }

func (e *cannotApplyError) Error() string { return e.err.Error() }
func (e *cannotApplyError) Unwrap() error { return e.err }

// hashCache memoizes compose's config hash by the instance's encoded
// record. A record determines its compose service completely (see
// project.NewRecord; dependencies are not part of compose's hash), so the
// cache is exact: it changes how fast Compute is, never what it returns. It
// keeps the steady state cheap, where the same unchanged stacks are planned
// again and again. It is bounded: when full it is emptied.
type hashCache struct {
	mu sync.Mutex
	m  map[string]string
}

const hashCacheSize = 1 << 14

var hashes = &hashCache{m: map[string]string{}}

// serviceHash returns compose's config hash of an instance's service.
func serviceHash(s spec.Stack, inst spec.Instance, paths project.Options, record string) (string, error) {
	hashes.mu.Lock()
	h, ok := hashes.m[record]
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
	hashes.m[record] = h
	hashes.mu.Unlock()
	return h, nil
}
