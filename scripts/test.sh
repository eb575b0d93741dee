#!/usr/bin/env bash
# scripts/test.sh [go test flags] [packages]
#
# THE test command (README, make test, CI's .ci/run). On a fresh Debian
# machine with Go, as root, it installs and starts everything it needs, then
# checks and tests the module. Steps, each timed:
#
#   setup   the system packages the tests need, when missing (scripts/tools.sh
#           install: C toolchain, docker.io, podman, postgresql-15, chromium,
#           prometheus, systemd, git, ca-certificates; as another user it
#           prints what to install), tool versions, PostgreSQL
#           (scripts/postgres.sh start), Docker (scripts/docker.sh ensure),
#           the test image and its corpus tags (scripts/images.sh), devarch's
#           corpus ($DEVARCH_CORPUS, default ../shared/corpus), Podman on
#           its own socket with the test images (scripts/podman.sh). It
#           exports DEVARCH_TEST_DATABASE_URL, DEVARCH_TEST_DOCKER=1,
#           DEVARCH_TEST_REQUIRE=1 (a skip is a failure), DEVARCH_CORPUS,
#           and DEVARCH_TEST_ENGINES=docker,podman=unix://… (the tests that
#           matter run on each; DEVARCH_TEST_ENGINES=docker leaves Podman
#           out) with DEVARCH_TEST_PODMAN_CLI.
#   gofmt   lists unformatted files
#   vet     go vet -race: with -race it type-checks against the packages
#           go test -race compiles, so the two share one compilation. It
#           starts in the background during setup, as soon as the C
#           toolchain is there (on a fresh machine it compiles while the
#           other packages install); the step shows the time waited for it.
#   test    go test -race -count=1 -p $DEVARCH_TEST_P (default 4: most
#           integration packages wait on the engine, not the CPU) -timeout 20m
#   outage  outage tests (TestDisruptive*: they restart PostgreSQL and the
#           dockerd scripts/docker.sh started) in a serial step of their own,
#           because they break every test running beside them. They run on a
#           full run (no package arguments) or when DEVARCH_TEST_DISRUPTIVE=1.
#   fuzz    with the outage tests: a fuzz smoke run of every fuzz target
#           (scripts/fuzz.sh, FUZZTIME each, default 3s)
#
# Arguments go to `go test`. Arguments that look like packages (., ./x,
# ./x/..., github.com/...) replace the default ./... for gofmt, vet and test:
#
#   scripts/test.sh -run TestApply ./deploy/...
#   scripts/test.sh -v ./state
#
# All steps after setup run even when one fails; the last line sums them up
# with their durations, e.g.
#   test.sh: PASS (setup 41s, gofmt 2s, vet 20s, test 300s, outage 40s, fuzz 120s) in 523s
# and the exit status is non-zero if any failed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$SECONDS
cd "$REPO_ROOT"

# ensure_go puts Go on PATH (a fresh machine has it in /usr/local/go).
ensure_go() {
	command -v go >/dev/null && return 0
	if [[ ! -x /usr/local/go/bin/go ]]; then
		log "go not found; install Go (the version in go.mod) and put it on PATH"
		return 1
	fi
	export PATH=$PATH:/usr/local/go/bin
}

# ensure_corpus checks devarch's corpus and exports DEVARCH_CORPUS.
ensure_corpus() {
	local dir=${DEVARCH_CORPUS:-$REPO_ROOT/../shared/corpus}
	if [[ ! -d $dir/devarch-services || ! -d $dir/devarch-stacks ]]; then
		log "devarch's corpus (devarch-services/ and devarch-stacks/) is not in $dir;" \
			"the catalog, plan, deploy and import tests read it. Put it there (shared/corpus next to the repository) or set DEVARCH_CORPUS to its directory."
		return 1
	fi
	DEVARCH_CORPUS=$(cd "$dir" && pwd -P)
	export DEVARCH_CORPUS
}

# start_vet runs go vet -race on the packages in the background, its output
# in VET_LOG; wait_vet (the vet step) waits for it.
start_vet() {
	VET_LOG=$(mktemp)
	go vet -race "${PKGS[@]}" >"$VET_LOG" 2>&1 &
	VET_PID=$!
}

wait_vet() {
	local rc=0
	wait "$VET_PID" || rc=$?
	VET_PID=
	cat "$VET_LOG" >&2
	rm -f "$VET_LOG"
	return "$rc"
}

