#!/usr/bin/env bash
# scripts/postgres.sh start|stop|restart|status|url|psql [ARGS...]
#
# A private PostgreSQL 15 cluster for development and tests of this
# checkout. DEV/TEST ONLY: trust authentication (no password) for the local
# socket and 127.0.0.1, and no durability (fsync=off).
#
#   start    init the cluster on first use, start it, print its URL (no-op when running)
#   stop     stop this checkout's cluster (pg_ctl stop on its own data directory)
#   restart  restart the running cluster on the same port (pg_ctl restart, fast
#            shutdown: sessions are cut) and wait until it accepts connections
#   status   print state, port, data directory; exit 0 when running, 3 when not
#   url      print the superuser URL, e.g. postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable
#   psql     run psql against the cluster, passing ARGS
#
# Environment:
#   DEVARCH_PG_PORT  TCP port on 127.0.0.1 (default 55432)
#   DEVARCH_PG_DIR   cluster directory: data/, socket/, postgres.log
#                    (default $DEVARCH_DEV_DIR/pg, see scripts/lib.sh)
#   DEVARCH_PG_BIN   directory holding initdb and pg_ctl (default: PostgreSQL 15)
#
# initdb refuses to run as root: as root the cluster runs as the system user
# "postgres" (created as "devarch-pg" when there is none).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_PORT=${DEVARCH_PG_PORT:-55432}
if ! [[ $PG_PORT =~ ^[0-9]+$ ]] || ((PG_PORT < 1024 || PG_PORT > 65535)); then
	die "DEVARCH_PG_PORT=$PG_PORT is not a port between 1024 and 65535"
fi
PG_DIR=${DEVARCH_PG_DIR:-$(state_dir)/pg}
DATA=$PG_DIR/data
SOCK=$PG_DIR/socket
PG_LOG=$PG_DIR/postgres.log
SUPERUSER=postgres # the database superuser role, whatever the OS user

# find_pg_bin sets PG_BIN to the directory holding initdb and pg_ctl.
find_pg_bin() {
	local c
	for c in "${DEVARCH_PG_BIN:-}" /usr/lib/postgresql/15/bin; do
		if [[ -n $c && -x $c/initdb && -x $c/pg_ctl ]]; then
			PG_BIN=$c
			return 0
		fi
	done
	if c=$(command -v initdb); then
		PG_BIN=$(dirname "$(readlink -f "$c")")
		[[ -x $PG_BIN/pg_ctl ]] && return 0
	fi
	return 1
}

ensure_pg_bin() {
	find_pg_bin && return 0
	is_root || die "PostgreSQL 15 server binaries (initdb, pg_ctl) not found; install them (Debian: sudo apt-get install -y postgresql-15) or set DEVARCH_PG_BIN"
	log "PostgreSQL 15 not found; installing it (note: Debian's package may create and start its own 'main' cluster on port 5432, which this project does not use)"
	apt_install postgresql-15
	find_pg_bin || die "initdb still not found after installing postgresql-15; set DEVARCH_PG_BIN"
}

# pick_os_user sets OS_USER, the account the server runs as.
pick_os_user() {
	if ! is_root; then
		OS_USER=$(id -un)
	elif [[ -d $DATA ]]; then
		OS_USER=$(stat -c %U "$DATA")
	elif id postgres >/dev/null 2>&1; then
		OS_USER=postgres
	else
		OS_USER=devarch-pg
		if ! id "$OS_USER" >/dev/null 2>&1; then
			log "creating system user $OS_USER to run PostgreSQL (initdb refuses root)"
			useradd --system --user-group --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin "$OS_USER"
		fi
	fi
}

# as_pg runs a command as OS_USER from /, so a checkout under /root does not
# break commands that look at their working directory.
as_pg() {
	if is_root && [[ $OS_USER != root ]]; then
		(cd / && runuser -u "$OS_USER" -- "$@")
	else
		(cd / && "$@")
	fi
}

