package main

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/distribution/reference"
)

// dockerfileRefs are what a Dockerfile needs from other images: the
// images its stages start FROM and the images COPY --from copies out of
// (normalized, with ARG defaults substituted), and the paths it copies
// out of them.
type dockerfileRefs struct {
	images []string
	files  []string
	skips  []string
}

// argRef is a $NAME or ${NAME} (with an optional :-default or -default).
var argRef = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// parseDockerfile reads the instructions of a Dockerfile that name other
// images. It understands line continuations, comments, global and stage
// ARG defaults, FROM [--platform=...] IMAGE [AS NAME] and
// COPY --from=IMAGE SRC... DEST; a reference it cannot resolve (a
// variable without a default) is reported in skips.
func parseDockerfile(data string) dockerfileRefs {
	var out dockerfileRefs
	args := map[string]string{}
	stages := map[string]bool{}
	seen := map[string]bool{}
	add := func(list *[]string, v string) {
		if !seen[v] {
			seen[v] = true
			*list = append(*list, v)
		}
	}
	expand := func(s string) (string, bool) {
		ok := true
		s = argRef.ReplaceAllStringFunc(s, func(m string) string {
			g := argRef.FindStringSubmatch(m)
			name := g[1] + g[3]
			if v, set := args[name]; set {
				return v
			}
			if g[1] != "" && strings.Contains(m, "-") {
				return g[2]
			}
			ok = false
			return m
		})
		return s, ok
	}
	image := func(ref string) {
		r, ok := expand(ref)
		if !ok {
			out.skips = append(out.skips, fmt.Sprintf("image %q uses a build argument without a default", ref))
			return
		}
		if strings.EqualFold(r, "scratch") || stages[strings.ToLower(r)] {
			return
		}
		named, err := reference.ParseNormalizedNamed(r)
		if err != nil {
			out.skips = append(out.skips, fmt.Sprintf("image %q is not a valid reference: %v", r, err))
			return
		}
		add(&out.images, reference.FamiliarString(reference.TagNameOnly(named)))
	}
	for _, line := range instructions(data) {
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		switch strings.ToUpper(words[0]) {
		case "ARG":
			for _, w := range words[1:] {
				name, def, hasDef := strings.Cut(w, "=")
				if hasDef {
					v, _ := expand(strings.Trim(def, `"'`))
					args[name] = v
				}
			}
		case "FROM":
			rest := words[1:]
			for len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
				rest = rest[1:]
			}
			if len(rest) == 0 {
				continue
			}
			image(rest[0])
			if len(rest) >= 3 && strings.EqualFold(rest[1], "AS") {
				stages[strings.ToLower(rest[2])] = true
			}
		case "COPY":
			var from string
			rest := words[1:]
			for len(rest) > 0 && strings.HasPrefix(rest[0], "--") {
				if v, ok := strings.CutPrefix(rest[0], "--from="); ok {
					from = v
				}
				rest = rest[1:]
			}
			if from == "" || len(rest) < 2 {
				continue
			}
			if r, ok := expand(from); ok && stages[strings.ToLower(r)] {
				continue
			}
			image(from)
			for _, src := range rest[:len(rest)-1] {
				if s, ok := expand(src); ok && path.IsAbs(s) && !strings.ContainsAny(s, "*?[") {
					add(&out.files, path.Clean(s))
				}
			}
		}
	}
	return out
}

// instructions splits a Dockerfile into instructions: comment lines are
// dropped and lines ending in a backslash are joined with the next.
func instructions(data string) []string {
	var out []string
	var cur strings.Builder
	for raw := range strings.Lines(data) {
		line := strings.TrimSpace(raw)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
