#!/usr/bin/env bash
# contrib/image/build.sh [TAG]
#
# Builds devarch-controller's container image (TAG, default
# devarch-controller:dev): compiles a static binary on the host
# (CGO_ENABLED=0 go build ./cmd/controller) into contrib/image, runs
# `docker build` on contrib/image with the classic builder, and removes the
# binary again, whether the build succeeded or not. The base image is
# scratch, so no registry is contacted.
#
# Environment: GO (go command, default go), DOCKER (docker command, default
# docker), VERSION (default: git describe, else dev), DOCKER_BUILDKIT
# (default 0: the classic builder, which needs no buildx plugin).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
tag=${1:-devarch-controller:dev}
go=${GO:-go}
docker=${DOCKER:-docker}
version=${VERSION:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo dev)}
bin=$here/devarch-controller

command -v "$go" >/dev/null || { echo "build.sh: $go not found; install Go or set GO" >&2; exit 1; }
command -v "$docker" >/dev/null || { echo "build.sh: $docker not found; install Docker or set DOCKER" >&2; exit 1; }

trap 'rm -f "$bin"' EXIT
(
	cd "$root"
	CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w -X main.version=$version" -o "$bin" ./cmd/controller
)
DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} "$docker" build --build-arg "VERSION=$version" -t "$tag" "$here"
echo "build.sh: built $tag (version $version)" >&2
