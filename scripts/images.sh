#!/usr/bin/env bash
# scripts/images.sh [build]
# scripts/images.sh tag-corpus [DIR]
#
#   build        build the test image devarch-test/sleeper:latest (testenv.TestImage)
#                from ./testimage: a static binary at /sleeper (ENTRYPOINT)
#                plus symlinks to it for /bin/sh and every healthcheck
#                command of the corpus (the default one and, with
#                tag-corpus DIR, that one too), /tmp and a minimal /etc. Skipped
#                when the image already carries the content hash (label
#                devarch.testimage.hash).
#   tag-corpus   build, then tag the image under every image name of the
#                corpus compose files (DIR/*/*/compose.yml, default
#                $DEVARCH_CORPUS/devarch-services, DEVARCH_CORPUS defaulting
#                to ../shared/corpus from the repository root),
#                so templates run locally without a registry. A name that
#                already points at an image this script did not build (a
#                real image you pulled) is left alone unless
#                DEVARCH_TAG_FORCE=1.
#                Then, for the corpus's build sections, it builds the stage
#                image devarch-test/stage:latest (the test image plus a copy
#                of /sleeper at every path their Dockerfiles COPY --from an
#                image) and tags it under every image those Dockerfiles
#                start FROM or COPY --from (php:8.4-fpm, composer:latest),
#                so they build offline. The test image itself is unchanged.
#
# No registry is contacted: the image is made with `docker import`.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE=devarch-test/sleeper:latest
HASH_LABEL=devarch.testimage.hash
STAGE=devarch-test/stage:latest
STAGE_LABEL=devarch.testimage.stage
DEFAULT_CORPUS=${DEVARCH_CORPUS:-$REPO_ROOT/../shared/corpus}/devarch-services
WORK=$(state_dir)/image

# BASE_LINKS exist even without a corpus: the shell and the usual probes.
BASE_LINKS=(/bin/sh /usr/bin/sh /usr/bin/true /usr/bin/wget /usr/bin/curl /usr/bin/nc
	/usr/bin/pg_isready /usr/bin/redis-cli /usr/bin/mysqladmin /usr/bin/php-fpm)

CHANGES=(
	'ENTRYPOINT ["/sleeper"]'
	'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	'ENV DEVARCH_IMAGE_DEFAULT=from-image'
)

