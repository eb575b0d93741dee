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
// variables do. Every instance of a template with the same variables
// shares one resolved template (read-only, as every read template is): a
// thousand stacks of one catalog template hold one copy of its spec, not
// a thousand. A nil *resolveCache caches nothing.
type resolveCache struct {
	mu sync.Mutex
	m  map[string]*resolvedTemplate
}

// resolvedTemplate is a template with the stack's variables substituted
// into its spec, and what Resolve said of them.
type resolvedTemplate struct {
	template *spec.Template
	res      catalog.Resolution
}

func newResolveCache() *resolveCache { return &resolveCache{m: map[string]*resolvedTemplate{}} }

// resolve is catalog.Resolve of t with vars through the cache: t's copy
// whose spec has the variables substituted, and the resolution.
func (c *resolveCache) resolve(t *spec.Template, vars []spec.Variable) (*resolvedTemplate, error) {
	key := ""
	if c != nil {
		var err error
		if key, err = resolveKey(*t, vars); err == nil {
			c.mu.Lock()
			r, ok := c.m[key]
			c.mu.Unlock()
			if ok {
				return r, nil
			}
		}
	}
	res, err := catalog.Resolve(*t, vars)
	if err != nil {
		return nil, err
	}
	resolved := *t
	resolved.Spec = res.Spec
	r := &resolvedTemplate{template: &resolved, res: res}
	if key != "" {
		c.mu.Lock()
		if len(c.m) >= resolveCacheSize {
			clear(c.m)
		}
		c.m[key] = r
		c.mu.Unlock()
	}
	return r, nil
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
