// Command corpusscan reads the catalog corpus (DIR/<category>/<name>/compose.yml)
// for scripts/images.sh, which makes the test image stand in for every
// template:
//
//	corpusscan images DIR   every image reference, normalized, one a line
//	corpusscan links DIR    every absolute path a healthcheck executes, one a line
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
	"sort"
)

const usage = "usage: corpusscan images|links DIR"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || (args[0] != "images" && args[0] != "links") {
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
			if args[0] == "images" {
				ref, skip := s.imageRef()
				if ref != "" {
					found = []string{ref}
				}
				if skip != "" {
					skips = []string{skip}
				}
			} else {
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