find_go() {
	GO=$(command -v go || true)
	[[ -n $GO ]] || { [[ -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go; } ||
		die "go not found; install Go (see go.mod for the version) and put it on PATH"
}

need_docker() {
	docker_setup || die "docker client not found; run scripts/docker.sh ensure"
	docker_answers || die "the Docker engine does not answer; run scripts/docker.sh ensure"
}

# collect_links prints the absolute paths to link to /sleeper: the base
# list, the default corpus and, when given, another corpus directory (so the
# image stays a superset and tag-corpus DIR does not drop commands).
collect_links() {
	local extra=$1
	printf '%s\n' "${BASE_LINKS[@]}"
	if [[ -d $DEFAULT_CORPUS ]]; then
		"$WORK/corpusscan" links "$DEFAULT_CORPUS"
	else
		log "corpus $DEFAULT_CORPUS not found; the image gets the base healthcheck commands only"
	fi
	if [[ -n $extra && -d $extra ]]; then
		"$WORK/corpusscan" links "$extra"
	fi
}

# make_rootfs builds $WORK/rootfs.tar reproducibly (sorted, fixed owner and mtime).
make_rootfs() {
	local corpus=$1 root=$WORK/rootfs p
	rm -rf "$root"
	mkdir -p "$root/etc" "$root/tmp"
	chmod 1777 "$root/tmp"
	install -m 0755 "$WORK/sleeper" "$root/sleeper"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	while IFS= read -r p; do
		[[ $p == /* ]] || continue
		[[ -e $root$p || -L $root$p ]] && continue
		if ! mkdir -p "$root$(dirname "$p")" 2>/dev/null || ! ln -s /sleeper "$root$p" 2>/dev/null; then
			log "warning: cannot place a link at $p (a path component is a link); skipped"
		fi
	done < <(collect_links "$corpus" | sort -u)
	LINK_COUNT=$(find "$root" -type l | wc -l)
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
		-C "$root" -cf "$WORK/rootfs.tar" .
}

build() {
	local corpus=${1:-}
	need_docker
	find_go
	mkdir -p "$WORK"
	local arch
	arch=$("$DOCKER" version --format '{{.Server.Arch}}')
	(cd "$REPO_ROOT" &&
		CGO_ENABLED=0 GOOS=linux GOARCH=$arch "$GO" build -buildvcs=false -trimpath -ldflags='-s -w' \
			-o "$WORK/sleeper" ./testimage &&
		"$GO" build -buildvcs=false -o "$WORK/corpusscan" ./testimage/corpusscan) ||
		die "go build of ./testimage failed (output above)"
	make_rootfs "$corpus"

	local hash current
	hash=$({
		sha256sum <"$WORK/rootfs.tar"
		printf '%s\n' "${CHANGES[@]}"
	} | sha256sum | cut -c1-32)
	current=$("$DOCKER" image inspect -f "{{index .Config.Labels \"$HASH_LABEL\"}}" "$IMAGE" 2>/dev/null || true)
	if [[ $current == "$hash" ]]; then
		log "$IMAGE is up to date ($LINK_COUNT command links, hash $hash)"
		return 0
	fi
	local same
	same=$("$DOCKER" image ls -q --no-trunc --filter "label=$HASH_LABEL=$hash" | head -n1)
	if [[ -n $same ]]; then
		# An earlier build with this content still exists: reuse it, so
		# image ids (and the corpus tags on them) stay stable.
		"$DOCKER" tag "$same" "$IMAGE"
		log "retagged an earlier identical build as $IMAGE ($LINK_COUNT command links, hash $hash)"
		return 0
	fi
	local args=() c
	for c in "${CHANGES[@]}" "LABEL $HASH_LABEL=$hash"; do args+=(--change "$c"); done
	"$DOCKER" import "${args[@]}" --message "scripts/images.sh" "$WORK/rootfs.tar" "$IMAGE" >/dev/null
	log "built $IMAGE ($LINK_COUNT command links, hash $hash)"
	prune_old
}

# prune_old removes earlier builds that no tag and no container uses any more.
prune_old() {
	local id
	for id in $("$DOCKER" image ls -q --no-trunc --filter dangling=true --filter "label=$HASH_LABEL"); do
		"$DOCKER" image rm "$id" >/dev/null 2>&1 || true
	done
}

tag_corpus() {
	local corpus=${1:-$DEFAULT_CORPUS}
	[[ -d $corpus ]] || die "corpus directory $corpus not found; pass it: scripts/images.sh tag-corpus DIR"
	corpus=$(cd "$corpus" && pwd -P)
	build "$corpus"

	local names
	names=$("$WORK/corpusscan" images "$corpus" 2> >(sed 's/^/  /' >&2))

	tag_names "$IMAGE" "$HASH_LABEL" "$names" "$corpus"
	prune_old
	build_stage "$corpus"
}

# tag_names tags image (built by this script, label label) under every
# name of the list names, leaving alone names that point at an image this
# script did not build unless DEVARCH_TAG_FORCE=1.
tag_names() {
	local image=$1 label=$2 names=$3 corpus=$4
	local want ours ref id
	want=$("$DOCKER" image inspect -f '{{.Id}}' "$image")
	ours=" $("$DOCKER" image ls -q --no-trunc --filter "label=$label" | sort -u | tr '\n' ' ') "
	declare -A current=()
	while read -r ref id; do
		current[$ref]=$id
	done < <("$DOCKER" image ls --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | grep -v '<none>' || true)
	local total=0 tagged=0 fresh=0 foreign=0
	while IFS= read -r ref; do
		[[ -n $ref ]] || continue
		total=$((total + 1))
		id=${current[$ref]:-}
		if [[ $id == "$want" ]]; then
			fresh=$((fresh + 1))
		elif [[ -n $id && $ours != *" $id "* && ${DEVARCH_TAG_FORCE:-} != 1 ]]; then
			foreign=$((foreign + 1))
			log "warning: $ref is a real image here; left alone (DEVARCH_TAG_FORCE=1 retags it)"
		else
			"$DOCKER" tag "$image" "$ref"
			tagged=$((tagged + 1))
		fi
	done <<<"$names"
	log "tag-corpus: $total image names for $image in $corpus: $tagged tagged, $fresh already current, $foreign left alone"
}

# build_stage builds $STAGE for the base images of the corpus's build
# sections (skipped when it has none, and when the image already carries
# the content hash) and tags it under their names.
build_stage() {
	local corpus=$1 root=$WORK/stage bases files p hash current
	bases=$("$WORK/corpusscan" bases "$corpus" 2> >(sed 's/^/  /' >&2))
	[[ -n $bases ]] || return 0
	files=$("$WORK/corpusscan" stagefiles "$corpus" 2> >(sed 's/^/  /' >&2))
	rm -rf "$root"
	cp -a "$WORK/rootfs" "$root"
	while IFS= read -r p; do
		[[ $p == /* ]] || continue
		mkdir -p "$root$(dirname "$p")"
		rm -f "$root$p"
		install -m 0755 "$WORK/sleeper" "$root$p"
	done <<<"$files"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu \
		-C "$root" -cf "$WORK/stage.tar" .
	hash=$({
		sha256sum <"$WORK/stage.tar"
		printf '%s\n' "${CHANGES[@]}"
	} | sha256sum | cut -c1-32)
	current=$("$DOCKER" image inspect -f "{{index .Config.Labels \"$STAGE_LABEL\"}}" "$STAGE" 2>/dev/null || true)
	if [[ $current != "$hash" ]]; then
		local args=() c
		for c in "${CHANGES[@]}" "LABEL $STAGE_LABEL=$hash"; do args+=(--change "$c"); done
		"$DOCKER" import "${args[@]}" --message "scripts/images.sh stage" "$WORK/stage.tar" "$STAGE" >/dev/null
		log "built $STAGE (hash $hash)"
	fi
	tag_names "$STAGE" "$STAGE_LABEL" "$bases" "$corpus"
}

# One run at a time per build directory: two runs sharing $WORK (several
# checkouts with one dev environment) would overwrite each other's files and
# could tag a half-built image.
lock_work() {
	mkdir -p "$WORK"
	exec 9>"$WORK/.lock"
	flock 9
}

case ${1:-build} in
build) lock_work && build ;;
tag-corpus) lock_work && tag_corpus "${2:-}" ;;
*)
	echo "usage: scripts/images.sh [build] | tag-corpus [DIR]" >&2
	exit 2
	;;
esac
