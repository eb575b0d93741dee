package spec

import (
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Options are the keys of a compose service that configure the container
// beyond the core fields of ServiceSpec: its identity (hostname), its
// sandbox (read_only, cap_drop, security_opt, sysctls, ulimits), its
// resources (mem_limit, cpus, deploy.resources), its lifecycle
// (stop_signal, stop_grace_period, init) and how it runs (logging, dns,
// extra_hosts, tmpfs, devices...). Every key has the name and meaning it
// has in the compose specification, and apply hands it to compose as
// written, so the container is the one `docker compose up` would create.
//
// The types are the controller's own rather than compose-go's where
// compose-go's would not survive a JSON round trip through the database
// (extra_hosts, ulimits in their single-number form) or would not name a
// field the way a plan must (`ulimits.nofile.soft`,
// `deploy.resources.limits.memory`): see project.Build for the mapping.
//
// A zero field means "not set": the engine's (or the image's) default
// applies. Fields a user can set to their zero value on purpose are
// pointers (init, stop_grace_period).
type Options struct {
	Annotations       map[string]string `json:"annotations,omitempty"`
	BlkioConfig       *BlkioConfig      `json:"blkio_config,omitempty"`
	CapDrop           []string          `json:"cap_drop,omitempty"`
	Cgroup            string            `json:"cgroup,omitempty"`
	CgroupParent      string            `json:"cgroup_parent,omitempty"`
	CPUPeriod         int64             `json:"cpu_period,omitempty"`
	CPUQuota          int64             `json:"cpu_quota,omitempty"`
	CPURTPeriod       int64             `json:"cpu_rt_period,omitempty"`
	CPURTRuntime      int64             `json:"cpu_rt_runtime,omitempty"`
	CPUs              float64           `json:"cpus,omitempty"`
	CPUSet            string            `json:"cpuset,omitempty"`
	CPUShares         int64             `json:"cpu_shares,omitempty"`
	Deploy            *Deploy           `json:"deploy,omitempty"`
	DeviceCgroupRules []string          `json:"device_cgroup_rules,omitempty"`
	Devices           []Device          `json:"devices,omitempty"`
	DNS               []string          `json:"dns,omitempty"`
	DNSOpt            []string          `json:"dns_opt,omitempty"`
	DNSSearch         []string          `json:"dns_search,omitempty"`
	Domainname        string            `json:"domainname,omitempty"`
	Expose            []string          `json:"expose,omitempty"`
	// ExtraHosts are "host=address" entries, sorted.
	ExtraHosts      []string          `json:"extra_hosts,omitempty"`
	GroupAdd        []string          `json:"group_add,omitempty"`
	Hostname        string            `json:"hostname,omitempty"`
	Init            *bool             `json:"init,omitempty"`
	Ipc             string            `json:"ipc,omitempty"`
	Links           []string          `json:"links,omitempty"`
	Logging         *Logging          `json:"logging,omitempty"`
	MacAddress      string            `json:"mac_address,omitempty"`
	MemLimit        Bytes             `json:"mem_limit,omitempty"`
	MemReservation  Bytes             `json:"mem_reservation,omitempty"`
	MemSwapLimit    Bytes             `json:"memswap_limit,omitempty"`
	MemSwappiness   int64             `json:"mem_swappiness,omitempty"`
	NetworkMode     string            `json:"network_mode,omitempty"`
	OomKillDisable  bool              `json:"oom_kill_disable,omitempty"`
	OomScoreAdj     int64             `json:"oom_score_adj,omitempty"`
	Pid             string            `json:"pid,omitempty"`
	PidsLimit       int64             `json:"pids_limit,omitempty"`
	Platform        string            `json:"platform,omitempty"`
	PullPolicy      string            `json:"pull_policy,omitempty"`
	ReadOnly        bool              `json:"read_only,omitempty"`
	Runtime         string            `json:"runtime,omitempty"`
	SecurityOpt     []string          `json:"security_opt,omitempty"`
	ShmSize         Bytes             `json:"shm_size,omitempty"`
	StdinOpen       bool              `json:"stdin_open,omitempty"`
	StopGracePeriod *Duration         `json:"stop_grace_period,omitempty"`
	StopSignal      string            `json:"stop_signal,omitempty"`
	StorageOpt      map[string]string `json:"storage_opt,omitempty"`
	Sysctls         map[string]string `json:"sysctls,omitempty"`
	Tmpfs           []string          `json:"tmpfs,omitempty"`
	Tty             bool              `json:"tty,omitempty"`
	Ulimits         map[string]Ulimit `json:"ulimits,omitempty"`
	UsernsMode      string            `json:"userns_mode,omitempty"`
	Uts             string            `json:"uts,omitempty"`
	VolumesFrom     []string          `json:"volumes_from,omitempty"`
}

// Deploy is the part of compose's deploy section a single engine applies:
// resource limits and reservations.
type Deploy struct {
	Resources Resources `json:"resources"`
}

// Resources are deploy.resources.
type Resources struct {
	Limits       *Resource `json:"limits,omitempty"`
	Reservations *Resource `json:"reservations,omitempty"`
}

// Resource is one of deploy.resources.limits and .reservations.
type Resource struct {
	CPUs   float64 `json:"cpus,omitempty"`
	Memory Bytes   `json:"memory,omitempty"`
	Pids   int64   `json:"pids,omitempty"`
}

// BlkioConfig is blkio_config: the container's block I/O weight and
// per-device weights and throttles, each map keyed by the device's path
// (compose's lists of {path, weight} and {path, rate} entries, one entry
// per device). Rates are bytes per second (device_*_bps) or operations
// per second (device_*_iops).
type BlkioConfig struct {
	Weight          uint16            `json:"weight,omitempty"`
	WeightDevice    map[string]uint16 `json:"weight_device,omitempty"`
	DeviceReadBps   map[string]Bytes  `json:"device_read_bps,omitempty"`
	DeviceReadIOps  map[string]uint64 `json:"device_read_iops,omitempty"`
	DeviceWriteBps  map[string]Bytes  `json:"device_write_bps,omitempty"`
	DeviceWriteIOps map[string]uint64 `json:"device_write_iops,omitempty"`
}

// Device maps a host device into the container.
type Device struct {
	Source      string `json:"source"`
	Target      string `json:"target,omitempty"`
	Permissions string `json:"permissions,omitempty"`
}

func (d Device) String() string {
	s := d.Source
	if d.Target != "" {
		s += ":" + d.Target
	}
	if d.Permissions != "" {
		s += ":" + d.Permissions
	}
	return s
}

// Logging is the container's log driver and its options.
type Logging struct {
	Driver  string            `json:"driver,omitempty"`
	Options map[string]string `json:"options,omitempty"`
}

// Ulimit is one resource limit. Compose's single-number form ("nofile:
// 1024") is read as equal soft and hard limits.
type Ulimit struct {
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
}

// Bytes is a size in bytes. It reads and writes as a number in JSON and
// shows in plans in binary units ("512MiB").
type Bytes int64

func (b Bytes) String() string {
	const units = "KMGTPE"
	if b < 1024 && b > -1024 {
		return strconv.FormatInt(int64(b), 10) + "B"
	}
	v, i := int64(b), -1
	for v%1024 == 0 && (v >= 1024 || v <= -1024) && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i < 0 {
		return strconv.FormatInt(int64(b), 10) + "B"
	}
	return strconv.FormatInt(v, 10) + string(units[i]) + "iB"
}

// OptionField is one leaf of an instance's options: its path as a plan
// names it ("ulimits.nofile.soft", "deploy.resources.limits.memory",
// "sysctls.net.core.somaxconn"), its value as text, and where it comes
// from.
type OptionField struct {
	Path   string `json:"path"`
	Value  string `json:"value"`
	Source Source `json:"source,omitempty"`
	// Secret marks an entry of logging.options or annotations whose name
	// looks like a credential (IsSecretName: "splunk-token"): its value is
	// handled like a secret env value.
	Secret bool `json:"secret,omitempty"`
}

// isSecretOption reports whether an option leaf holds a credential: an
// entry of a map whose entries can (a log driver's token, an annotation
// read by a runtime) named like one.
func isSecretOption(path string) bool {
	for _, prefix := range []string{"logging.options.", "annotations."} {
		if name, ok := strings.CutPrefix(path, prefix); ok {
			return IsSecretName(name)
		}
	}
	return false
}

// OptionKeys returns the compose keys Options covers, sorted.
func OptionKeys() []string {
	keys := slices.Clone(optionKeyList[:])
	slices.Sort(keys)
	return keys
}

type optionField struct {
	index int
	key   string
}

// optionKeyList are the compose keys of Options' fields, in field order
// (TestOptionKeyList checks it against the struct tags).
var optionKeyList = [...]string{
	"annotations", "blkio_config", "cap_drop", "cgroup", "cgroup_parent", "cpu_period", "cpu_quota",
	"cpu_rt_period", "cpu_rt_runtime", "cpus",
	"cpuset", "cpu_shares", "deploy", "device_cgroup_rules", "devices", "dns", "dns_opt",
	"dns_search", "domainname", "expose", "extra_hosts", "group_add", "hostname", "init",
	"ipc", "links", "logging", "mac_address", "mem_limit", "mem_reservation",
	"memswap_limit", "mem_swappiness", "network_mode", "oom_kill_disable", "oom_score_adj", "pid",
	"pids_limit", "platform", "pull_policy", "read_only", "runtime", "security_opt",
	"shm_size", "stdin_open", "stop_grace_period", "stop_signal", "storage_opt", "sysctls",
	"tmpfs", "tty", "ulimits", "userns_mode", "uts", "volumes_from",
}

// optionFields lists the fields of Options with their compose keys.
func optionFields() [len(optionKeyList)]optionField {
	var out [len(optionKeyList)]optionField
	for i, k := range optionKeyList {
		out[i] = optionField{index: i, key: k}
	}
	return out
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// IsZero reports whether no option is set.
func (o Options) IsZero() bool { return reflect.ValueOf(o).IsZero() }

// Canonical returns a copy of o whose sets are sorted and deduplicated
// and whose empty collections are nil. o is not modified. Lists whose
// order means something to the engine (dns, dns_search, dns_opt,
// security_opt) keep the order they were written in.
func (o Options) Canonical() Options {
	v := reflect.ValueOf(&o).Elem()
	for _, f := range optionFields() {
		fv := v.Field(f.index)
		if (fv.Kind() == reflect.Slice || fv.Kind() == reflect.Map) && fv.Len() == 0 && !fv.IsNil() {
			fv.SetZero()
		}
	}
	o.CapDrop = sortedSet(o.CapDrop)
	o.DeviceCgroupRules = sortedSet(o.DeviceCgroupRules)
	o.Expose = sortedSet(o.Expose)
	o.ExtraHosts = sortedSet(o.ExtraHosts)
	o.GroupAdd = sortedSet(o.GroupAdd)
	o.Links = sortedSet(o.Links)
	o.Tmpfs = sortedSet(o.Tmpfs)
	o.VolumesFrom = sortedSet(o.VolumesFrom)
	byTarget := func(a, b Device) int { return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.Source, b.Source)) }
	if !slices.IsSortedFunc(o.Devices, byTarget) || len(slices.Compact(slices.Clone(o.Devices))) != len(o.Devices) {
		o.Devices = slices.Clone(o.Devices)
		slices.SortStableFunc(o.Devices, byTarget)
		o.Devices = slices.Compact(o.Devices)
	}
	if o.Logging != nil && o.Logging.Options != nil && len(o.Logging.Options) == 0 {
		l := *o.Logging
		l.Options = nil
		o.Logging = &l
	}
	if o.Deploy != nil && o.Deploy.Resources.Limits == nil && o.Deploy.Resources.Reservations == nil {
		o.Deploy = nil
	}
	if b := o.BlkioConfig; b != nil {
		c := BlkioConfig{Weight: b.Weight, WeightDevice: nonEmpty(b.WeightDevice), DeviceReadBps: nonEmpty(b.DeviceReadBps),
			DeviceReadIOps: nonEmpty(b.DeviceReadIOps), DeviceWriteBps: nonEmpty(b.DeviceWriteBps), DeviceWriteIOps: nonEmpty(b.DeviceWriteIOps)}
		o.BlkioConfig = &c
		if reflect.ValueOf(c).IsZero() {
			o.BlkioConfig = nil
		}
	}
	return o
}

