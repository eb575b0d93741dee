#!/usr/bin/env bash
# scripts/test.sh [go test flags] [packages]
#
# THE test command (make test, CI). It brings up the test environment, then
# checks and tests the module:
#
#   1. PostgreSQL (scripts/postgres.sh start), Docker (scripts/docker.sh
#      ensure), the test image and its corpus tags (scripts/images.sh)
#   2. exports DEVARCH_TEST_DATABASE_URL, DEVARCH_TEST_DOCKER=1 and
#      DEVARCH_TEST_REQUIRE=1, so no integration test can skip silently
#   3. gofmt (lists unformatted files), go vet, go test -race -count=1 -timeout 20m
#   4. outage tests (TestDisruptive*: they restart PostgreSQL and the dockerd
#      scripts/docker.sh started) in a serial step of their own, because they
#      break every test running beside them. They run on a full run (no
#      package arguments) or when DEVARCH_TEST_DISRUPTIVE=1 is set.
#   5. with the outage tests: a fuzz smoke run of every fuzz target
#      (scripts/fuzz.sh, FUZZTIME each, default 3s)
#
# Arguments go to `go test`. Arguments that look like packages (., ./x,
# ./x/..., github.com/...) replace the default ./... for all three checks:
#
#   scripts/test.sh -run TestApply ./deploy/...
#   scripts/test.sh -v ./state
#
# All steps run even when one fails; the last line sums them up and the
# exit status is non-zero if any failed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

started=$SECONDS
cd "$REPO_ROOT"

ensure_toolchain() {
	if ! command -v go >/dev/null; then
		[[ -x /usr/local/go/bin/go ]] || die "go not found; install Go (version in go.mod) and put it on PATH"
		export PATH=$PATH:/usr/local/go/bin
	fi
	# -race needs cgo, which needs a C compiler.
	if ! command -v "$(go env CC)" >/dev/null; then
		is_root || die "go test -race needs a C compiler; install one (Debian: sudo apt-get install -y gcc libc6-dev)"
		apt_install gcc libc6-dev
	fi
}

ensure_environment() {
	local s=$REPO_ROOT/scripts
	"$s/postgres.sh" start >/dev/null
	"$s/docker.sh" ensure
	"$s/images.sh" build
	"$s/images.sh" tag-corpus
	docker_setup || true # exports DOCKER_API_VERSION when the CLI needs it
	DEVARCH_TEST_DATABASE_URL=$("$s/postgres.sh" url)
	export DEVARCH_TEST_DATABASE_URL DEVARCH_TEST_DOCKER=1 DEVARCH_TEST_REQUIRE=1
	log "DEVARCH_TEST_DATABASE_URL=$DEVARCH_TEST_DATABASE_URL DEVARCH_TEST_DOCKER=1 DEVARCH_TEST_REQUIRE=1"
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
	DEVARCH_TEST_DISRUPTIVE=1 \
		DEVARCH_TEST_PG_RESTART="scripts/postgres.sh restart" \
		DEVARCH_TEST_DOCKER_RESTART="scripts/docker.sh restart" \
		go test -race -count=1 -p 1 -timeout 10m "${verbose[@]}" -run '^TestDisruptive' "${pkgs[@]}"
}

STATUS=()
FAILED=0
step() {
	local name=$1
	shift
	log "== $name"
	if "$@"; then
		STATUS+=("$name ok")
	else
		STATUS+=("$name FAILED")
		FAILED=1
	fi
}

main() {
	split_args "$@"
	ensure_toolchain
	ensure_environment
	step gofmt check_gofmt
	step vet go vet "${PKGS[@]}"
	# Outage tests never run beside the others, whatever the caller exported.
	step test env -u DEVARCH_TEST_DISRUPTIVE \
		go test -race -count=1 -timeout 20m "${FLAGS[@]}" "${PKGS[@]}"
	if [[ $OUTAGE == 1 ]]; then
		step outage run_outage_tests
	fi
	# Fuzz smoke: every fuzz target for a few seconds (full runs only).
	# Crashers land in testdata/fuzz/ and are replayed by go test from then on.
	if [[ $OUTAGE == 1 ]]; then
		step fuzz env FUZZTIME="${FUZZTIME:-3s}" scripts/fuzz.sh
	fi
	local summary verdict=PASS
	summary=$(printf '%s, ' "${STATUS[@]}")
	((FAILED)) && verdict=FAIL
	printf '%s: %s (%s) in %ds\n' "$SCRIPT_NAME" "$verdict" "${summary%, }" "$((SECONDS - started))"
	return "$FAILED"
}

main "$@"
