package project

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/devarch/devarch-controller/spec"
)

// ApplyOptions sets the compose keys of o on svc, as a compose file that
// sets them would: the service compose creates is the one
// `docker compose up` creates from the user's file.
func ApplyOptions(svc *types.ServiceConfig, o spec.Options) {
	if o.IsZero() {
		return
	}
	svc.Annotations = types.Mapping(maps.Clone(o.Annotations))
	svc.CapDrop = clone(o.CapDrop)
	svc.Cgroup = o.Cgroup
	svc.CgroupParent = o.CgroupParent
	svc.CPUPeriod = o.CPUPeriod
	svc.CPUQuota = o.CPUQuota
	svc.CPURTPeriod = o.CPURTPeriod
	svc.CPURTRuntime = o.CPURTRuntime
	svc.BlkioConfig = blkioConfig(o.BlkioConfig)
	svc.CPUS = float32(o.CPUs)
	svc.CPUSet = o.CPUSet
	svc.CPUShares = o.CPUShares
	if o.Deploy != nil {
		svc.Deploy = &types.DeployConfig{Resources: types.Resources{
			Limits:       resource(o.Deploy.Resources.Limits),
			Reservations: resource(o.Deploy.Resources.Reservations),
		}}
	}
	svc.DeviceCgroupRules = clone(o.DeviceCgroupRules)
	for _, d := range o.Devices {
		svc.Devices = append(svc.Devices, types.DeviceMapping{Source: d.Source, Target: d.Target, Permissions: d.Permissions})
	}
	svc.DNS = types.StringList(clone(o.DNS))
	svc.DNSOpts = clone(o.DNSOpt)
	svc.DNSSearch = types.StringList(clone(o.DNSSearch))
	svc.DomainName = o.Domainname
	svc.Expose = types.StringOrNumberList(clone(o.Expose))
	if len(o.ExtraHosts) > 0 {
		svc.ExtraHosts = types.HostsList{}
		for _, h := range o.ExtraHosts {
			host, addr, _ := strings.Cut(h, "=")
			svc.ExtraHosts[host] = append(svc.ExtraHosts[host], addr)
		}
	}
	svc.GroupAdd = clone(o.GroupAdd)
	svc.Hostname = o.Hostname
	if o.Init != nil {
		v := *o.Init
		svc.Init = &v
	}
	svc.Ipc = o.Ipc
	svc.Links = clone(o.Links)
	if o.Logging != nil {
		svc.Logging = &types.LoggingConfig{Driver: o.Logging.Driver, Options: types.Options(maps.Clone(o.Logging.Options))}
	}
	svc.MacAddress = o.MacAddress
	svc.MemLimit = types.UnitBytes(o.MemLimit)
	svc.MemReservation = types.UnitBytes(o.MemReservation)
	svc.MemSwapLimit = types.UnitBytes(o.MemSwapLimit)
	svc.MemSwappiness = types.UnitBytes(o.MemSwappiness)
	svc.NetworkMode = o.NetworkMode
	svc.OomKillDisable = o.OomKillDisable
	svc.OomScoreAdj = o.OomScoreAdj
	svc.Pid = o.Pid
	svc.PidsLimit = o.PidsLimit
	svc.Platform = o.Platform
	svc.PullPolicy = o.PullPolicy
	svc.ReadOnly = o.ReadOnly
	svc.Runtime = o.Runtime
	svc.SecurityOpt = clone(o.SecurityOpt)
	svc.ShmSize = types.UnitBytes(o.ShmSize)
	svc.StdinOpen = o.StdinOpen
	if o.StopGracePeriod != nil {
		d := types.Duration(*o.StopGracePeriod)
		svc.StopGracePeriod = &d
	}
	svc.StopSignal = o.StopSignal
	svc.StorageOpt = maps.Clone(o.StorageOpt)
	svc.Sysctls = types.Mapping(maps.Clone(o.Sysctls))
	svc.Tmpfs = types.StringList(clone(o.Tmpfs))
	svc.Tty = o.Tty
	if len(o.Ulimits) > 0 {
		svc.Ulimits = make(map[string]*types.UlimitsConfig, len(o.Ulimits))
		for name, u := range o.Ulimits {
			svc.Ulimits[name] = &types.UlimitsConfig{Soft: int(u.Soft), Hard: int(u.Hard)}
		}
	}
	svc.UserNSMode = o.UsernsMode
	svc.Uts = o.Uts
	svc.VolumesFrom = clone(o.VolumesFrom)
}

func resource(r *spec.Resource) *types.Resource {
	if r == nil {
		return nil
	}
	return &types.Resource{NanoCPUs: types.NanoCPUs(r.CPUs), MemoryBytes: types.UnitBytes(r.Memory), Pids: r.Pids}
}

