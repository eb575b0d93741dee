#!/usr/bin/env bash
# scripts/podman.sh ensure|stop|status|host|cli-path|cli [ARGS...]|load IMAGE...|load-test-images
#
#   ensure   make sure the test Podman answers on its own socket. If it does,
#            do nothing. Otherwise, as root: install podman when it is
#            missing, write a configuration that works without systemd
#            (containers.conf, storage.conf), start
#            `podman system service --time=0 unix://$DEVARCH_DEV_DIR/podman/podman.sock`
#            in the background (pid file and log next to it) and wait up to
#            60 s for it. Everything Podman keeps (images, containers,
#            networks, volumes, events) lives under $DEVARCH_DEV_DIR/podman/:
#            this Podman shares nothing with one installed for other uses.
#   stop     stop the service "ensure" started (its pid file), nothing else
#   status   say whether the service answers
#   host     print the DOCKER_HOST of the service (unix://…/podman.sock)
#   cli-path print the path of the CLI wrapper (see cli)
#   cli      run the podman CLI on this Podman's storage and configuration
#            (as the wrapper $DEVARCH_DEV_DIR/podman/podman does)
#   load     copy images from the Docker engine into this Podman
#            (docker save | podman load), skipping those it has already
#            under the same id
#   load-test-images
#            load the test images scripts/images.sh built, under every name
#            they carry on the Docker engine
#
# Environment: DEVARCH_DEV_DIR.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PODMAN_STATE=$(state_dir)/podman
PID_FILE=$PODMAN_STATE/podman.pid
LOG_FILE=$PODMAN_STATE/podman.log
SOCKET=$PODMAN_STATE/podman.sock
CONF=$PODMAN_STATE/containers.conf
STORAGE_CONF=$PODMAN_STATE/storage.conf
WRAPPER=$PODMAN_STATE/podman
WAIT_SECONDS=60

# write_config writes containers.conf and storage.conf (every path under
# PODMAN_STATE) and the CLI wrapper that uses them.
#   default_ulimits  without systemd the service inherits the shell's
#                    limits; a container machine's nofile hard limit can be
#                    below what runc then asks for, and containers fail to
#                    start
#   runc, cgroupfs   no systemd to manage cgroups; runc is what Debian
#                    ships next to docker.io
#   events file      no journald: the service reads its events (those of
#                    the CLI too) from a file
write_config() {
	mkdir -p "$PODMAN_STATE"/{storage,run,tmp,networks,volumes}
	cat >"$CONF" <<-EOF
		# Written by scripts/podman.sh: a Podman for the tests, without systemd.
		[containers]
		default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

		[network]
		network_backend = "netavark"
		network_config_dir = "$PODMAN_STATE/networks"

		[engine]
		runtime = "runc"
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$PODMAN_STATE/events.log"
		tmp_dir = "$PODMAN_STATE/tmp"
		volume_path = "$PODMAN_STATE/volumes"
		static_dir = "$PODMAN_STATE/storage/libpod"
	EOF
	cat >"$STORAGE_CONF" <<-EOF
		# Written by scripts/podman.sh.
		[storage]
		driver = "overlay"
		graphroot = "$PODMAN_STATE/storage"
		runroot = "$PODMAN_STATE/run"
	EOF
	cat >"$WRAPPER" <<-EOF
		#!/bin/sh
		# The podman CLI on the test Podman's storage (scripts/podman.sh).
		CONTAINERS_CONF=$CONF CONTAINERS_STORAGE_CONF=$STORAGE_CONF exec podman "\$@"
	EOF
	chmod 755 "$WRAPPER"
}

cli() { CONTAINERS_CONF=$CONF CONTAINERS_STORAGE_CONF=$STORAGE_CONF podman "$@"; }

# our_pid prints the pid of the service this script started, if it still runs.
our_pid() {
	local pid
	[[ -f $PID_FILE ]] || return 1
	pid=$(<"$PID_FILE")
	[[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == podman ]] || return 1
	printf '%s\n' "$pid"
}

answers() {
	[[ -S $SOCKET ]] && timeout 20 podman --url "unix://$SOCKET" version >/dev/null 2>&1
}

summary() {
	podman --url "unix://$SOCKET" version --format 'podman {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null || echo "podman answers"
}

not_root_help() {
	cat >&2 <<-EOF
		$SCRIPT_NAME: the test Podman does not answer on $SOCKET, and starting it needs root.
		Run this script as root, or install Podman and serve its API yourself:
		    sudo apt-get install -y podman        # Debian/Ubuntu
		    podman system service --time=0 unix://$SOCKET &
	EOF
	exit 1
}