// nonEmpty returns m, or nil when m is empty.
func nonEmpty[V any](m map[string]V) map[string]V {
	if len(m) == 0 {
		return nil
	}
	return m
}

// sortedSet returns s sorted without duplicates: s itself when it already
// is, else a sorted copy (s is never modified); nil when s is empty.
func sortedSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return slices.Compact(slices.Sorted(slices.Values(s)))
		}
	}
	return s
}

// mergeOptions merges an instance's option overrides into its template's
// options: a key the override sets replaces the template's value whole,
// except for the maps (annotations, sysctls, ulimits, storage_opt), which
// are merged by entry, the override winning. It returns the merged options
// and the path of every value the override set.
func mergeOptions(tmpl, user Options) (Options, map[string]bool) {
	out := tmpl
	fromUser := map[string]bool{}
	ov, tv, uv := reflect.ValueOf(&out).Elem(), reflect.ValueOf(tmpl), reflect.ValueOf(user)
	for _, f := range optionFields() {
		u := uv.Field(f.index)
		if u.IsZero() {
			continue
		}
		if u.Kind() != reflect.Map {
			ov.Field(f.index).Set(u)
			fromUser[f.key] = true
			continue
		}
		m := reflect.MakeMap(u.Type())
		t := tv.Field(f.index)
		for it := t.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), it.Value())
		}
		for it := u.MapRange(); it.Next(); {
			m.SetMapIndex(it.Key(), it.Value())
			fromUser[f.key+"."+it.Key().String()] = true
		}
		ov.Field(f.index).Set(m)
	}
	return out, fromUser
}