// OptionsOf reads the keys of a compose service that spec.Options covers.
// Forms compose accepts for one meaning are normalised: a ulimit's single
// number becomes equal soft and hard limits, extra_hosts become sorted
// "host=address" entries, and deploy keeps only its resources (see
// catalog for the keys of deploy a single engine does not apply).
func OptionsOf(svc types.ServiceConfig) spec.Options {
	o := spec.Options{
		Annotations:       maps.Clone(map[string]string(svc.Annotations)),
		CapDrop:           clone(svc.CapDrop),
		Cgroup:            svc.Cgroup,
		CgroupParent:      svc.CgroupParent,
		CPUPeriod:         svc.CPUPeriod,
		CPUQuota:          svc.CPUQuota,
		CPURTPeriod:       svc.CPURTPeriod,
		CPURTRuntime:      svc.CPURTRuntime,
		BlkioConfig:       specBlkioConfig(svc.BlkioConfig),
		CPUs:              float32To64(svc.CPUS),
		CPUSet:            svc.CPUSet,
		CPUShares:         svc.CPUShares,
		DeviceCgroupRules: clone(svc.DeviceCgroupRules),
		DNS:               clone([]string(svc.DNS)),
		DNSOpt:            clone(svc.DNSOpts),
		DNSSearch:         clone([]string(svc.DNSSearch)),
		Domainname:        svc.DomainName,
		Expose:            clone([]string(svc.Expose)),
		GroupAdd:          clone(svc.GroupAdd),
		Hostname:          svc.Hostname,
		Ipc:               svc.Ipc,
		Links:             clone(svc.Links),
		MacAddress:        svc.MacAddress,
		MemLimit:          spec.Bytes(svc.MemLimit),
		MemReservation:    spec.Bytes(svc.MemReservation),
		MemSwapLimit:      spec.Bytes(svc.MemSwapLimit),
		MemSwappiness:     int64(svc.MemSwappiness),
		NetworkMode:       svc.NetworkMode,
		OomKillDisable:    svc.OomKillDisable,
		OomScoreAdj:       svc.OomScoreAdj,
		Pid:               svc.Pid,
		PidsLimit:         svc.PidsLimit,
		Platform:          svc.Platform,
		PullPolicy:        svc.PullPolicy,
		ReadOnly:          svc.ReadOnly,
		Runtime:           svc.Runtime,
		SecurityOpt:       clone(svc.SecurityOpt),
		ShmSize:           spec.Bytes(svc.ShmSize),
		StdinOpen:         svc.StdinOpen,
		StopSignal:        svc.StopSignal,
		StorageOpt:        maps.Clone(svc.StorageOpt),
		Sysctls:           maps.Clone(map[string]string(svc.Sysctls)),
		Tmpfs:             clone([]string(svc.Tmpfs)),
		Tty:               svc.Tty,
		UsernsMode:        svc.UserNSMode,
		Uts:               svc.Uts,
		VolumesFrom:       clone(svc.VolumesFrom),
	}
	if svc.Deploy != nil {
		r := svc.Deploy.Resources
		if r.Limits != nil || r.Reservations != nil {
			o.Deploy = &spec.Deploy{Resources: spec.Resources{Limits: specResource(r.Limits), Reservations: specResource(r.Reservations)}}
		}
	}
	for _, d := range svc.Devices {
		o.Devices = append(o.Devices, spec.Device{Source: d.Source, Target: d.Target, Permissions: d.Permissions})
	}
	for host, addrs := range svc.ExtraHosts {
		for _, a := range addrs {
			o.ExtraHosts = append(o.ExtraHosts, host+"="+a)
		}
	}
	if svc.Init != nil {
		v := *svc.Init
		o.Init = &v
	}
	if svc.Logging != nil {
		o.Logging = &spec.Logging{Driver: svc.Logging.Driver, Options: maps.Clone(map[string]string(svc.Logging.Options))}
	}
	if svc.StopGracePeriod != nil {
		d := spec.Duration(*svc.StopGracePeriod)
		o.StopGracePeriod = &d
	}
	for name, u := range svc.Ulimits {
		if u == nil {
			continue
		}
		if o.Ulimits == nil {
			o.Ulimits = map[string]spec.Ulimit{}
		}
		l := spec.Ulimit{Soft: int64(u.Soft), Hard: int64(u.Hard)}
		if u.Single != 0 {
			l = spec.Ulimit{Soft: int64(u.Single), Hard: int64(u.Single)}
		}
		o.Ulimits[name] = l
	}
	return o.Canonical()
}

func specResource(r *types.Resource) *spec.Resource {
	if r == nil || (r.NanoCPUs == 0 && r.MemoryBytes == 0 && r.Pids == 0) {
		return nil
	}
	return &spec.Resource{CPUs: float32To64(float32(r.NanoCPUs)), Memory: spec.Bytes(r.MemoryBytes), Pids: r.Pids}
}

// float32To64 widens a compose CPU count without float32 noise: 0.1
// stays 0.1, not 0.10000000149011612.
func float32To64(f float32) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return v
}

func clone[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}

