package spec

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// MinScrubLength is the length below which a secret value is not scrubbed
// from text: shorter values turn up by chance in ordinary text (ports, ids,
// words), so hiding them would mangle messages without hiding anything.
// Stack imports warn about such secrets (see Stack.WeakSecretWarnings).
const MinScrubLength = 4

// ControllerName is the program's name, which appears in the paths it
// uses (its default state directory) and in its messages.
const ControllerName = "devarch-controller"

// Scrubber hides a stack's secret values in text the controller did not
// write itself — engine and compose errors, compose's output, values a user
// wrote (a DSN, a command line, a config file) — and leaves alone the names
// the controller generates for the stack (see Stack.Identifiers).
//
// An occurrence of a secret is kept only when it lies strictly inside an
// occurrence of a longer name, and that name stands whole and delimited in
// the text: the characters on both sides of it are not name characters
// (letters, digits, '-', '_', or any non-ASCII byte) and no part of it is
// hidden for another secret. Every other occurrence is replaced by
// RedactedValue; overlapping and adjacent occurrences become one. So:
//
//   - `network "devarch-shop-net"` stays as it is when a secret is
//     "devarch" (the name holds the secret, but it is the name);
//   - `POSTGRES_PASSWORD=devarch` becomes `POSTGRES_PASSWORD=(sensitive)`,
//     even when the stack is named "devarch": a secret equal to a name is a
//     value wherever it stands alone, so the name is hidden there too;
//   - a secret that holds a name, or overlaps one, is hidden whole.
//
// The zero Scrubber hides nothing. A Scrubber is immutable and safe for
// concurrent use.
type Scrubber struct {
	secrets []string
	// idents are the names that hold a secret strictly: the only ones
	// that can protect an occurrence.
	idents []string
	// marker replaces hidden text; RedactedValue when empty (tests set
	// another to check the output).
	marker string
	// shortest is the length of the shortest secret: shorter text holds
	// none, and most values a record is made of are short.
	shortest int
}

// NewScrubber returns a Scrubber that hides secrets (values shorter than
// MinScrubLength are ignored) except strictly inside the given names.
func NewScrubber(secrets, identifiers []string) Scrubber {
	var sc Scrubber
	for _, s := range secrets {
		if len(s) >= MinScrubLength && !slices.Contains(sc.secrets, s) {
			sc.secrets = append(sc.secrets, s)
			if sc.shortest == 0 || len(s) < sc.shortest {
				sc.shortest = len(s)
			}
		}
	}
	for _, id := range identifiers {
		if sc.holdsSecret(id) && !slices.Contains(sc.idents, id) {
			sc.idents = append(sc.idents, id)
		}
	}
	return sc
}

// holdsSecret reports whether id holds one of the secrets strictly (is
// longer and contains it).
func (sc Scrubber) holdsSecret(id string) bool {
	for _, s := range sc.secrets {
		if len(id) > len(s) && strings.Contains(id, s) {
			return true
		}
	}
	return false
}

// Scrubber returns the Scrubber of the stack: its secret values
// (SecretValues) and its names (Identifiers).
func (s Stack) Scrubber() Scrubber {
	secrets := s.SecretValues()
	if len(secrets) == 0 {
		return Scrubber{}
	}
	return NewScrubber(secrets, s.Identifiers())
}

// Identifiers returns the names the controller generates or uses for the
// stack and its parts: the stack's and instances' names and ids, template
// names, the compose project, container, network and named volume names,
// the controller's label keys and its own name. They appear in the
// controller's messages, in engine errors and in compose's output, and are
// never secret: anyone who can list the engine's containers sees them.
func (s Stack) Identifiers() []string {
	project := ProjectName(s.Name)
	out := make([]string, 0, 14+4*len(s.Instances))
	out = append(out, s.Name, project, s.Network(), ControllerName, LabelManagedBy+"="+ManagedByValue,
		LabelManagedBy, LabelStackID, LabelStack, LabelInstanceID, LabelInstance, LabelTemplate, LabelConfigDigest, LabelSpec)
	if s.ID != 0 {
		out = append(out, strconv.FormatInt(s.ID, 10))
	}
	for i := range s.Instances {
		inst := &s.Instances[i] // not a copy: an instance is kilobytes
		out = append(out, inst.Name, ContainerName(s.Name, inst.Name))
		if inst.ID != 0 {
			out = append(out, strconv.FormatInt(inst.ID, 10))
		}
		if t := inst.TemplateName(); t != "" {
			out = append(out, t)
		}
		for _, v := range inst.Effective.Volumes.Value {
			if v.Type == VolumeTypeVolume && v.Source != "" {
				out = append(out, project+"_"+v.Source)
			}
		}
		for key, def := range inst.Effective.NetworkDefinitions {
			out = append(out, s.NetworkNameOf(key, def))
		}
	}
	return out
}