// Fields flattens o into its leaves, in path order. Maps and structs are
// walked into; a list is one leaf, its items joined with ", ". Every leaf
// has Source SourceTemplate unless fromUser names it or one of its
// parents.
func (o Options) Fields(fromUser map[string]bool) []OptionField {
	if o.IsZero() {
		return nil
	}
	var out []OptionField
	v := reflect.ValueOf(o)
	for _, f := range optionFields() {
		flatten(f.key, v.Field(f.index), func(path, value string) {
			out = append(out, OptionField{Path: path, Value: value, Source: sourceOf(path, f.key, fromUser), Secret: isSecretOption(path)})
		})
	}
	slices.SortFunc(out, func(a, b OptionField) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

func sourceOf(path, key string, fromUser map[string]bool) Source {
	if fromUser[key] {
		return SourceUser
	}
	for p := path; len(p) > len(key); {
		if fromUser[p] {
			return SourceUser
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return SourceTemplate
}

var stringerType = reflect.TypeFor[fmt.Stringer]()

// flatten calls leaf for every set leaf of v under path.
func flatten(path string, v reflect.Value, leaf func(path, value string)) {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return
		}
		if v.Elem().Kind() != reflect.Struct {
			leaf(path, scalarText(v.Elem()))
			return
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type().Implements(stringerType) {
			if !v.IsZero() {
				leaf(path, scalarText(v))
			}
			return
		}
		for i := range v.NumField() {
			flatten(path+"."+jsonName(v.Type().Field(i)), v.Field(i), leaf)
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return cmp.Compare(a.String(), b.String()) })
		for _, k := range keys {
			flatten(path+"."+k.String(), v.MapIndex(k), leaf)
		}
	case reflect.Slice:
		if v.Len() == 0 {
			return
		}
		items := make([]string, v.Len())
		for i := range v.Len() {
			items[i] = scalarText(v.Index(i))
		}
		leaf(path, strings.Join(items, ", "))
	default:
		if !v.IsZero() {
			leaf(path, scalarText(v))
		}
	}
}

func scalarText(v reflect.Value) string {
	if v.Type().Implements(stringerType) {
		return v.Interface().(fmt.Stringer).String()
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	b, _ := json.Marshal(v.Interface())
	return string(b)
}
