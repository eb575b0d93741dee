package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	"github.com/devarch/devarch-controller/catalog"
	"github.com/devarch/devarch-controller/spec"
)

// resolveCacheSize bounds a resolveCache: when full it is emptied.
const resolveCacheSize = 4096

// resolveCache memoizes catalog.Resolve by template and variables: a
// template that references variables is resolved on every read of every
// stack using it, and resolving runs compose-go's loader (milliseconds),
// while the result changes only when the template or the stack's
// variables do. Results are kept encoded, so no caller shares a spec with
// another. A nil *resolveCache caches nothing.
type resolveCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newResolveCache() *resolveCache { return &resolveCache{m: map[string][]byte{}} }

// resolve is catalog.Resolve through the cache.
func (c *resolveCache) resolve(t spec.Template, vars []spec.Variable) (catalog.Resolution, error) {
	if c == nil {
		return catalog.Resolve(t, vars)
	}
	key, err := resolveKey(t, vars)
	if err != nil {
		return catalog.Resolve(t, vars)
	}
	c.mu.Lock()
	b, ok := c.m[key]
	c.mu.Unlock()
	var res catalog.Resolution
	if ok && json.Unmarshal(b, &res) == nil {
		return res, nil
	}
	res, err = catalog.Resolve(t, vars)
	if err != nil {
		return res, err
	}
	if b, err := json.Marshal(res); err == nil {
		c.mu.Lock()
		if len(c.m) >= resolveCacheSize {
			clear(c.m)
		}
		c.m[key] = b
		c.mu.Unlock()
	}
	return res, nil
}

// resolveKey digests everything Resolve reads: the template (its file,
// path and catalog copy) and the stack's variables.
func resolveKey(t spec.Template, vars []spec.Variable) (string, error) {
	b, err := json.Marshal(struct {
		T spec.Template   `json:"t"`
		V []spec.Variable `json:"v"`
	}{t, vars})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}