is_running() { [[ -f $DATA/PG_VERSION ]] && as_pg "$PG_BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1; }

# running_port prints the port of the running server (postmaster.pid line 4).
running_port() { sed -n 4p "$DATA/postmaster.pid" 2>/dev/null; }

url() {
	local port=$PG_PORT
	if [[ -f $DATA/postmaster.pid ]] && is_running; then
		port=$(running_port)
	fi
	printf 'postgres://%s@127.0.0.1:%s/postgres?sslmode=disable\n' "$SUPERUSER" "$port"
}

init_cluster() {
	[[ -f $DATA/PG_VERSION ]] && return 0
	mkdir -p "$PG_DIR"
	if is_root; then chown "$OS_USER": "$PG_DIR"; fi
	chmod 700 "$PG_DIR"
	as_pg test -w "$PG_DIR" ||
		die "$OS_USER cannot write $PG_DIR (a parent directory is not traversable?); set DEVARCH_PG_DIR to a directory under /var/tmp"
	if [[ -d $DATA ]]; then
		log "removing incomplete data directory $DATA from an earlier failed init"
		rm -rf "$DATA"
	fi
	log "initdb $DATA (as $OS_USER)"
	as_pg "$PG_BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust --encoding=UTF8 \
		--no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1 || {
		cat "$PG_DIR/initdb.log" >&2
		die "initdb failed (output above)"
	}
	as_pg mkdir -p "$SOCK"
	as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<-EOF

		# --- devarch-controller dev/test settings (scripts/postgres.sh) ---
		# NOT for production: no durability; pg_hba.conf trusts local users.
		# port, listen address and socket directory are passed by pg_ctl -o.
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_connections = 300
		shared_buffers = 128MB
		log_line_prefix = '%m [%p] %d '
		log_min_messages = warning
	EOF
	as_pg tee "$DATA/pg_hba.conf" >/dev/null <<-EOF
		# devarch-controller dev/test cluster: trust, local socket and loopback only.
		local all all trust
		host  all all 127.0.0.1/32 trust
	EOF
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
	if is_running; then
		log "already running (data $DATA)"
		url
		return 0
	fi
	if port_in_use "$PG_PORT"; then
		die "port $PG_PORT on 127.0.0.1 is in use by another process (another checkout's cluster?); stop it or set DEVARCH_PG_PORT to a free port"
	fi
	init_cluster
	as_pg mkdir -p "$SOCK"
	log "starting PostgreSQL on 127.0.0.1:$PG_PORT (data $DATA, log $PG_LOG)"
	if ! as_pg "$PG_BIN/pg_ctl" start -D "$DATA" -l "$PG_LOG" -w -t 60 \
		-o "-p $PG_PORT -k $SOCK -c listen_addresses=127.0.0.1" >/dev/null; then
		tail -n 30 "$PG_LOG" >&2 || true
		die "PostgreSQL did not start (log above, full log in $PG_LOG)"
	fi
	url
}

stop() {
	if ! is_running; then
		log "not running (data $DATA)"
		return 0
	fi
	log "stopping PostgreSQL (data $DATA)"
	as_pg "$PG_BIN/pg_ctl" stop -D "$DATA" -m fast -w -t 60 >/dev/null
}

restart() {
	is_running || die "the cluster is not running (data $DATA); start it with scripts/postgres.sh start"
	log "restarting PostgreSQL (data $DATA)"
	# pg_ctl restart reuses the options the server was started with
	# (postmaster.opts): same port, socket directory and listen address.
	if ! as_pg "$PG_BIN/pg_ctl" restart -D "$DATA" -l "$PG_LOG" -m fast -w -t 60 >/dev/null; then
		tail -n 30 "$PG_LOG" >&2 || true
		die "PostgreSQL did not restart (log above, full log in $PG_LOG)"
	fi
	url
}

status() {
	if is_running; then
		printf 'running: pid %s, 127.0.0.1:%s, data %s, user %s\n' \
			"$(head -n1 "$DATA/postmaster.pid")" "$(running_port)" "$DATA" "$OS_USER"
		url
		return 0
	fi
	if [[ -f $DATA/PG_VERSION ]]; then
		printf 'stopped: data %s (start it with scripts/postgres.sh start)\n' "$DATA"
	else
		printf 'not initialized: %s (scripts/postgres.sh start creates it)\n' "$DATA"
	fi
	return 3
}

run_psql() {
	local psql=$PG_BIN/psql
	[[ -x $psql ]] || psql=$(command -v psql) || die "psql not found; install postgresql-client-15"
	is_running || die "the cluster is not running; start it with scripts/postgres.sh start"
	exec "$psql" "$(url)" "$@"
}

main() {
	local cmd=${1:-}
	[[ $# -gt 0 ]] && shift
	case $cmd in
	start | stop | restart | status | url | psql) ;;
	*)
		echo "usage: scripts/postgres.sh start|stop|restart|status|url|psql [psql args]" >&2
		exit 2
		;;
	esac
	if [[ $cmd == start ]]; then ensure_pg_bin; else find_pg_bin || die "PostgreSQL 15 server binaries not found; run scripts/postgres.sh start"; fi
	pick_os_user
	case $cmd in
	start) start ;;
	stop) stop ;;
	restart) restart ;;
	status) status ;;
	url) url ;;
	psql) run_psql "$@" ;;
	esac
}

main "$@"