# stop_vet ends a background go vet still running (setup failed).
stop_vet() {
	if [[ -n ${VET_PID:-} ]]; then
		kill "$VET_PID" 2>/dev/null || true
		wait "$VET_PID" 2>/dev/null || true
		rm -f "$VET_LOG"
	fi
}

# setup installs what is missing, starts the services and exports the
# variables the tests read. It stops at the first failure.
setup() {
	local s=$REPO_ROOT/scripts
	ensure_go || return 1
	ensure_corpus || return 1
	"$s/tools.sh" install toolchain || return 1
	start_vet
	"$s/tools.sh" install || return 1
	"$s/tools.sh" versions
	"$s/postgres.sh" start >/dev/null || return 1
	"$s/docker.sh" ensure || return 1
	"$s/images.sh" tag-corpus || return 1 # builds the image first
	setup_engines || return 1
	docker_setup || true # exports DOCKER_API_VERSION when the CLI needs it
	DEVARCH_TEST_DATABASE_URL=$("$s/postgres.sh" url) || return 1
	export DEVARCH_TEST_DATABASE_URL DEVARCH_TEST_DOCKER=1 DEVARCH_TEST_REQUIRE=1
	log "DEVARCH_TEST_DATABASE_URL=$DEVARCH_TEST_DATABASE_URL DEVARCH_TEST_DOCKER=1 DEVARCH_TEST_REQUIRE=1 DEVARCH_CORPUS=$DEVARCH_CORPUS"
	if ! is_root && go list "${PKGS[@]}" 2>/dev/null | grep -q '/deploy$'; then
		log "WARNING: not root: the disk fault tests of ./deploy mount file systems and will fail (DEVARCH_TEST_REQUIRE=1); run the test command as root for a complete run."
	fi
	if [[ $OUTAGE == 1 ]] && ! "$s/docker.sh" owned; then
		log "WARNING: the Docker engine was not started by scripts/docker.sh, so the outage step cannot restart it and will fail." \
			"Stop that engine (e.g. sudo systemctl stop docker.socket docker) and run this again to let scripts/docker.sh start its own," \
			"or test without the outage and fuzz steps: scripts/test.sh ./..."
	fi
}

# setup_engines starts the test Podman (scripts/podman.sh), loads the test
# images into it and exports DEVARCH_TEST_ENGINES=docker,podman=unix://…
# and DEVARCH_TEST_PODMAN_CLI, so the tests that matter run on both
# engines. A DEVARCH_TEST_ENGINES set by the caller is kept (docker alone:
# DEVARCH_TEST_ENGINES=docker), and Podman is started only if it lists it.
setup_engines() {
	local s=$REPO_ROOT/scripts
	if [[ -n ${DEVARCH_TEST_ENGINES:-} && ,$DEVARCH_TEST_ENGINES != *,podman* ]]; then
		log "DEVARCH_TEST_ENGINES=$DEVARCH_TEST_ENGINES: no Podman"
		return 0
	fi
	"$s/podman.sh" ensure || return 1
	"$s/podman.sh" load-test-images || return 1
	DEVARCH_TEST_ENGINES=${DEVARCH_TEST_ENGINES:-docker,podman=$("$s/podman.sh" host)}
	DEVARCH_TEST_PODMAN_CLI=$("$s/podman.sh" cli-path)
	export DEVARCH_TEST_ENGINES DEVARCH_TEST_PODMAN_CLI
	log "DEVARCH_TEST_ENGINES=$DEVARCH_TEST_ENGINES DEVARCH_TEST_PODMAN_CLI=$DEVARCH_TEST_PODMAN_CLI"
}

