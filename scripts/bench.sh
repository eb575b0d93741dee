#!/usr/bin/env bash
# scripts/bench.sh: runs every benchmark of the project against the real
# PostgreSQL and Docker engine and writes BENCHMARKS.md (make bench).
#
#   DEVARCH_BENCH_STACKS  stacks of the large steady-state pass (default 1000)
#   BENCH_OUT             output file (default BENCHMARKS.md)
#
# It takes 10-20 minutes on 2 cores, mostly creating the 5,000 containers of
# the large pass.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
[[ -x /usr/local/go/bin/go ]] && export PATH=$PATH:/usr/local/go/bin

STACKS=${DEVARCH_BENCH_STACKS:-1000}
OUT=${BENCH_OUT:-BENCHMARKS.md}
# The raw benchmark lines ("label|line") are kept in the development folder;
# `scripts/bench.sh --report` rewrites BENCHMARKS.md from them without
# running anything.
RAW=$(state_dir)/bench.raw

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
run_benchmarks() {
scripts/postgres.sh start >/dev/null
scripts/docker.sh ensure
scripts/images.sh build
DEVARCH_TEST_DATABASE_URL=$(scripts/postgres.sh url)
export DEVARCH_TEST_DATABASE_URL DEVARCH_TEST_DOCKER=1 DEVARCH_TEST_REQUIRE=1

bench() { # bench LABEL go-test-args...: appends "LABEL<TAB>benchmark line" to $RAW
	local label=$1
	shift
	log "== $label: go test $*"
	go test -run '^$' "$@" | tee /dev/stderr | awk -v l="$label" '/^Benchmark/ {print l "|" $0}' >>"$RAW"
}

bench plan -bench 'BenchmarkCompute$|BenchmarkComputeAllChanged$|BenchmarkToken$' -benchmem -count 10 ./plan
bench latency -bench 'BenchmarkApprovalToApplyStart$|BenchmarkDockerStopToDrifted$|BenchmarkNoOpApply$' -benchtime 100x -timeout 30m ./reconcile
bench apply -bench 'BenchmarkApplyConverged$|BenchmarkApplyFromScratch$' -benchtime 10x -timeout 30m ./deploy
DEVARCH_BENCH_STACKS=200 bench pass200 -bench 'BenchmarkSteadyStatePass$' -benchtime 10x -timeout 30m ./reconcile
DEVARCH_BENCH_STACKS=$STACKS bench "pass$STACKS" -bench 'BenchmarkSteadyStatePass$' -benchtime 10x -timeout 60m ./reconcile
echo "$LOAD_START" >"$RAW.load"
}
if [[ ${1:-} != --report ]]; then
	: >"$RAW"
	run_benchmarks
fi
LOAD_START=$(cat "$RAW.load" 2>/dev/null || echo unknown)

# metric LABEL BENCH UNIT: the values of UNIT in matching lines, one per line
metric() {
	awk -v l="$1" -v b="$2" -v u="$3" '{
		i = index($0, "|")
		if (substr($0, 1, i - 1) != l) next
		n = split(substr($0, i + 1), f, /[ \t]+/)
		if (f[1] !~ ("^" b "(-[0-9]+)?$")) next
		for (k = 2; k < n; k++) if (f[k+1] == u) print f[k]
	}' "$RAW"
}
# pct P: the P-th percentile (nearest rank) of numbers on stdin
pct() { sort -g | awk -v p="$1" '{a[NR] = $1} END {if (NR == 0) {print "n/a"; exit} i = int(p * (NR - 1) + 0.5) + 1; print a[i]}'; }
us() { awk '{printf "%.1f µs", $1 / 1000}'; }
ms() { awk '{printf "%.0f ms", $1 / 1e6}'; }
first() { metric "$@" | head -n1; }

