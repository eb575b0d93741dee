package main

import (
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"go.yaml.in/yaml/v3"
)

// service is the part of a compose service corpusscan needs.
type service struct {
	name  string
	image string
	build bool
	// context and dockerfile locate the Dockerfile of a build section,
	// relative to the compose file's folder.
	context, dockerfile string
	healthcheck         any // string (shell form) or []any; nil when absent
}

type composeFile struct {
	Services map[string]struct {
		Image       string `yaml:"image"`
		Build       any    `yaml:"build"`
		Healthcheck *struct {
			Test    any  `yaml:"test"`
			Disable bool `yaml:"disable"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

// parseCompose returns the services of a compose file, sorted by name.
func parseCompose(data []byte) ([]service, error) {
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parse compose file: %w", err)
	}
	out := make([]service, 0, len(f.Services))
	for name, s := range f.Services {
		svc := service{name: name, image: strings.TrimSpace(s.Image), build: s.Build != nil}
		svc.context, svc.dockerfile = buildLocation(s.Build)
		if s.Healthcheck != nil && !s.Healthcheck.Disable {
			svc.healthcheck = s.Healthcheck.Test
		}
		out = append(out, svc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// buildLocation reads the context and Dockerfile of a build section in
// its short (a string) or long (a mapping) form; "" when there is none.
func buildLocation(b any) (context, dockerfile string) {
	switch v := b.(type) {
	case string:
		return v, "Dockerfile"
	case map[string]any:
		context, _ = v["context"].(string)
		dockerfile, _ = v["dockerfile"].(string)
		if context == "" {
			context = "."
		}
		if dockerfile == "" {
			dockerfile = "Dockerfile"
		}
		return context, dockerfile
	}
	return "", ""
}

// imageRef returns the image reference in Docker's familiar form with an
// explicit tag ("mariadb" -> "mariadb:latest", "docker.io/library/x:1" ->
// "x:1"), or why the service has none that can be tagged locally.
func (s service) imageRef() (ref, skip string) {
	switch {
	case s.image == "" && s.build:
		return "", "it builds its image and names none"
	case s.image == "":
		return "", "it names no image"
	case strings.Contains(s.image, "$"):
		return "", fmt.Sprintf("image %q uses variable interpolation", s.image)
	}
	named, err := reference.ParseNormalizedNamed(s.image)
	if err != nil {
		return "", fmt.Sprintf("image %q is not a valid reference: %v", s.image, err)
	}
	if _, digested := named.(reference.Digested); digested {
		return "", fmt.Sprintf("image %q is pinned by digest, which cannot be tagged", s.image)
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), ""
}

// safeCommand is what a link name may look like: no shell syntax, no "..".
var safeCommand = regexp.MustCompile(`^[A-Za-z0-9_.+/-]+$`)

// shellWords are shell keywords and builtins that are not files to link.
var shellWords = map[string]bool{
	"if": true, "for": true, "while": true, "until": true, "case": true,
	"exit": true, "exec": true, "cd": true, "set": true, "export": true,
	"true": true, "false": true, ":": true, ".": true, "source": true,
}

// healthcheckPaths returns the absolute paths of the executables the
// healthcheck runs: /bin/sh for the shell forms plus the first command of
// the shell line, the program itself for the CMD form. Bare names live in
// /usr/bin, which is on the image's PATH.
func (s service) healthcheckPaths() (paths, skips []string) {
	var words []string
	switch t := s.healthcheck.(type) {
	case nil:
		return nil, nil
	case string:
		paths = append(paths, "/bin/sh")
		words = shellFirstCommand(t)
	case []any:
		if len(t) == 0 {
			return nil, []string{"empty healthcheck test"}
		}
		kind, _ := t[0].(string)
		arg := ""
		if len(t) > 1 {
			arg, _ = t[1].(string)
		}
		switch kind {
		case "NONE":
			return nil, nil
		case "CMD-SHELL":
			paths = append(paths, "/bin/sh")
			words = shellFirstCommand(arg)
		case "CMD":
			words = []string{arg}
		default:
			return nil, []string{fmt.Sprintf("healthcheck test starts with %q, not CMD, CMD-SHELL or NONE", kind)}
		}
	default:
		return nil, []string{fmt.Sprintf("healthcheck test has type %T", t)}
	}
	for _, w := range words {
		p, skip := linkPath(w)
		if p != "" {
			paths = append(paths, p)
		}
		if skip != "" {
			skips = append(skips, skip)
		}
	}
	return paths, skips
}

// shellFirstCommand returns the first command word of a shell line, after
// any VAR=value assignments; nil for keywords, builtins and empty lines.
func shellFirstCommand(line string) []string {
	for _, w := range strings.Fields(line) {
		if strings.Contains(w, "=") && !strings.HasPrefix(w, "=") && !strings.Contains(w, "/") {
			continue // an environment assignment before the command
		}
		if shellWords[w] {
			return nil
		}
		return []string{w}
	}
	return nil
}

// linkPath maps a command word to the absolute path of its symlink.
func linkPath(word string) (p, skip string) {
	switch {
	case word == "":
		return "", "healthcheck names no command"
	case !safeCommand.MatchString(word) || strings.Contains(word, "..") || word == "." ||
		(path.IsAbs(word) && path.Clean(word) != word):
		// "." or "/usr/bin/." would link a directory (/usr/bin) to the
		// sleeper.
		return "", fmt.Sprintf("healthcheck command %q is not a plain file name", word)
	case path.IsAbs(word):
		p = word
	case strings.Contains(word, "/"):
		return "", fmt.Sprintf("healthcheck command %q is relative to the working directory", word)
	default:
		p = "/usr/bin/" + word
	}
	if p == "/" || p == "/sleeper" {
		return "", fmt.Sprintf("healthcheck command %q would replace the sleeper", word)
	}
	return p, ""
}