// References returns the instances whose containers a service shares
// something with, by option key: volumes_from entries naming an instance,
// and ipc, pid or network_mode set to "service:NAME". Compose replaces these references
// by the containers' ids before it creates the container and before it
// hashes the service (see ResolveReferences), so the service's config
// hash depends on those containers.
func References(o spec.Options) map[string][]string {
	var refs map[string][]string // made for the first reference: most services have none
	for _, v := range o.VolumesFrom {
		if name := spec.ServiceRef(v); name != "" {
			refs = addReference(refs, "volumes_from", name)
		}
	}
	for _, m := range [...]struct{ key, mode string }{{"ipc", o.Ipc}, {"pid", o.Pid}, {"network_mode", o.NetworkMode}} {
		if name, ok := strings.CutPrefix(m.mode, types.NetworkModeServicePrefix); ok {
			refs = addReference(refs, m.key, name)
		}
	}
	return refs
}

func addReference(refs map[string][]string, key, name string) map[string][]string {
	if refs == nil {
		refs = map[string][]string{}
	}
	refs[key] = append(refs[key], name)
	return refs
}

// ResolveReferences rewrites svc's references to other services as compose
// does before it hashes the service (compose's resolveServiceReferences):
// a volumes_from entry "NAME[:MODE]" becomes the id of NAME's container
// (the mode is dropped, as compose drops it), "container:X" becomes X,
// and ipc, pid or network_mode "service:NAME" becomes "container:ID". ids maps instance
// names to their containers' ids. It reports false when a referenced
// container is missing: compose then hashes the unresolved service,
// which matches no container, so the container is recreated.
func ResolveReferences(svc *types.ServiceConfig, ids map[string]string) bool {
	ok := true
	from := clone(svc.VolumesFrom)
	for i, v := range from {
		parts := strings.Split(v, ":")
		if parts[0] == "container" && len(parts) > 1 {
			from[i] = parts[1]
			continue
		}
		id, found := ids[parts[0]]
		if !found {
			ok = false
			continue
		}
		from[i] = id
	}
	for _, mode := range []*string{&svc.Ipc, &svc.Pid, &svc.NetworkMode} {
		if name, isRef := strings.CutPrefix(*mode, types.NetworkModeServicePrefix); isRef {
			id, found := ids[name]
			if !found {
				ok = false
				continue
			}
			*mode = types.ContainerPrefix + id
		}
	}
	if !ok {
		return false
	}
	svc.VolumesFrom = from
	return true
}

// blkioConfig is compose's blkio_config of b: one list entry per device,
// sorted by path.
func blkioConfig(b *spec.BlkioConfig) *types.BlkioConfig {
	if b == nil {
		return nil
	}
	out := &types.BlkioConfig{Weight: b.Weight}
	for _, path := range slices.Sorted(maps.Keys(b.WeightDevice)) {
		out.WeightDevice = append(out.WeightDevice, types.WeightDevice{Path: path, Weight: b.WeightDevice[path]})
	}
	throttle := func(m map[string]uint64) []types.ThrottleDevice {
		var list []types.ThrottleDevice
		for _, path := range slices.Sorted(maps.Keys(m)) {
			list = append(list, types.ThrottleDevice{Path: path, Rate: types.UnitBytes(m[path])})
		}
		return list
	}
	out.DeviceReadBps = throttle(bytesMap(b.DeviceReadBps))
	out.DeviceWriteBps = throttle(bytesMap(b.DeviceWriteBps))
	out.DeviceReadIOps = throttle(b.DeviceReadIOps)
	out.DeviceWriteIOps = throttle(b.DeviceWriteIOps)
	return out
}

func bytesMap(m map[string]spec.Bytes) map[string]uint64 {
	if m == nil {
		return nil
	}
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = uint64(v)
	}
	return out
}

// specBlkioConfig reads compose's blkio_config; a device listed twice keeps
// its last entry, as the engine does.
func specBlkioConfig(b *types.BlkioConfig) *spec.BlkioConfig {
	if b == nil {
		return nil
	}
	out := &spec.BlkioConfig{Weight: b.Weight}
	for _, d := range b.WeightDevice {
		if out.WeightDevice == nil {
			out.WeightDevice = map[string]uint16{}
		}
		out.WeightDevice[d.Path] = d.Weight
	}
	rates := func(list []types.ThrottleDevice) map[string]uint64 {
		if len(list) == 0 {
			return nil
		}
		m := make(map[string]uint64, len(list))
		for _, d := range list {
			m[d.Path] = uint64(d.Rate)
		}
		return m
	}
	if m := rates(b.DeviceReadBps); m != nil {
		out.DeviceReadBps = map[string]spec.Bytes{}
		for k, v := range m {
			out.DeviceReadBps[k] = spec.Bytes(v)
		}
	}
	if m := rates(b.DeviceWriteBps); m != nil {
		out.DeviceWriteBps = map[string]spec.Bytes{}
		for k, v := range m {
			out.DeviceWriteBps[k] = spec.Bytes(v)
		}
	}
	out.DeviceReadIOps = rates(b.DeviceReadIOps)
	out.DeviceWriteIOps = rates(b.DeviceWriteIOps)
	return out
}
