package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseDockerfile(t *testing.T) {
	df := `# syntax=docker/dockerfile:1
ARG BASE=8.4
ARG COMPOSER_VERSION=latest
FROM --platform=linux/amd64 php:${BASE}-fpm AS base
RUN apt-get update && apt-get install -y \
    git \
    curl
COPY --from=composer:${COMPOSER_VERSION} /usr/bin/composer /usr/bin/composer
COPY --from=base /etc/passwd /etc/passwd
COPY --chown=1:1 --from=ghcr.io/org/tools:1 /bin/a /bin/b /opt/
COPY ./local /local
FROM scratch
FROM ${UNSET}
FROM node:${NODE:-20}
`
	got := parseDockerfile(df)
	want := []string{"php:8.4-fpm", "composer:latest", "ghcr.io/org/tools:1", "node:20"}
	if !reflect.DeepEqual(got.images, want) {
		t.Errorf("images = %q, want %q", got.images, want)
	}
	if wantFiles := []string{"/usr/bin/composer", "/bin/a", "/bin/b"}; !reflect.DeepEqual(got.files, wantFiles) {
		t.Errorf("files = %q, want %q", got.files, wantFiles)
	}
	if len(got.skips) != 1 || !strings.Contains(got.skips[0], "${UNSET}") {
		t.Errorf("skips = %q, want the FROM ${UNSET}", got.skips)
	}
}

func FuzzParseDockerfile(f *testing.F) {
	f.Add("FROM php:8\nCOPY --from=a:1 /x /y\n")
	f.Add("ARG A=${B:-c}\nFROM ${A}\\\n AS s\nCOPY --from=s /a /b\n")
	f.Add("FROM\nCOPY --from= \nARG =\n")
	f.Fuzz(func(t *testing.T, df string) {
		got := parseDockerfile(df)
		for _, img := range got.images {
			if img == "" || strings.ContainsAny(img, " \n$") {
				t.Fatalf("image %q from %q", img, df)
			}
		}
		for _, p := range got.files {
			if !strings.HasPrefix(p, "/") {
				t.Fatalf("file %q is not absolute", p)
			}
		}
	})
}
