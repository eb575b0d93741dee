# shellcheck shell=bash
# Helpers shared by scripts/*.sh. Source it, do not run it.
#
# Every script keeps its state (PostgreSQL cluster, dockerd pid and log,
# image build files) in one directory per checkout, outside the repository
# so that system users (postgres) can reach it even when the checkout lives
# under /root:
#
#   $DEVARCH_DEV_DIR, default /var/tmp/devarch-controller-<hash of repo path>

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
SCRIPT_NAME=$(basename "$0")

log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }
die() {
	log "$*"
	exit 1
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# state_dir prints (and creates, mode 755) the per-checkout state directory.
state_dir() {
	local dir=${DEVARCH_DEV_DIR:-}
	if [[ -z $dir ]]; then
		local hash
		hash=$(printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-8)
		dir=/var/tmp/devarch-controller-$hash
	fi
	if [[ ! -d $dir ]]; then
		mkdir -p "$dir" || die "cannot create state directory $dir; set DEVARCH_DEV_DIR to a writable directory"
		chmod 755 "$dir"
	fi
	printf '%s\n' "$dir"
}

# stop_pid WHAT PID LOG sends SIGTERM to PID (a process this checkout's
# scripts started, read from their pid file) and waits up to 30 s for it to
# end; it fails naming WHAT and LOG when it does not.
stop_pid() {
	local what=$1 pid=$2 logfile=$3 i
	log "stopping $what (pid $pid)"
	kill -TERM "$pid"
	for ((i = 0; i < 60; i++)); do
		[[ -d /proc/$pid ]] || return 0
		sleep 0.5
	done
	die "$what (pid $pid) still runs 30 s after SIGTERM; see $logfile"
}

# apt_install installs Debian packages as root, running apt-get update first
# when the package lists are missing or the install fails on a stale list.
apt_install() {
	is_root || die "installing $* needs root; run: sudo apt-get install -y $*"
	command -v apt-get >/dev/null || die "apt-get not found; install $* with your package manager"
	export DEBIAN_FRONTEND=noninteractive
	if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
		log "apt-get update"
		apt-get update -qq </dev/null
	fi
	log "apt-get install -y $*"
	if ! apt-get install -y -qq "$@" </dev/null; then
		apt-get update -qq </dev/null
		apt-get install -y -qq "$@" </dev/null
	fi
}

# docker_setup sets DOCKER to the docker CLI to use: $DEVARCH_DOCKER_CLI,
# else Debian's /usr/bin/docker (it matches the docker.io engine), else the
# first docker on PATH. When the engine answers but refuses the client's API
# version, it exports DOCKER_API_VERSION with the engine's maximum.
docker_setup() {
	if [[ -n ${DEVARCH_DOCKER_CLI:-} ]]; then
		DOCKER=$DEVARCH_DOCKER_CLI
	elif [[ -x /usr/bin/docker ]]; then
		DOCKER=/usr/bin/docker
	else
		DOCKER=$(command -v docker || true)
	fi
	[[ -n $DOCKER ]] || return 1
	local out max
	out=$(timeout 20 "$DOCKER" version 2>&1) || true
	if [[ $out =~ Maximum\ supported\ API\ version\ is\ ([0-9.]+) ]]; then
		max=${BASH_REMATCH[1]}
		export DOCKER_API_VERSION=$max
		log "the docker client is newer than the engine; using DOCKER_API_VERSION=$max"
	fi
}

# docker_answers succeeds when the engine answers through $DOCKER.
docker_answers() {
	[[ -n ${DOCKER:-} ]] && timeout 20 "$DOCKER" info >/dev/null 2>&1
}
