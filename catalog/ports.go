package catalog

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/tree"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/spec"
)

// ports maps published ports. compose-go has already expanded ranges that
// pair a host range with a container range of the same length.
func (m *mapper) ports(in []types.ServicePortConfig) []spec.Port {
	out := make([]spec.Port, 0, len(in))
	for i, p := range in {
		key := fmt.Sprintf("ports[%d]", i)
		if raw, ok := p.Extensions[unpublishableExtension]; ok {
			m.warn(key, "%q maps one host port to a range of container ports, which the engine cannot publish, so it is left out; publish a host range of the same length instead", raw)
			continue
		}
		if p.Mode != "" && p.Mode != "ingress" {
			m.ignore(key+".mode", "mode %q is not supported and is ignored; the port is published on the host by the engine", p.Mode)
		}
		if p.Name != "" {
			m.ignore(key+".name", "port names are not supported and are ignored")
		}
		if p.AppProtocol != "" {
			m.ignore(key+".app_protocol", "app_protocol is not supported and is ignored")
		}
		if p.Target == 0 || p.Target > 65535 {
			m.fail(key, "container port %d is not between 1 and 65535", p.Target)
			continue
		}
		host, err := publishedPort(p.Published)
		if err != nil {
			m.fail(key, "%v", err)
			continue
		}
		port := spec.Port{
			HostIP:        p.HostIP,
			HostPort:      host,
			ContainerPort: uint16(p.Target),
			Protocol:      cmp.Or(p.Protocol, "tcp"),
		}
		if err := spec.ValidatePort(port); err != nil {
			m.fail(key, "%v", err)
			continue
		}
		out = append(out, port)
	}
	return out
}

// publishedPort parses compose's published field: empty (the engine picks a
// port), a port, or a range of one port.
func publishedPort(s string) (uint16, error) {
	if s == "" {
		return 0, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	l, err := parsePort(lo)
	if err != nil {
		return 0, err
	}
	if !isRange {
		return l, nil
	}
	h, err := parsePort(hi)
	if err != nil {
		return 0, err
	}
	if h != l {
		return 0, fmt.Errorf("host port range %s for a single container port cannot be expressed; publish one host port", s)
	}
	return l, nil
}

func parsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("host port %q is not a number between 0 and 65535", s)
	}
	return uint16(n), nil
}

// unpublishableExtension marks a short-syntax port entry that maps a single
// host port to a range of container ports ("127.0.0.1:9521:4510-4559").
// compose-go rejects such an entry while parsing, which would fail the whole
// template; castPort turns it into a long-syntax entry carrying this
// extension so that the mapper can leave it out with a warning.
const unpublishableExtension = "x-devarch-unpublishable"

// portItemPath is the compose path of a ports list entry.
var portItemPath = tree.NewPath("services", tree.PathMatchAll, "ports", tree.PathMatchList)

// castPort runs on every string entry of a ports list before compose-go
// parses it. Valid entries, and invalid ones of any other shape (which
// compose-go then rejects with its own error), are returned unchanged.
func castPort(value string) (any, error) {
	if _, err := types.ParsePortConfig(value); err == nil {
		return value, nil
	}
	start, ok := singleHostToRange(value)
	if !ok {
		return value, nil
	}
	return map[string]any{"target": start, unpublishableExtension: value}, nil
}

// singleHostToRange reports whether a short-syntax port maps one host port
// to a container port range, and returns the range's first port.
func singleHostToRange(value string) (int, bool) {
	spec, _, _ := strings.Cut(value, "/")
	i := strings.LastIndex(spec, ":")
	if i < 0 {
		return 0, false
	}
	host, container := spec[:i], spec[i+1:]
	if j := strings.LastIndex(host, ":"); j >= 0 {
		host = host[j+1:]
	}
	lo, hi, isRange := strings.Cut(container, "-")
	if !isRange || strings.Contains(host, "-") {
		return 0, false
	}
	if _, err := parsePort(host); err != nil {
		return 0, false
	}
	start, err := parsePort(lo)
	if err != nil || start == 0 {
		return 0, false
	}
	if _, err := parsePort(hi); err != nil {
		return 0, false
	}
	return int(start), true
}
