// Command corpusscan reads the catalog corpus (DIR/<category>/<name>/compose.yml)
// for scripts/images.sh, which makes the test image stand in for every
// template:
//
//	corpusscan images DIR   every image reference, normalized, one a line
//	corpusscan links DIR    every absolute path a healthcheck executes, one a line
//	corpusscan bases DIR    every image the Dockerfiles of build sections
//	                        start FROM or COPY --from, one a line
//	corpusscan stagefiles DIR  every path those Dockerfiles COPY --from an image
//
// Services it cannot serve (no image, a digest-only or interpolated image,
// a relative healthcheck command) are reported on stderr and skipped.
// It only reads files; it never talks to Docker.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

const usage = "usage: corpusscan images|links|bases|stagefiles DIR"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || !slices.Contains([]string{"images", "links", "bases", "stagefiles"}, args[0]) {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	files, err := filepath.Glob(filepath.Join(args[1], "*", "*", "compose.yml"))
	if err != nil {
		fmt.Fprintf(stderr, "corpusscan: list compose files: %v\n", err)
		return 1
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "corpusscan: no */*/compose.yml under %s; pass the corpus directory\n", args[1])
		return 1
	}
	set := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "corpusscan: %v\n", err)
			return 1
		}
		services, err := parseCompose(data)
		if err != nil {
			fmt.Fprintf(stderr, "corpusscan: %s: %v\n", f, err)
			return 1
		}
		for _, s := range services {
			var found []string
			var skips []string
			switch args[0] {
			case "bases", "stagefiles":
				refs, err := s.dockerfileRefs(filepath.Dir(f))
				if err != nil {
					fmt.Fprintf(stderr, "corpusscan: %s service %s: %v\n", f, s.name, err)
					return 1
				}
				found, skips = refs.images, refs.skips
				if args[0] == "stagefiles" {
					found = refs.files
				}
			case "images":
				ref, skip := s.imageRef()
				if ref != "" {
					found = []string{ref}
				}
				if skip != "" {
					skips = []string{skip}
				}
			default:
				found, skips = s.healthcheckPaths()
			}
			for _, v := range found {
				set[v] = true
			}
			for _, why := range skips {
				fmt.Fprintf(stderr, "corpusscan: skip %s service %s: %s\n", f, s.name, why)
			}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	for _, v := range out {
		fmt.Fprintln(stdout, v)
	}
	return 0
}

// dockerfileRefs reads the Dockerfile of the service's build section
// (none: no references) relative to dir, the compose file's folder.
func (s service) dockerfileRefs(dir string) (dockerfileRefs, error) {
	if s.context == "" {
		return dockerfileRefs{}, nil
	}
	if strings.Contains(s.context, "://") {
		return dockerfileRefs{skips: []string{"its build context is remote"}}, nil
	}
	data, err := os.ReadFile(filepath.Join(dir, s.context, s.dockerfile))
	if err != nil {
		return dockerfileRefs{}, fmt.Errorf("read the build section's Dockerfile: %w", err)
	}
	return parseDockerfile(string(data)), nil
}
