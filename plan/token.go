package plan

import (
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"

	"github.com/devarch/devarch-controller/project"
	"github.com/devarch/devarch-controller/spec"
)

// tokenVersion changes whenever the token document changes shape, so
// tokens from older controllers never match by accident.
const tokenVersion = 2

// tokenPurpose separates the token from the installation key's other
// digests.
const tokenPurpose = "devarch staleness token"

// tokenDoc is what the staleness token covers: the stack's whole desired
// state and the installation settings apply builds it with. Timestamps are
// deliberately absent (a token depends on content, not on when or where it
// was computed); ids are present, so deleting and recreating an instance
// under the same name changes the token.
type tokenDoc struct {
	Version int `json:"v"`
	// KeyID is the installation key the token is made with (the HMAC key
	// is its secret); the record digests apply writes use it too.
	KeyID int64 `json:"key_id"`
	// StateDir and WorkspaceDir are the host paths config files and
	// relative bind mounts resolve under: part of every container's spec.
	StateDir     string          `json:"state_dir"`
	WorkspaceDir string          `json:"workspace_dir"`
	ID           int64           `json:"id"`
	Name         string          `json:"name"`
	Network      string          `json:"network"`
	Enabled      bool            `json:"enabled"`
	Engine       string          `json:"engine,omitempty"`
	Wires        []spec.Wire     `json:"wires"`
	Instances    []tokenInstance `json:"instances"`
	// Builds are the digests of the instances' build contexts, read when
	// the plan was made: editing a source file makes approvals stale.
	Builds map[int64]project.BuildContext `json:"builds,omitempty"`
	// Deleting and RemoveVolumes: deleting a stack, or asking for its
	// volumes to be removed, makes its approvals stale.
	Deleting      bool `json:"deleting,omitempty"`
	RemoveVolumes bool `json:"remove_volumes,omitempty"`
	// Subnet: the controller-managed subnet of the stack's network; a
	// new allocation makes approvals of the old one stale.
	Subnet string `json:"subnet,omitempty"`
}

type tokenInstance struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Enabled    bool   `json:"enabled"`
	TemplateID int64  `json:"template_id"`
	Template   string `json:"template"`
	Category   string `json:"category"`
	// Base is the template's spec (canonical), encoded once per template.
	Base      json.RawMessage `json:"base"`
	Overrides spec.Overrides  `json:"overrides"`
}

// Token is the staleness token of a stack: an HMAC-SHA256, under the
// installation's current key (d.Paths.Keys.Current), over its complete
// effective desired state (stack row, every instance's id, enabled flag,
// template content and overrides, including config file contents and
// secret values) and the installation's host paths. Same installation and
// state, same token, in any process and time zone, whatever the order of
// maps and lists; any edit that could change what apply does changes it,
// and so does a key rotation. The token is published (API, CLI, approval
// and status rows); being keyed, it does not let anyone who reads it test a
// guessed secret offline.
//
// A stack read from the store carries content digests that PostgreSQL
// keeps for each row (spec.Stack.ContentDigest and those of its instances
// and templates); the token is then a MAC over those digests, the ids,
// names and flags, without re-encoding any spec. Otherwise (a stack built
// in memory) it is a MAC over the encoded content.
func Token(d Desired) string {
	if hasDigests(d.Stack) {
		return tokenFromDigests(d)
	}
	s, paths := d.Stack, d.Paths
	doc := tokenDoc{
		Version: tokenVersion, KeyID: paths.Keys.Current.ID, StateDir: paths.StateDir, WorkspaceDir: paths.WorkspaceDir,
		ID: s.ID, Name: s.Name, Network: s.Network(), Enabled: s.Enabled, Engine: s.Engine,
		Wires: slices.Clone(s.Wires), Instances: make([]tokenInstance, 0, len(s.Instances)),
		Builds: paths.Builds, Deleting: s.Deleting, RemoveVolumes: s.Deleting && s.RemoveVolumes,
		Subnet: s.Subnet,
	}
	slices.SortFunc(doc.Wires, func(a, b spec.Wire) int {
		return cmp.Or(cmp.Compare(a.ConsumerInstance, b.ConsumerInstance), cmp.Compare(a.ProviderInstance, b.ProviderInstance),
			cmp.Compare(a.ImportContract, b.ImportContract), cmp.Compare(a.ExportContract, b.ExportContract), cmp.Compare(a.Source, b.Source))
	})
	bases := map[*spec.Template]json.RawMessage{}
	for _, inst := range s.Instances {
		ti := tokenInstance{ID: inst.ID, Name: inst.Name, Enabled: inst.Enabled, Overrides: inst.Overrides, Base: json.RawMessage("null")}
		ti.Overrides.ServiceSpec = canonical(inst.Overrides.ServiceSpec)
		ti.Overrides.Domains = slices.Clone(inst.Overrides.Domains)
		slices.SortFunc(ti.Overrides.Domains, func(a, b spec.Domain) int {
			return cmp.Or(cmp.Compare(a.Domain, b.Domain), cmp.Compare(a.ProxyPort, b.ProxyPort))
		})
		ti.Overrides.EnvFiles = sortedCopy(inst.Overrides.EnvFiles)
		if t := inst.Template; t != nil {
			base, ok := bases[t]
			if !ok {
				base = mustMarshal(canonical(t.Spec))
				bases[t] = base
			}
			ti.TemplateID, ti.Template, ti.Category, ti.Base = t.ID, t.Name, t.Category, base
		}
		doc.Instances = append(doc.Instances, ti)
	}
	slices.SortFunc(doc.Instances, func(a, b tokenInstance) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Name, b.Name))
	})
	return hex.EncodeToString(paths.Keys.Current.MAC(tokenPurpose, mustMarshal(doc)))
}

