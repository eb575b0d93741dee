package spec

import (
	"net/netip"
	"strings"
	"testing"
)

// FuzzParseSubnetPool: any network.subnet_pool and subnet_prefix give
// either problems (full sentences naming the key) and no pool, or a pool
// whose first and last subnets it holds and whose size is within bounds.
func FuzzParseSubnetPool(f *testing.F) {
	for _, seed := range []struct {
		pool string
		bits int
	}{{"10.128.0.0/9", 24}, {"", 0}, {"10.0.0.1/8", 24}, {"fd00::/8", 64}, {"0.0.0.0/0", 20}, {"10.0.0.0/8", 31}, {" 192.168.0.0/16 ", 30}} {
		f.Add(seed.pool, seed.bits)
	}
	f.Fuzz(func(t *testing.T, pool string, bits int) {
		p, problems := ParseSubnetPool(pool, bits)
		if len(problems) > 0 {
			if p.Enabled() {
				t.Fatalf("problems %q with a pool %s", problems, p)
			}
			for _, pr := range problems {
				if !strings.HasPrefix(pr, "network.subnet_") || !strings.HasSuffix(pr, ".") {
					t.Fatalf("problem %q is not a sentence about the key", pr)
				}
			}
			return
		}
		if !p.Enabled() {
			if strings.TrimSpace(pool) != "" {
				t.Fatalf("pool %q accepted as none", pool)
			}
			return
		}
		if n := p.Size(); n < 2 || n > 1<<MaxSubnetPoolBits {
			t.Fatalf("pool %s has %d subnets", p, n)
		}
		first := netip.PrefixFrom(p.Prefix.Addr(), p.Bits)
		if !p.Holds(first.String()) {
			t.Fatalf("pool %s does not hold its first subnet %s", p, first)
		}
		if p.Holds(p.Prefix.String()) {
			t.Fatalf("pool %s holds itself as a subnet", p)
		}
	})
}
