#!/usr/bin/env bash
# scripts/docker.sh ensure|stop|restart|status|owned
#
#   ensure   make sure a Docker engine answers. If one does, do nothing.
#            Otherwise, as root: install docker.io when dockerd is missing,
#            start dockerd in the background (pid and log in
#            $DEVARCH_DEV_DIR/docker/) and wait up to 60 s for it. As
#            another user: print what to install and run, and fail.
#   stop     stop the dockerd that "ensure" started (its pid file), nothing else
#   restart  stop the dockerd that "ensure" started, start it again and wait
#            until it answers (for outage tests). Exits 4, touching nothing,
#            when the engine running was not started by this script.
#   status   say whether the engine answers and who started it
#   owned    exit 0 when the running engine is the dockerd "ensure" started
#            (the one "restart" may restart), 1 otherwise
#
# Environment: DEVARCH_DOCKER_CLI (docker client to use), DEVARCH_DEV_DIR.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOCKER_STATE=$(state_dir)/docker
PID_FILE=$DOCKER_STATE/dockerd.pid
DOCKERD_LOG=$DOCKER_STATE/dockerd.log
SOCKET=/var/run/docker.sock
WAIT_SECONDS=60
ADDRESS_POOL=10.160.0.0/16

# our_pid prints the pid of the dockerd this script started, if it still runs.
our_pid() {
	local pid
	[[ -f $PID_FILE ]] || return 1
	pid=$(<"$PID_FILE")
	[[ $pid =~ ^[0-9]+$ ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]] || return 1
	printf '%s\n' "$pid"
}

engine_summary() {
	"$DOCKER" version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}, client {{.Client.Version}} ({{.Client.APIVersion}})' 2>/dev/null || echo "engine answers"
}

not_root_help() {
	cat >&2 <<-EOF
		$SCRIPT_NAME: the Docker engine does not answer, and starting it needs root.
		Install and start it, then run this again:
		    sudo apt-get install -y docker.io      # Debian/Ubuntu
		    sudo systemctl start docker            # or, without systemd: sudo dockerd &
		and let your user reach the socket:
		    sudo usermod -aG docker "\$USER"        # then log in again
	EOF
	exit 1
}

start_dockerd() {
	command -v dockerd >/dev/null || apt_install docker.io
	docker_setup || die "the docker client is missing even though dockerd is installed; install docker.io"
	local other
	other=$(pgrep -x dockerd | head -n1 || true)
	if [[ -n $other ]] && ! our_pid >/dev/null; then
		die "a dockerd (pid $other) runs but does not answer on $SOCKET; check its log or stop it, then run this again"
	fi
	local launcher=
	if ! our_pid >/dev/null; then
		mkdir -p "$DOCKER_STATE"
		rm -f "$PID_FILE" # stale: its process is gone
		log "starting dockerd (log $DOCKERD_LOG)"
		# setsid: a Ctrl-C on the calling shell must not reach dockerd.
		# dockerd writes its own pid to PID_FILE, which "stop" reads.
		# The address pool: Docker's defaults hold about 30 bridge
		# networks, and the test packages running side by side create
		# about that many at once (one per stack); 256 leave room. It is
		# outside the ranges the tests give networks themselves (10.198/16,
		# 10.199/16, 10.213.57.0/24).
		setsid dockerd --host "unix://$SOCKET" --pidfile "$PID_FILE" \
			--default-address-pool "base=$ADDRESS_POOL,size=24" >>"$DOCKERD_LOG" 2>&1 </dev/null &
		launcher=$!
	fi
	local i
	for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
		if docker_answers; then
			log "dockerd is up (pid $(our_pid || echo '?')): $(engine_summary)"
			return 0
		fi
		our_pid >/dev/null || { [[ -n $launcher ]] && kill -0 "$launcher" 2>/dev/null; } || {
			tail -n 20 "$DOCKERD_LOG" >&2 || true
			die "dockerd exited during startup (log above, full log in $DOCKERD_LOG)"
		}
		sleep 0.5
	done
	tail -n 20 "$DOCKERD_LOG" >&2 || true
	die "dockerd did not answer within ${WAIT_SECONDS}s (log above, full log in $DOCKERD_LOG)"
}

ensure() {
	docker_setup || true
	if docker_answers; then
		log "Docker engine answers: $(engine_summary)"
		return 0
	fi
	is_root || not_root_help
	start_dockerd
}

stop() {
	local pid
	if ! pid=$(our_pid); then
		log "no dockerd started by scripts/docker.sh is running; nothing to stop"
		rm -f "$PID_FILE"
		return 0
	fi
	stop_pid dockerd "$pid" "$DOCKERD_LOG"
	rm -f "$PID_FILE"
}

# restart stops and starts the dockerd this script started. Containers
# stop with it; only those with a restart policy come back.
restart() {
	if ! our_pid >/dev/null; then
		log "the running Docker engine was not started by scripts/docker.sh (no live pid in $PID_FILE); not restarting it"
		exit 4
	fi
	stop
	ensure
}

status() {
	docker_setup || true
	local pid who="not by scripts/docker.sh"
	pid=$(our_pid) && who="by scripts/docker.sh (pid $pid)"
	if docker_answers; then
		echo "running, started $who: $(engine_summary)"
		return 0
	fi
	echo "the Docker engine does not answer (run scripts/docker.sh ensure)"
	return 3
}

case ${1:-} in
ensure) ensure ;;
stop) stop ;;
restart) restart ;;
status) status ;;
owned) our_pid >/dev/null ;;
*)
	echo "usage: scripts/docker.sh ensure|stop|restart|status|owned" >&2
	exit 2
	;;
esac