// digestTokenVersion marks a token made from content digests: it never
// equals one made from encoded content.
const digestTokenVersion = "v3-digests"

// hasDigests reports whether the stack, each instance and each template
// carries the store's content digest.
func hasDigests(s spec.Stack) bool {
	if len(s.ContentDigest) == 0 {
		return false
	}
	for _, inst := range s.Instances {
		if len(inst.ContentDigest) == 0 || (inst.Template != nil && len(inst.Template.ContentDigest) == 0) {
			return false
		}
	}
	return true
}

// tokenFromDigests is Token of a stack read from the store: a MAC over the
// same items as the token document, with each instance's overrides, its
// template's content and the stack's wires and variables replaced by the
// digests PostgreSQL computed from the stored rows. A template's resolved
// spec depends only on its content and the stack's variables, so the
// digests cover everything the document does. Every item is written
// length-prefixed (partWriter), so no two different sequences of items
// give the same input (a part longer than 4 GiB cannot occur: the store's
// rows are far smaller).
func tokenFromDigests(d Desired) string {
	s, paths := d.Stack, d.Paths
	insts := make([]*spec.Instance, len(s.Instances))
	for i := range s.Instances {
		insts[i] = &s.Instances[i]
	}
	slices.SortFunc(insts, func(a, b *spec.Instance) int {
		return cmp.Or(cmp.Compare(a.ID, b.ID), cmp.Compare(a.Name, b.Name))
	})
	var w partWriter
	w.buf = make([]byte, 0, 512+160*len(insts))
	w.str(digestTokenVersion).num(paths.Keys.Current.ID).str(paths.StateDir).str(paths.WorkspaceDir)
	w.num(s.ID).str(s.Name).str(s.Network()).flag(s.Enabled).bytes(s.ContentDigest)
	w.flag(s.Deleting).flag(s.Deleting && s.RemoveVolumes).num(int64(len(insts)))
	for _, inst := range insts {
		w.num(inst.ID).str(inst.Name).flag(inst.Enabled).bytes(inst.ContentDigest)
		if t := inst.Template; t != nil {
			w.flag(true).num(t.ID).str(t.Name).str(t.Category).bytes(t.ContentDigest)
		} else {
			w.flag(false)
		}
	}
	w.num(int64(len(paths.Builds)))
	for _, id := range slices.Sorted(maps.Keys(paths.Builds)) {
		b := paths.Builds[id]
		w.num(id).str(b.Digest).str(b.Err)
	}
	if s.Engine != "" {
		// A stack moved to another engine: approvals of the old one are
		// stale. Stacks on the default engine keep their tokens.
		w.str(s.Engine)
	}
	if s.Subnet != "" {
		// A managed subnet (no engine name holds a '/'); stacks
		// without one keep their tokens.
		w.str("subnet/").str(s.Subnet)
	}
	return hex.EncodeToString(paths.Keys.Current.MAC(tokenPurpose, w.buf))
}

// partWriter appends length-prefixed parts to one buffer, so that no two
// different sequences of parts give the same bytes.
type partWriter struct{ buf []byte }

func (w *partWriter) bytes(b []byte) *partWriter {
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(len(b)))
	w.buf = append(w.buf, b...)
	return w
}

func (w *partWriter) str(s string) *partWriter {
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(len(s)))
	w.buf = append(w.buf, s...)
	return w
}

func (w *partWriter) num(n int64) *partWriter {
	w.buf = binary.BigEndian.AppendUint32(w.buf, 8)
	w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(n))
	return w
}

func (w *partWriter) flag(b bool) *partWriter {
	w.buf = binary.BigEndian.AppendUint32(w.buf, 1)
	if b {
		w.buf = append(w.buf, 1)
	} else {
		w.buf = append(w.buf, 0)
	}
	return w
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// The document holds only strings, numbers, bools, slices and
		// maps of them.
		panic("plan: encode token document: " + err.Error())
	}
	return b
}

// canonical returns a copy of a service spec with its sets (env, labels,
// ports, volumes, dependencies, config files) in a fixed order and
// provenance cleared, so that reordering them does not change the token.
// The effective spec is not hashed: it is derived from the template and the
// overrides by spec.Merge.
func canonical(in spec.ServiceSpec) spec.ServiceSpec {
	out := in
	out.Env = slices.Clone(in.Env)
	for i := range out.Env {
		out.Env[i].Source = ""
	}
	slices.SortStableFunc(out.Env, func(a, b spec.EnvVar) int { return cmp.Compare(a.Key, b.Key) })
	out.Labels = slices.Clone(in.Labels)
	for i := range out.Labels {
		out.Labels[i].Source = ""
	}
	slices.SortStableFunc(out.Labels, func(a, b spec.Label) int { return cmp.Compare(a.Key, b.Key) })
	out.Ports = slices.Clone(in.Ports)
	slices.SortStableFunc(out.Ports, spec.ComparePorts)
	out.Volumes = slices.Clone(in.Volumes)
	slices.SortStableFunc(out.Volumes, func(a, b spec.Volume) int { return cmp.Compare(a.Target, b.Target) })
	out.DependsOn = slices.Clone(in.DependsOn)
	slices.SortStableFunc(out.DependsOn, func(a, b spec.Dependency) int { return cmp.Compare(a.Name, b.Name) })
	out.ConfigFiles = slices.Clone(in.ConfigFiles)
	for i := range out.ConfigFiles {
		out.ConfigFiles[i].Source = ""
	}
	slices.SortStableFunc(out.ConfigFiles, func(a, b spec.ConfigFile) int { return cmp.Compare(a.Path, b.Path) })
	if !in.Options.IsZero() {
		out.Options = in.Options.Canonical()
	}
	return out
}

func sortedCopy(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}
