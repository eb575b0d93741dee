package catalog

import (
	"net/netip"
	"path"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// options maps the service keys of spec.Options, checks what the engine
// would refuse only at apply, and reads the parts of deploy a single
// engine applies. restart is the service's restart policy, which
// deploy.restart_policy replaces as it does in compose.
func (m *mapper) options(svc types.ServiceConfig, restart *string) spec.Options {
	o := project.OptionsOf(svc)
	m.deploy(svc.Deploy, restart)
	if svc.Scale != nil && *svc.Scale != 1 {
		m.fail("scale", "scale %d: the controller runs one container per instance; to run more, add instances to the stack", *svc.Scale)
	}
	for _, d := range o.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			m.fail("dns", "%q is not an IP address; dns takes the addresses of name servers", d)
		}
	}
	for _, h := range o.ExtraHosts {
		host, addr, _ := strings.Cut(h, "=")
		if addr != "host-gateway" {
			if _, err := netip.ParseAddr(strings.Trim(addr, "[]")); err != nil {
				m.fail("extra_hosts", "%q: %q is not an IP address or host-gateway; write HOST=ADDRESS", host, addr)
			}
		}
	}
	for _, t := range o.Tmpfs {
		target, _, _ := strings.Cut(t, ":")
		if !path.IsAbs(target) {
			m.fail("tmpfs", "%q: the mount point must be an absolute container path", t)
		}
	}
	for _, d := range o.Devices {
		if !path.IsAbs(d.Source) {
			m.fail("devices", "%q: the device must be an absolute host path such as /dev/fuse", d.Source)
		}
	}
	for name, u := range o.Ulimits {
		if u.Soft > u.Hard {
			m.fail("ulimits."+name, "soft limit %d is above hard limit %d; the engine refuses it", u.Soft, u.Hard)
		}
	}
	for _, name := range sortedKeys(o.Sysctls) {
		if !namespacedSysctl(name) {
			m.ignore("sysctls."+name, "%s is not namespaced, so the engine refuses it for a container; it is left out: set it on the host instead (sysctl -w %s=%s, or a file in /etc/sysctl.d/)",
				name, name, o.Sysctls[name])
			delete(o.Sysctls, name)
		}
	}
	if len(o.Sysctls) == 0 {
		o.Sysctls = nil
	}
	if o.MemSwappiness < 0 || o.MemSwappiness > 100 {
		m.fail("mem_swappiness", "%d is not between 0 and 100", o.MemSwappiness)
	}
	if o.StopGracePeriod != nil && *o.StopGracePeriod < 0 {
		m.fail("stop_grace_period", "%s is negative", o.StopGracePeriod)
	}
	return o
}

// namespacedSysctl reports whether the engine lets a container set the
// sysctl: the network namespace's (net.*), POSIX message queues'
// (fs.mqueue.*) and the IPC namespace's kernel.* keys, as Docker checks.
func namespacedSysctl(name string) bool {
	switch name {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
		"kernel.shmmni", "kernel.shm_rmid_forced", "kernel.domainname":
		return true
	}
	return strings.HasPrefix(name, "net.") || strings.HasPrefix(name, "fs.mqueue.")
}

// deploy reads deploy.restart_policy into restart (compose lets it win
// over restart:) and warns about the keys of deploy that only a swarm
// applies: docker compose ignores them too. deploy.resources is read by
// project.OptionsOf.
func (m *mapper) deploy(d *types.DeployConfig, restart *string) {
	if d == nil {
		return
	}
	if d.Replicas != nil && *d.Replicas != 1 {
		m.fail("deploy.replicas", "replicas %d: the controller runs one container per instance; to run more, add instances to the stack", *d.Replicas)
	}
	if p := d.RestartPolicy; p != nil {
		switch p.Condition {
		case "", "any":
			*restart = "always"
		case "none":
			*restart = "no"
		case "on-failure":
			*restart = "on-failure"
			if p.MaxAttempts != nil && *p.MaxAttempts > 0 {
				*restart += ":" + strconv.FormatUint(*p.MaxAttempts, 10)
			}
		default:
			m.fail("deploy.restart_policy.condition", "condition %q is not one of none, on-failure, any", p.Condition)
		}
		if p.Delay != nil || p.Window != nil {
			m.ignore("deploy.restart_policy", "delay and window apply to swarm services only; docker compose ignores them and so does the controller")
		}
	}
	for _, key := range setKeys(d) {
		switch key {
		case "replicas", "restart_policy", "resources":
		default:
			m.ignore("deploy."+key, "applies to swarm services only; docker compose ignores it and so does the controller")
		}
	}
	for _, r := range []struct {
		name string
		res  *types.Resource
	}{{"limits", d.Resources.Limits}, {"reservations", d.Resources.Reservations}} {
		if r.res == nil {
			continue
		}
		if len(r.res.Devices) > 0 {
			m.fail("deploy.resources."+r.name+".devices", "device requests (GPUs) are not supported by the controller yet; remove them or run the service with docker compose")
		}
		if len(r.res.GenericResources) > 0 {
			m.ignore("deploy.resources."+r.name+".generic_resources", "applies to swarm services only; docker compose ignores it and so does the controller")
		}
	}
}

// optionKeyNote says why a compose service key that spec.Options does not
// cover is not applied, for the keys that have a reason better than "not
// supported yet".
func optionKeyNote(key string) (string, bool) {
	switch key {
	case "cpu_count", "cpu_percent", "credential_spec", "isolation":
		return "applies to Windows containers only and is ignored", true
	case "volume_driver":
		return "is a legacy key; give the volume a driver in the top-level volumes section instead", true
	case "post_start", "pre_stop":
		return "lifecycle hooks are not run by the controller: the container starts and stops without them; run the commands from the image's entrypoint instead", true
	case "use_api_socket":
		return "would hand the container the engine's API socket and registry credentials, which the controller never grants implicitly; mount the socket under volumes if the service really needs it", true
	case "develop":
		return "configures `docker compose watch` and does not change the container; ignored", true
	case "attach":
		return "only chooses whose logs `docker compose up` prints; ignored", true
	case "profiles":
		return "the controller runs every enabled instance of a stack; leave the instance out of the stack, or set enabled: false, instead of a profile", true
	case "models", "provider":
		return "needs Docker Model Runner or a compose provider plugin, which the controller does not run; ignored", true
	}
	return "", false
}
