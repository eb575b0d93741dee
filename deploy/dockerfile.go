package deploy

import (
	"regexp"
	"strings"
)

// copyFromArg finds the --from= flag of a COPY instruction.
var copyFromArg = regexp.MustCompile(`(?i)(^|\s)--from=(\S+)`)

// dockerfileVar is a $NAME or ${NAME} reference (with an optional
// :-default or -default, as the Dockerfile syntax allows).
var dockerfileVar = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// expandCopyFrom expands build-argument references in the --from= value
// of COPY instructions ("COPY --from=composer:${COMPOSER_VERSION} ..."),
// which current Dockerfile frontends do and the engine's own builders
// (Docker 20.10's classic builder and built-in BuildKit frontend) refuse
// ("invalid from flag value"). Values come from the stage's ARG
// declarations (a global ARG redeclared by name included), overridden by
// the build's args, as the builder scopes them. A reference to an unknown
// argument is left as written (the builder then reports it). It returns
// the Dockerfile unchanged when it has nothing to expand.
func expandCopyFrom(df string, buildArgs map[string]string) string {
	if !strings.Contains(strings.ToLower(df), "--from=") {
		return df
	}
	global := map[string]string{}
	var stage map[string]string // nil before the first FROM
	continued := false
	var out strings.Builder
	for line := range strings.Lines(df) {
		body := strings.TrimRight(line, "\r\n")
		trimmed := strings.TrimSpace(body)
		first := !continued
		continued = strings.HasSuffix(trimmed, "\\")
		if !first || trimmed == "" || strings.HasPrefix(trimmed, "#") {
			out.WriteString(line)
			continue
		}
		words := strings.Fields(trimmed)
		switch strings.ToUpper(words[0]) {
		case "FROM":
			stage = map[string]string{}
		case "ARG":
			scope := global
			if stage != nil {
				scope = stage
			}
			for _, w := range words[1:] {
				w = strings.TrimSuffix(w, "\\")
				name, def, hasDef := strings.Cut(w, "=")
				if name == "" {
					continue
				}
				v, set := buildArgs[name]
				switch {
				case set:
				case hasDef:
					v, set = strings.Trim(def, `"'`), true
				case stage != nil:
					v, set = global[name]
				}
				if set {
					scope[name] = v
				} else {
					delete(scope, name)
				}
			}
		case "COPY":
			if stage != nil {
				line = copyFromArg.ReplaceAllStringFunc(line, func(m string) string {
					return expandVars(m, stage)
				})
			}
		}
		out.WriteString(line)
	}
	return out.String()
}

// expandVars replaces the references of s whose argument is known (or
// that carry a default); a value with white space or a backslash is left
// unexpanded.
func expandVars(s string, args map[string]string) string {
	return dockerfileVar.ReplaceAllStringFunc(s, func(m string) string {
		g := dockerfileVar.FindStringSubmatch(m)
		name := g[1] + g[3]
		if v, ok := args[name]; ok && (v != "" || !strings.Contains(m, ":-")) {
			if strings.ContainsAny(v, " \t\r\n\\") {
				return m // never break the instruction apart
			}
			return v
		}
		if g[1] != "" && strings.Contains(m, "-") {
			return g[2]
		}
		return m
	})
}