# split_args fills PKGS (default ./...) and FLAGS from the arguments, and
# sets OUTAGE when the outage step should run.
split_args() {
	PKGS=() FLAGS=()
	local a
	for a in "$@"; do
		case $a in
		. | ./* | ../* | github.com/*) PKGS+=("$a") ;;
		*) FLAGS+=("$a") ;;
		esac
	done
	OUTAGE=${DEVARCH_TEST_DISRUPTIVE:-0}
	if ((${#PKGS[@]} == 0)); then
		PKGS=(./...)
		OUTAGE=1
	fi
}

# go_files lists every .go file of the packages, build-tag-excluded ones too.
go_files() {
	# shellcheck disable=SC2016 # a Go template, not a shell expansion
	local f='{{$d := .Dir}}'
	local list
	for list in GoFiles CgoFiles TestGoFiles XTestGoFiles IgnoredGoFiles; do
		f+="{{range .$list}}{{\$d}}/{{.}}{{\"\\n\"}}{{end}}"
	done
	go list -e -f "$f" "$@"
}

check_gofmt() {
	local files bad
	files=$(go_files "${PKGS[@]}") || return 1
	[[ -n $files ]] || return 0
	bad=$(xargs -d '\n' gofmt -l <<<"$files") || return 1
	if [[ -n $bad ]]; then
		log "these files are not gofmt-formatted (run: make fmt):"
		local f
		while IFS= read -r f; do printf '  %s\n' "${f#"$REPO_ROOT"/}"; done <<<"$bad" >&2
		return 1
	fi
}

# outage_packages prints the packages (./dir) holding TestDisruptive* tests.
outage_packages() {
	local dir
	while IFS= read -r dir; do
		if grep -qs '^func TestDisruptive' "$dir"/*_test.go; then
			printf '.%s\n' "${dir#"$REPO_ROOT"}"
		fi
	done < <(go list -e -f '{{.Dir}}' "${PKGS[@]}")
}

# run_outage_tests runs the outage tests one package at a time, with the
# commands they use to restart this environment's services.
run_outage_tests() {
	local pkgs f verbose=()
	mapfile -t pkgs < <(outage_packages)
	for f in "${FLAGS[@]}"; do
		[[ $f == -v || $f == -v=* ]] && verbose=("$f")
	done
	if ((${#pkgs[@]} == 0)); then
		log "no outage tests (TestDisruptive*) in these packages"
		return 0
	fi
	if ! scripts/docker.sh owned; then
		log "the outage tests restart the Docker engine, and scripts/docker.sh restarts only the dockerd it started;" \
			"this one was started otherwise. Stop it (e.g. sudo systemctl stop docker.socket docker) and run this again."
		return 1
	fi
	DEVARCH_TEST_DISRUPTIVE=1 \
		DEVARCH_TEST_PG_RESTART="scripts/postgres.sh restart" \
		DEVARCH_TEST_DOCKER_RESTART="scripts/docker.sh restart" \
		go test -race -count=1 -p 1 -timeout 10m "${verbose[@]}" -run '^TestDisruptive' "${pkgs[@]}"
}

STATUS=()
FAILED=0
# step NAME COMMAND...: runs a step, logs and records its outcome and time.
step() {
	local name=$1 t0=$SECONDS took
	shift
	log "== $name"
	if "$@"; then
		took=$((SECONDS - t0))
		STATUS+=("$name ${took}s")
		log "== $name: ok in ${took}s"
	else
		took=$((SECONDS - t0))
		STATUS+=("$name FAILED ${took}s")
		FAILED=1
		log "== $name: FAILED in ${took}s"
	fi
}

summary() {
	local list verdict=PASS
	list=$(printf '%s, ' "${STATUS[@]}")
	((FAILED)) && verdict=FAIL
	printf '%s: %s (%s) in %ds\n' "$SCRIPT_NAME" "$verdict" "${list%, }" "$((SECONDS - started))"
}

main() {
	split_args "$@"
	step setup setup
	if ((FAILED)); then
		stop_vet
		summary
		return 1
	fi
	step gofmt check_gofmt
	step vet wait_vet
	# Outage tests never run beside the others, whatever the caller exported.
	# Flags given to this script come last, so a -p of theirs wins.
	step test env -u DEVARCH_TEST_DISRUPTIVE \
		go test -race -count=1 -p "${DEVARCH_TEST_P:-4}" -timeout 20m "${FLAGS[@]}" "${PKGS[@]}"
	if [[ $OUTAGE == 1 ]]; then
		step outage run_outage_tests
	fi
	# Fuzz smoke: every fuzz target for a few seconds (full runs only).
	# Crashers land in testdata/fuzz/ and are replayed by go test from then on.
	if [[ $OUTAGE == 1 ]]; then
		step fuzz env FUZZTIME="${FUZZTIME:-3s}" scripts/fuzz.sh
	fi
	summary
	return "$FAILED"
}

main "$@"