{
	echo "# Benchmarks"
	echo
	echo "Produced by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d). Every figure below comes from"
	echo "that one command; rerun it to reproduce them. Integration benchmarks run against the real"
	echo "PostgreSQL cluster and Docker engine that scripts/test.sh uses."
	echo
	echo "## Machine"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| CPU | $(nproc) × $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//') |"
	echo "| memory | $(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo) |"
	echo "| kernel | $(uname -sr) |"
	echo "| Go | $(go version | awk '{print $3}') |"
	echo "| Docker engine | $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})' 2>/dev/null || echo unknown) |"
	echo "| PostgreSQL | $(scripts/postgres.sh psql -tAc 'SHOW server_version' | head -n1) |"
	echo "| load average when the run started / ended | $LOAD_START / $(cut -d' ' -f1-3 /proc/loadavg) |"
	echo
	echo "## Results"
	echo
	echo "| what | target | median | p99 | notes |"
	echo "|---|---|---|---|---|"
	echo "| \`plan.Compute\`, converged 10-instance stack | ≤ 100 µs | $(metric plan BenchmarkCompute ns/op | pct 0.5 | us) | $(metric plan BenchmarkCompute ns/op | pct 0.99 | us) | $(first plan BenchmarkCompute allocs/op) allocs, $(first plan BenchmarkCompute B/op) B per plan (10 runs) |"
	echo "| \`plan.Compute\`, all 10 instances modified | — | $(metric plan BenchmarkComputeAllChanged ns/op | pct 0.5 | us) | $(metric plan BenchmarkComputeAllChanged ns/op | pct 0.99 | us) | $(first plan BenchmarkComputeAllChanged allocs/op) allocs |"
	echo "| staleness token, 10 instances | — | $(metric plan BenchmarkToken ns/op | pct 0.5 | us) | $(metric plan BenchmarkToken ns/op | pct 0.99 | us) | |"
	echo "| approval insert → apply start | p50 ≤ 50 ms, p99 ≤ 250 ms | $(first latency BenchmarkApprovalToApplyStart approval-to-apply-start-p50-ms) ms | $(first latency BenchmarkApprovalToApplyStart approval-to-apply-start-p99-ms) ms | $(first latency BenchmarkApprovalToApplyStart samples) samples |"
	echo "| \`docker stop\` → stack Drifted (status and metrics) | p50 ≤ 500 ms, p99 ≤ 2 s | $(first latency BenchmarkDockerStopToDrifted stop-to-drifted-p50-ms) ms | $(first latency BenchmarkDockerStopToDrifted stop-to-drifted-p99-ms) ms | resync timer 1 h: the Docker event alone; from \`docker stop\` returning |"
	echo "| no-op apply, converged 10-service stack, approval → succeeded | ≤ 300 ms | $(first latency BenchmarkNoOpApply noop-apply-p50-ms) ms | $(first latency BenchmarkNoOpApply noop-apply-p99-ms) ms | $(first latency BenchmarkNoOpApply samples) samples |"
	echo "| \`deploy.Apply\`, converged 10-service stack (no-op) | — | $(first apply BenchmarkApplyConverged ns/op | ms) | — | mean of 10 |"
	echo "| \`deploy.Apply\`, 10-service stack from scratch | — | $(first apply BenchmarkApplyFromScratch ns/op | ms) | — | mean of 10 |"
	for label in pass200 "pass$STACKS"; do
		n=$(first "$label" BenchmarkSteadyStatePass stacks)
		target="—"
		[[ $label != pass200 ]] && target="≤ 1 s; 1 list, 0 inspects; constant queries"
		echo "| steady-state pass, $n stacks × 5 containers (created, not started) | $target | $(first "$label" BenchmarkSteadyStatePass ns/op | ms) | — | $(first "$label" BenchmarkSteadyStatePass container-lists/pass) container list, $(first "$label" BenchmarkSteadyStatePass inspects/pass) inspects, $(first "$label" BenchmarkSteadyStatePass docker-calls/pass) Docker calls and $(first "$label" BenchmarkSteadyStatePass queries/pass) SQL queries per pass; mean of 10; of a pass, the engine's container list alone takes $(first "$label" BenchmarkSteadyStatePass engine-list-ms) ms and the desired-state read $(first "$label" BenchmarkSteadyStatePass desired-read-ms) ms |"
	done
	echo "| resident memory after passes over $STACKS stacks | ≤ 150 MB | $(first "pass$STACKS" BenchmarkSteadyStatePass rss-MB) MB | — | VmRSS of the benchmark process (controller, test harness and the observer's cache of 5 × $STACKS containers) |"
	echo
	echo "## Commands"
	echo
	echo '```sh'
	echo "make bench                                   # everything above (scripts/bench.sh)"
	echo "go test -run '^\$' -bench . -benchmem ./plan  # pure benchmarks, no services needed"
	echo "DEVARCH_BENCH_STACKS=1000 go test -run '^\$' -bench SteadyStatePass ./reconcile   # after scripts/test.sh set up the services"
	echo '```'
	echo
	echo "Raw benchmark lines:"
	echo
	echo '```'
	cut -d'|' -f2- "$RAW"
	echo '```'
} >"$OUT"
log "wrote $OUT"
