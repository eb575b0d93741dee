package stackfile

import (
	"fmt"
	"regexp"

	"github.com/devarch/devarch-controller/spec"
)

// The fields in this file are kept in spec.Overrides but not applied yet;
// each entry produces a warning saying so.

var domainName = regexp.MustCompile(`^(\*\.)?([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

func (b *builder) domains(prefix string, in []domainDoc) []spec.Domain {
	var out []spec.Domain
	for i, d := range in {
		field := fmt.Sprintf("%s.domains[%d]", prefix, i)
		if d.Domain == "" || len(d.Domain) > 253 || !domainName.MatchString(d.Domain) {
			b.fail(field, "domain %q is not a host name such as api.example.local", d.Domain)
			continue
		}
		if d.ProxyPort < 0 || d.ProxyPort > 65535 {
			b.fail(field, "proxy_port %d is not between 1 and 65535", d.ProxyPort)
			continue
		}
		out = append(out, spec.Domain{Domain: d.Domain, ProxyPort: d.ProxyPort})
		b.warn(field, "domain %s (proxy port %d) is stored but not applied yet: the controller does not route domains, so reach the instance through its published ports", d.Domain, d.ProxyPort)
	}
	return out
}
