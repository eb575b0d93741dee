#!/usr/bin/env bash
# scripts/fuzz.sh [-l] [FILTER]
#
# Fuzz smoke run: every fuzz target of the module (func FuzzXxx(f *testing.F)
# in a *_test.go file, found with grep, so a new target is picked up by
# itself) is fuzzed for a short, bounded time, one target at a time. Each
# package's test binary is built once, with fuzzing instrumentation
# (go test -c -fuzz=.), and run once per target from the package's
# directory, exactly as `go test` would run it:
#
#   go test -run '^$' -fuzz '^FuzzXxx$' -fuzztime $FUZZTIME ./pkg
#
#   -l       list the targets (package and name) and exit
#   FILTER   an extended regular expression: fuzz only the targets whose
#            "package FuzzName" line matches it (e.g. 'api|FuzzParse$')
#
# Environment:
#   FUZZTIME          time (or Nx iterations) per target, default 10s
#   FUZZMINIMIZETIME  time to minimize a failing input, default 20s
#
# A target that fails (a crash, a failed assertion, a hang) makes the script
# exit non-zero at the end, after the other targets ran. Go writes the
# failing input to <pkg>/testdata/fuzz/FuzzXxx/<hash>: that file IS the
# regression test, since plain `go test` replays every file there. Commit it
# together with the fix; the script prints where it is.
#
# Budget: the time is about (number of targets) x (FUZZTIME + ~1 s start-up)
# plus one build per package with fuzzing instrumentation (the first one
# compiles every dependency again, instrumented). scripts/test.sh runs it
# with FUZZTIME=3s.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FUZZTIME=${FUZZTIME:-10s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-20s}

# targets prints "pkgdir FuzzName" for every fuzz target, sorted.
targets() {
	grep -rEo --include='*_test.go' --exclude-dir=.git --exclude-dir=testdata \
		'^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . |
		sed -E 's#^\./(.*)/[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#\1 \2#; s#^\./[^/]+_test\.go:func (Fuzz[A-Za-z0-9_]*)\(.*#. \1#' |
		sort -u
}

# build_pkg PKGDIR LOG: builds PKGDIR's test binary with fuzzing
# instrumentation into $BINDIR, its output in LOG.
build_pkg() {
	local dir=$1 out=$2
	go test -c -fuzz=. -o "$BINDIR/$(bin_name "$dir")" "./$dir" >"$out" 2>&1
}

# bin_name PKGDIR: the file name of PKGDIR's test binary in $BINDIR.
bin_name() { printf '%s.test\n' "${1//\//_}"; }

# fuzz_one PKGDIR NAME LOG: fuzzes one target with its package's binary,
# from the package's directory (go test's working directory: seeds and
# crashers live in testdata/fuzz/ there), its output in LOG. The flags are
# those go test -fuzz passes, the cache directory included, so the corpus
# the fuzzer gathered ($GOCACHE/fuzz/IMPORTPATH) is shared with go test.
fuzz_one() {
	local dir=$1 name=$2 out=$3
	(cd "$dir" && "$BINDIR/$(bin_name "$dir")" -test.paniconexit0 -test.timeout=10m \
		-test.run='^$' -test.fuzz="^${name}\$" -test.fuzztime="$FUZZTIME" \
		-test.fuzzminimizetime="$FUZZMINIMIZETIME" -test.fuzzcachedir="$FUZZCACHE/$IMPORTPATH") >"$out" 2>&1
}

# engine_timeout LOG: true when a fuzz run failed with the fuzzing engine's
# own "context deadline exceeded" and wrote no failing input: on a loaded
# machine the coordinator can miss -fuzztime's deadline while its workers
# are starved. That is no finding; the run is tried once more.
engine_timeout() {
	grep -q 'context deadline exceeded' "$1" && ! grep -q 'Failing input written' "$1"
}

# fuzz_target PKGDIR NAME LOG: fuzz_one, run once more after an
# engine_timeout.
fuzz_target() {
	fuzz_one "$@" && return 0
	engine_timeout "$3" || return 1
	log "retry $1 $2: the fuzzing engine missed its deadline without a finding (a loaded machine)"
	fuzz_one "$@"
}

# report_failure PKGDIR NAME LOG: prints the end of the log and where the
# failing input was written.
report_failure() {
	local dir=$1 name=$2 out=$3 written
	log "FAIL $dir $name; the end of its output:"
	tail -n 40 "$out" >&2
	written=$(sed -nE 's#.*Failing input written to (testdata/fuzz/[^ ]+).*#\1#p' "$out" | tail -n1)
	if [[ -n $written ]]; then
		log "the failing input is $dir/$written: it is now a regression test that plain 'go test ./$dir' replays."
		log "fix the bug, then COMMIT $dir/$written with the fix (rerun it alone: go test -run '^$name\$' ./$dir)."
	else
		log "no failing input was written (a build error or a timeout?); rerun: go test -run '^\$' -fuzz '^$name\$' -fuzztime $FUZZTIME ./$dir"
	fi
}

main() {
	cd "$REPO_ROOT"
	local list=0 filter=
	case ${1:-} in
	-l) list=1 filter=${2:-} ;;
	-h | --help)
		sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
		return 0
		;;
	*) filter=${1:-} ;;
	esac
	local all=() line
	while IFS= read -r line; do
		if [[ -z $filter ]] || grep -Eq -- "$filter" <<<"$line"; then
			all+=("$line")
		fi
	done < <(targets)
	((${#all[@]} > 0)) || die "no fuzz target matches '${filter}'"
	if ((list)); then
		printf '%s\n' "${all[@]}"
		return 0
	fi

	local started=$SECONDS passed=0 failed=0 failures=() dir name t0 built= build_ok=0 buildlog=
	LOGDIR=$(mktemp -d)
	BINDIR=$LOGDIR/bin
	mkdir "$BINDIR"
	FUZZCACHE=$(go env GOCACHE)/fuzz
	trap 'rm -rf "$LOGDIR"' EXIT
	log "${#all[@]} fuzz targets, $FUZZTIME each"
	for line in "${all[@]}"; do
		read -r dir name <<<"$line"
		t0=$SECONDS
		if [[ $dir != "$built" ]]; then # targets are sorted by package
			built=$dir build_ok=1
			buildlog=$LOGDIR/build-$(bin_name "$dir").log
			IMPORTPATH=$(go list "./$dir" 2>"$buildlog") && build_pkg "$dir" "$buildlog" || build_ok=0
		fi
		if ((build_ok)) && fuzz_target "$dir" "$name" "$LOGDIR/$name.log"; then
			passed=$((passed + 1))
			log "ok   $dir $name ($((SECONDS - t0))s)"
		else
			failed=$((failed + 1))
			failures+=("$dir $name")
			if ((build_ok)); then
				report_failure "$dir" "$name" "$LOGDIR/$name.log"
			else
				log "FAIL $dir $name: the package's test binary did not build:"
				tail -n 40 "$buildlog" >&2 || true
			fi
		fi
	done
	if ((failed > 0)); then
		log "failed targets: $(printf '%s; ' "${failures[@]}")"
		log "failing inputs under */testdata/fuzz/ are regression tests: commit them with the fixes."
	fi
	printf '%s: %d passed, %d failed in %ds\n' "$SCRIPT_NAME" "$passed" "$failed" "$((SECONDS - started))"
	((failed == 0))
}

main "$@"
