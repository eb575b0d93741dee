#!/usr/bin/env bash
# scripts/demo.sh: the README's run command. On a fresh Debian/Ubuntu machine
# it starts everything the controller needs (a private PostgreSQL cluster,
# the Docker engine, locally built demo images: no registry needed), loads
# the demo templates and the demo stack, and runs `devarch-controller serve`
# in the foreground with the dashboard. Ctrl-C stops the controller; the
# demo containers keep running (scripts/demo.sh down removes them).
#
# Environment: DEVARCH_HTTP_ADDR (default 127.0.0.1:8080), DEMO_API_TOKEN
# (the demo stack's secret; by default a random one, made once and kept).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

DB=devarch_demo
STATE=$(state_dir)/demo
export DEVARCH_HTTP_ADDR=${DEVARCH_HTTP_ADDR:-127.0.0.1:8080}

setup() {
	[[ -x /usr/local/go/bin/go ]] && export PATH=$PATH:/usr/local/go/bin
	command -v go >/dev/null || die "go not found; install Go 1.26 and put it on PATH"
	scripts/postgres.sh start >/dev/null
	scripts/docker.sh ensure
	scripts/images.sh build
	docker_setup || true
	local name
	for name in web api cache; do
		"$DOCKER" tag devarch-test/sleeper:latest "devarch-demo/$name:1"
	done
	go build -trimpath -o bin/devarch-controller ./cmd/controller
	local admin
	admin=$(scripts/postgres.sh url)
	if ! scripts/postgres.sh psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
		scripts/postgres.sh psql -qc "CREATE DATABASE $DB" >/dev/null
	fi
	export DEVARCH_DATABASE_URL=${admin/\/postgres\?//$DB?}
	export DEVARCH_STATE_DIR=$STATE
}

main() {
	setup
	local bin=bin/devarch-controller
	if [[ ${1:-} == down ]]; then
		"$bin" approvals demo >/dev/null 2>&1 || true
		docker_setup || true
		"$DOCKER" ps -aq --filter label=devarch.stack=demo | xargs -r "$DOCKER" rm -f >/dev/null
		log "demo containers removed"
		return
	fi
	"$bin" catalog import examples/templates
	# The demo's secret: random once, then kept, so running the demo again
	# does not rotate it (which would recreate the api container).
	local token_file=$STATE/demo-api-token
	if [[ -z ${DEMO_API_TOKEN:-} && ! -s $token_file ]]; then
		mkdir -p "$STATE"
		(umask 077 && head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token_file")
	fi
	DEMO_API_TOKEN=${DEMO_API_TOKEN:-$(cat "$token_file")} \
		"$bin" stack import examples/stacks/demo.yaml
	cat <<MSG

  devarch-controller is starting with the demo stack "demo" (web, api, cache).

  Dashboard   http://$DEVARCH_HTTP_ADDR/          open stack "demo" → Deploy → Generate Plan → Apply
  API         http://$DEVARCH_HTTP_ADDR/api/v1/stacks
  Metrics     http://$DEVARCH_HTTP_ADDR/metrics
  CLI         DEVARCH_DATABASE_URL='$DEVARCH_DATABASE_URL' DEVARCH_STATE_DIR='$STATE' \\
                $bin plan demo        (or: apply demo)
  After apply the demo web server answers on http://127.0.0.1:18081/
  Try drift:  docker stop devarch-demo-web   → the dashboard shows "drifted" within a second or two.

  Ctrl-C stops the controller (containers keep running; scripts/demo.sh down removes them).

MSG
	exec "$bin" serve
}

main "$@"