// span is the half-open byte range [start, end) of a text.
type span struct{ start, end int }

func (a span) overlaps(b span) bool { return a.start < b.end && b.start < a.end }

// strictlyInside reports whether a lies within b and is shorter.
func (a span) strictlyInside(b span) bool {
	return b.start <= a.start && a.end <= b.end && a.end-a.start < b.end-b.start
}

// Scrub returns text with every secret hidden, except inside the names it
// protects (see Scrubber).
func (sc Scrubber) Scrub(text string) string {
	if len(sc.secrets) == 0 || len(text) < sc.shortest {
		return text
	}
	var found []span
	for _, s := range sc.secrets {
		found = append(found, occurrences(text, s, false)...)
	}
	if len(found) == 0 {
		return text
	}
	var names []span
	for _, id := range sc.idents {
		names = append(names, occurrences(text, id, true)...)
	}
	hidden := hide(found, names)
	if len(hidden) == 0 {
		return text
	}
	marker := cmp.Or(sc.marker, RedactedValue)
	var b strings.Builder
	last := 0
	for _, h := range hidden {
		b.WriteString(text[last:h.start])
		b.WriteString(marker)
		last = h.end
	}
	b.WriteString(text[last:])
	return b.String()
}

// hide returns the spans of found (secret occurrences) to hide, merged and
// in order: those not strictly inside a name of names. A name that overlaps
// hidden text no longer stands whole, so it protects nothing; hiding goes
// on until no name is lost.
func hide(found, names []span) []span {
	alive := make([]bool, len(names))
	for i := range alive {
		alive[i] = true
	}
	for {
		var hidden []span
		for _, f := range found {
			protected := false
			for i, n := range names {
				if alive[i] && f.strictlyInside(n) {
					protected = true
					break
				}
			}
			if !protected {
				hidden = append(hidden, f)
			}
		}
		lost := false
		for i, n := range names {
			if alive[i] && slices.ContainsFunc(hidden, n.overlaps) {
				alive[i], lost = false, true
			}
		}
		if !lost {
			return merge(hidden)
		}
	}
}

// merge sorts spans and joins those that overlap or touch.
func merge(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return cmp.Or(a.start-b.start, a.end-b.end) })
	var out []span
	for _, s := range spans {
		if n := len(out); n > 0 && s.start <= out[n-1].end {
			out[n-1].end = max(out[n-1].end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
}

// occurrences returns every occurrence of sub in text, overlapping ones
// included; with delimited, only those not preceded or followed by a name
// character.
func occurrences(text, sub string, delimited bool) []span {
	if sub == "" {
		return nil
	}
	var out []span
	for i := 0; i < len(text); {
		j := strings.Index(text[i:], sub)
		if j < 0 {
			break
		}
		start := i + j
		end := start + len(sub)
		if !delimited || ((start == 0 || !isNameByte(text[start-1])) && (end == len(text) || !isNameByte(text[end]))) {
			out = append(out, span{start, end})
		}
		i = start + 1
	}
	return out
}

// isNameByte reports whether b can continue a name: a name next to one of
// these is part of a longer word, not the name. Non-ASCII bytes count, so
// that a name glued to a letter such as 'é' is not taken for the name.
func isNameByte(b byte) bool {
	return b >= 0x80 || b == '-' || b == '_' || ('0' <= b && b <= '9') || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z')
}
