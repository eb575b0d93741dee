package spec

import (
	"fmt"
	"net/netip"
	"strings"
)

// DefaultSubnetPrefix is the prefix length of each stack's subnet when
// network.subnet_prefix is not set: a /24 (254 addresses) per stack.
const DefaultSubnetPrefix = 24

// MaxSubnetPoolBits bounds how many subnets one pool may be cut into
// (2^20): the allocator scans the pool's subnets in order when it looks
// for a free one.
const MaxSubnetPoolBits = 20

// SubnetPool is the controller-managed subnet pool (network.subnet_pool):
// each stack's network gets one subnet of Bits length out of Prefix. The
// zero value is no pool.
type SubnetPool struct {
	Prefix netip.Prefix
	Bits   int
}

// Enabled reports whether a pool is configured.
func (p SubnetPool) Enabled() bool { return p.Prefix.IsValid() }

// String is "10.128.0.0/9 in /24 subnets", or "" for no pool.
func (p SubnetPool) String() string {
	if !p.Enabled() {
		return ""
	}
	return fmt.Sprintf("%s in /%d subnets", p.Prefix, p.Bits)
}

// Size is the number of subnets the pool holds.
func (p SubnetPool) Size() int64 {
	if !p.Enabled() {
		return 0
	}
	return int64(1) << (p.Bits - p.Prefix.Bits())
}

// Holds reports whether subnet ("10.128.3.0/24") is one of the pool's
// subnets: inside the pool, of the pool's subnet length.
func (p SubnetPool) Holds(subnet string) bool {
	sn, err := netip.ParsePrefix(subnet)
	if err != nil || !p.Enabled() {
		return false
	}
	return sn.Bits() == p.Bits && sn.Masked() == sn && p.Prefix.Contains(sn.Addr())
}

// ParseSubnetPool checks network.subnet_pool and network.subnet_prefix:
// pool "" is no pool (the zero SubnetPool, whatever bits says). Each
// problem is a full sentence saying what to write instead.
func ParseSubnetPool(pool string, bits int) (SubnetPool, []string) {
	pool = strings.TrimSpace(pool)
	if pool == "" {
		return SubnetPool{}, nil
	}
	prefix, err := netip.ParsePrefix(pool)
	if err != nil {
		return SubnetPool{}, []string{fmt.Sprintf("network.subnet_pool %q is not an IPv4 network in CIDR notation; write it like 10.128.0.0/9.", pool)}
	}
	if !prefix.Addr().Is4() {
		return SubnetPool{}, []string{fmt.Sprintf("network.subnet_pool %q is not an IPv4 network; only IPv4 pools are supported, write one like 10.128.0.0/9.", pool)}
	}
	var problems []string
	if prefix.Masked() != prefix {
		problems = append(problems, fmt.Sprintf("network.subnet_pool %q has host bits set; write the network address, %s.", pool, prefix.Masked()))
	}
	switch {
	case bits <= prefix.Bits() || bits > 30:
		problems = append(problems, fmt.Sprintf("network.subnet_prefix %d must be longer than the pool's /%d and at most 30 (a subnet needs addresses for a gateway and containers); write e.g. network.subnet_prefix: %d.",
			bits, prefix.Bits(), min(max(DefaultSubnetPrefix, prefix.Bits()+1), 30)))
	case bits-prefix.Bits() > MaxSubnetPoolBits:
		problems = append(problems, fmt.Sprintf("network.subnet_pool %s cut into /%d subnets makes %d subnets, more than the %d the controller manages; use a longer subnet_pool prefix (at least /%d) or a shorter network.subnet_prefix.",
			prefix, bits, int64(1)<<(bits-prefix.Bits()), 1<<MaxSubnetPoolBits, bits-MaxSubnetPoolBits))
	}
	if len(problems) > 0 {
		return SubnetPool{}, problems
	}
	return SubnetPool{Prefix: prefix, Bits: bits}, nil
}