start() {
	command -v podman >/dev/null || apt_install podman
	# catatonit is Podman's init (compose's init: true).
	command -v catatonit >/dev/null || [[ -x /usr/libexec/podman/catatonit ]] || apt_install catatonit
	write_config
	local launcher=
	if ! our_pid >/dev/null; then
		rm -f "$PID_FILE" "$SOCKET"
		log "starting podman system service on $SOCKET (log $LOG_FILE)"
		# setsid: a Ctrl-C on the calling shell must not reach the service.
		# Not a process group leader, setsid execs in place: $! is podman.
		CONTAINERS_CONF=$CONF CONTAINERS_STORAGE_CONF=$STORAGE_CONF \
			setsid podman system service --time=0 "unix://$SOCKET" >>"$LOG_FILE" 2>&1 </dev/null &
		launcher=$!
		echo "$launcher" >"$PID_FILE"
	fi
	local i
	for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
		if answers; then
			log "podman is up (pid $(our_pid || echo '?')): $(summary)"
			return 0
		fi
		# Until setsid has exec'd podman, the process is not named podman
		# yet: it is alive, and that is enough while it starts.
		our_pid >/dev/null || { [[ -n $launcher ]] && kill -0 "$launcher" 2>/dev/null; } || {
			tail -n 20 "$LOG_FILE" >&2 || true
			die "podman system service exited during startup (log above, full log in $LOG_FILE)"
		}
		sleep 0.5
	done
	tail -n 20 "$LOG_FILE" >&2 || true
	die "podman did not answer within ${WAIT_SECONDS}s (log above, full log in $LOG_FILE)"
}

ensure() {
	if command -v podman >/dev/null && answers; then
		log "Podman answers on $SOCKET: $(summary)"
		return 0
	fi
	is_root || not_root_help
	start
}

stop() {
	local pid
	if ! pid=$(our_pid); then
		log "no podman service started by scripts/podman.sh is running; nothing to stop"
		rm -f "$PID_FILE"
		return 0
	fi
	stop_pid "podman system service" "$pid" "$LOG_FILE"
	rm -f "$PID_FILE"
}

status() {
	if answers; then
		local pid who="not by scripts/podman.sh"
		pid=$(our_pid) && who="by scripts/podman.sh (pid $pid)"
		echo "running on $SOCKET, started $who: $(summary)"
		return 0
	fi
	echo "the test Podman does not answer on $SOCKET (run scripts/podman.sh ensure)"
	return 3
}

# load copies the images (references) from the Docker engine, in one
# archive, skipping those Podman has under the same id already.
load() {
	docker_setup || die "docker client not found; run scripts/docker.sh ensure"
	declare -A have=() docker_ids=()
	local ref id missing=()
	while read -r ref id; do
		have[$ref]=${id#sha256:}
	done < <(cli image ls --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}')
	while read -r ref id; do
		docker_ids[$ref]=$id
	done < <("$DOCKER" image ls --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}')
	for ref in "$@"; do
		id=${docker_ids[$ref]:-}
		[[ -n $id ]] || id=$("$DOCKER" image inspect -f '{{.Id}}' "$ref") ||
			die "image $ref is not on the Docker engine; build it first (scripts/images.sh)"
		docker_ids[$ref]=$id
		[[ ${have[$(qualify "$ref")]:-} == "${id#sha256:}" ]] || missing+=("$ref")
	done
	if ((${#missing[@]} == 0)); then
		log "load: all $# images are on Podman already"
		return 0
	fi
	log "load: docker save | podman load: ${#missing[@]} of $# images"
	"$DOCKER" save "${missing[@]}" | cli load -q >/dev/null
	# podman load names an image without a registry localhost/NAME; a
	# pull would name it docker.io/library/NAME, as compose expects.
	declare -A qualified=() local_names=()
	for ref in "${missing[@]}"; do
		[[ $(qualify "$ref") == "$ref" ]] && continue
		id=${docker_ids[$ref]}
		qualified[$id]+=" $(qualify "$ref")"
		local_names[$id]+=" localhost/$ref"
	done
	for id in "${!qualified[@]}"; do
		# shellcheck disable=SC2086 # word lists built above
		cli tag "${id#sha256:}" ${qualified[$id]}
		# shellcheck disable=SC2086
		cli untag "${id#sha256:}" ${local_names[$id]}
	done
}

# qualify prints the fully qualified form of a familiar image reference
# ("php:8.4" → "docker.io/library/php:8.4"); a qualified one unchanged.
qualify() {
	local ref=$1 first=${1%%/*}
	if [[ $ref == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
		printf '%s\n' "$ref"
	elif [[ $ref == */* ]]; then
		printf 'docker.io/%s\n' "$ref"
	else
		printf 'docker.io/library/%s\n' "$ref"
	fi
}

# load_test_images loads the test images scripts/images.sh built
# (testenv.TestImage, the stage image) under every name they carry on the
# Docker engine (the corpus's image names, see images.sh tag-corpus).
load_test_images() {
	docker_setup || die "docker client not found; run scripts/docker.sh ensure"
	local ids refs
	ids=$("$DOCKER" image inspect -f '{{.Id}}' devarch-test/sleeper:latest devarch-test/stage:latest 2>/dev/null) ||
		die "the test images are not on the Docker engine; run scripts/images.sh tag-corpus first"
	mapfile -t refs < <("$DOCKER" image ls --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' |
		grep -F -f <(printf '%s\n' "$ids") | grep -v '<none>' | cut -d' ' -f1)
	load "${refs[@]}"
}

case ${1:-} in
ensure) ensure ;;
stop) stop ;;
status) status ;;
host) echo "unix://$SOCKET" ;;
cli-path) echo "$WRAPPER" ;;
cli)
	shift
	cli "$@"
	;;
load)
	shift
	load "$@"
	;;
load-test-images) load_test_images ;;
*)
	echo "usage: scripts/podman.sh ensure|stop|status|host|cli-path|cli [ARGS...]|load IMAGE...|load-test-images" >&2
	exit 2
	;;
esac
