#!/usr/bin/env bash
# scripts/bench.sh [--report | --only LABEL,...]: runs every benchmark of
# the project against the real PostgreSQL and Docker engine and writes
# BENCHMARKS.md (make bench).
#
#   --report              rewrite BENCHMARKS.md from the last run's raw lines,
#                         running nothing
#   --only plan,token     rerun only these benchmarks (labels: plan, token,
#                         latency, driftforeign, driftpodman, apply, pages, pass200,
#                         pass<STACKS>) and
#                         keep the other figures of the last run; the file's
#                         "When" table says when each figure was measured
#   --soak DURATION       how long the large pass's soak feeds serve engine
#                         events (default 60s; 1h for the long soak)
#   DEVARCH_BENCH_STACKS  stacks of the large steady-state pass (default 1000)
#   DEVARCH_BENCH_FOREIGN foreign labelled containers (another installation's)
#                         next to the large pass and one drift benchmark
#                         (default 5000)
#   BENCH_OUT             output file (default BENCHMARKS.md)
#
# It takes 20-30 minutes on 2 cores, mostly creating the 5,000 containers of
# the large pass and the 5,000 foreign ones (twice). Every figure in the file names the command that produced
# it; the integration ones need the services scripts/test.sh starts and the
# variables it exports (DEVARCH_TEST_DATABASE_URL, DEVARCH_TEST_DOCKER=1).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
[[ -x /usr/local/go/bin/go ]] && export PATH=$PATH:/usr/local/go/bin

STACKS=${DEVARCH_BENCH_STACKS:-1000}
FOREIGN=${DEVARCH_BENCH_FOREIGN:-5000}
SOAK=60s
EVENTS=1000
OUT=${BENCH_OUT:-BENCHMARKS.md}
# The raw benchmark lines ("label|line") and the command of each label
# ("label|command") are kept in the development folder.
RAW=$(state_dir)/bench.raw
CMDS=$RAW.cmd
# WHEN holds "label|UTC time|load average" of each label's last run.
WHEN=$RAW.when
ONLY=""

# shown ARGS...: the arguments as one would type them (single quotes
# around those with shell characters).
shown() {
	local a out=()
	for a in "$@"; do
		if [[ $a =~ [^A-Za-z0-9_./=:-] ]]; then out+=("'$a'"); else out+=("$a"); fi
	done
	printf '%s' "${out[*]}"
}

# bench LABEL [VAR=VALUE...] go test ARGS...: runs one benchmark command,
# appending its benchmark lines to $RAW and the command to $CMDS.
bench() {
	local label=$1
	shift
	if [[ -n $ONLY && ",$ONLY," != *",$label,"* ]]; then
		return
	fi
	if [[ -n $ONLY ]]; then
		drop_label "$label"
	fi
	printf '%s|%s|%s\n' "$label" "$(date -u '+%Y-%m-%d %H:%M')" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WHEN"
	local envs=()
	while [[ $1 == *=* ]]; do
		envs+=("$1")
		shift
	done
	local cmd
	cmd=$(shown "${envs[@]}" "$@")
	printf '%s|%s\n' "$label" "$cmd" >>"$CMDS"
	log "== $label: $cmd"
	# The output goes to stderr as it comes (not with tee /dev/stderr, which
	# reopens a log file stderr points to and truncates it).
	env "${envs[@]}" "$@" | awk -v l="$label" '{print > "/dev/stderr"; fflush("/dev/stderr")} /^Benchmark/ {print l "|" $0}' >>"$RAW"
}

# drop_label LABEL: removes LABEL's lines from the raw results, its
# command and its time, before it runs again.
drop_label() {
	local f
	for f in "$RAW" "$CMDS" "$WHEN"; do
		[[ -e $f ]] || continue
		awk -v l="$1" 'index($0, l "|") != 1' "$f" >"$f.tmp" && mv "$f.tmp" "$f"
	done
}

run_benchmarks() {
	scripts/postgres.sh start >/dev/null
	scripts/docker.sh ensure
	scripts/images.sh build
	DEVARCH_TEST_DATABASE_URL=$(scripts/postgres.sh url)
	export DEVARCH_TEST_DATABASE_URL DEVARCH_TEST_DOCKER=1 DEVARCH_TEST_REQUIRE=1

	bench plan go test -run '^$' -bench 'BenchmarkCompute$|BenchmarkComputeAllChanged$' -benchtime 5000x -benchmem ./plan
	bench token go test -run '^$' -bench 'BenchmarkToken$' -benchmem -count 10 ./plan
	# Every drift benchmark of reconcile (Drift in the name), whatever it is
	# called: the table shows each p50/p99 pair a latency benchmark reports.
	bench latency go test -run '^$' -bench 'BenchmarkApprovalToApplyStart$|BenchmarkNoOpApply$|BenchmarkDriftSeen$' -benchtime 100x -timeout 30m ./reconcile
	bench driftforeign DEVARCH_BENCH_FOREIGN="$FOREIGN" go test -run '^$' -bench 'BenchmarkDriftSeenAmongForeign$' -benchtime 100x -timeout 60m ./reconcile
	# The drift benchmark on the test Podman (scripts/podman.sh, as
	# scripts/test.sh starts it).
	if [[ -z $ONLY || ",$ONLY," == *",driftpodman,"* ]]; then
		scripts/podman.sh ensure
		scripts/podman.sh load-test-images
	fi
	bench driftpodman DEVARCH_TEST_ENGINES="docker,podman=$(scripts/podman.sh host)" go test -run '^$' -bench 'BenchmarkDriftSeenPodman$' -benchtime 100x -timeout 30m ./reconcile
	bench apply go test -run '^$' -bench 'BenchmarkApplyConverged$|BenchmarkApplyFromScratch$' -benchtime 10x -timeout 30m ./deploy
	bench pages go test -run '^$' -bench 'BenchmarkStackPage$' -benchtime 1000x -timeout 10m ./api
	bench pass200 DEVARCH_BENCH_STACKS=200 go test -run '^$' -bench 'BenchmarkSteadyStatePass$' -benchtime 10x -timeout 30m ./reconcile
	bench "pass$STACKS" DEVARCH_BENCH_STACKS="$STACKS" DEVARCH_BENCH_FOREIGN="$FOREIGN" DEVARCH_BENCH_EVENTS="$EVENTS" DEVARCH_BENCH_SOAK="$SOAK" \
		go test -run '^$' -bench 'BenchmarkSteadyStatePass$' -benchtime 10x -timeout 3h ./reconcile
}

if [[ ${1:-} == --soak ]]; then
	SOAK=${2:?"--soak needs a duration, such as --soak 1h"}
	[[ $SOAK =~ ^[0-9]+(s|m|h)$ ]] || die "--soak $SOAK: want a duration such as 60s, 10m or 1h"
	shift 2
fi
case ${1:-} in
--report) ;;
--only)
	ONLY=${2:?"--only needs labels, such as --only plan,token"}
	[[ -s $RAW ]] || die "--only keeps the figures of a previous full run, and there is none; run scripts/bench.sh first"
	run_benchmarks
	;;
"")
	: >"$RAW"
	: >"$CMDS"
	: >"$WHEN"
	cut -d' ' -f1-3 /proc/loadavg >"$RAW.load"
	run_benchmarks
	;;
*) die "usage: scripts/bench.sh [--soak DURATION] [--report | --only LABEL,...]" ;;
esac
[[ -s $RAW && -s $CMDS ]] || die "no benchmark results in $RAW; run scripts/bench.sh first"
LOAD_START=$(cat "$RAW.load" 2>/dev/null || echo unknown)

# metric LABEL BENCH UNIT: the values of UNIT in LABEL's lines of benchmark
# BENCH (a sub-benchmark is BENCH/NAME), one per line.
metric() {
	awk -v l="$1" -v b="$2" -v u="$3" '{
		i = index($0, "|")
		if (substr($0, 1, i - 1) != l) next
		n = split(substr($0, i + 1), f, /[ \t]+/)
		if (f[1] !~ ("^" b "(-[0-9]+)?$")) next
		for (k = 2; k < n; k++) if (f[k+1] == u) print f[k]
	}' "$RAW"
}
# first LABEL BENCH UNIT: the first value, or n/a
first() {
	local v
	v=$(metric "$@" | head -n1)
	printf '%s' "${v:-n/a}"
}
# median: the median of the numbers on stdin (nearest rank), or n/a
median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) {print "n/a"; exit} print a[int((NR + 1) / 2)]}'; }
# num X: X with at most 3 significant decimals, or n/a
num() { awk -v x="$1" 'BEGIN {if (x == "n/a" || x == "") print "n/a"; else printf "%.4g", x}'; }
us() { awk -v x="$1" 'BEGIN {if (x == "n/a" || x == "") print "n/a"; else printf "%.1f µs", x / 1000}'; }
ms() { awk -v x="$1" 'BEGIN {if (x == "n/a" || x == "") print "n/a"; else printf "%.0f ms", x / 1e6}'; }
# command LABEL: the command that produced LABEL's lines
command_of() {
	local c
	c=$(awk -v l="$1" 'index($0, l "|") == 1 {print substr($0, length(l) + 2); exit}' "$CMDS")
	printf '`%s`' "${c:-unknown}"
}

# latency_rows LABEL: one row per "X-p50-ms"/"X-p99-ms" pair of the
# benchmarks of LABEL, whatever they measure.
latency_rows() {
	local label=$1 line name pairs what target note
	while IFS= read -r line; do
		name=$(awk '{sub(/-[0-9]+$/, "", $1); print $1}' <<<"$line")
		pairs=$(tr -s ' \t' '\n' <<<"$line" | sed -n 's/-p50-ms$//p')
		for what in $pairs; do
			case $what in
			approval-to-apply-start) target="p50 ≤ 50 ms, p99 ≤ 250 ms" note="approval row inserted → apply starts" ;;
			noop-apply) target="≤ 300 ms" note="no-op apply of a converged 10-service stack, approval → succeeded" ;;
			*-to-die-event) target="—" note="the engine alone: \`docker ${what%%-*}\` request → its die event (part of the rows below)" ;;
			*-die-event-to-row) target="—" note="the controller alone: the engine's die event of a \`docker ${what%%-*}\` (as an event stream of the benchmark's own receives it) → the stack's stack_status row says Drifted, sample by sample" ;;
			*-to-row) target="p99 ≤ 250 ms" note="\`docker ${what%%-*}\` request → the stack's stack_status row says Drifted (real serve, resync 10 min: the Docker event alone)" ;;
			*-to-metric) target="p99 ≤ 250 ms" note="\`docker ${what%%-*}\` request → /metrics says devarch_stack_drifted 1 (real serve, resync 10 min)" ;;
			*stop* | *kill* | *drift*) target="—" note="stack turns Drifted" ;;
			*) target="—" note="" ;;
			esac
			if [[ $name == *Podman* ]]; then
				note="${note//\`docker /\`podman }, on Podman's Docker-compatible API"
				note=${note//Docker event/Podman event}
				[[ $what == *-to-row || $what == *-to-metric ]] && target="p99 ≤ 1 s"
			fi
			if [[ $name == *AmongForeign* ]]; then
				note="$note, with $(num "$(first "$label" "$name" foreign-containers)") foreign labelled containers on the engine (another installation's 1,000 stacks)"
				[[ $what == *-die-event-to-row ]] && target="p99 ≤ 100 ms (event → status row)"
			fi
			printf '| %s (`%s`, %s) | %s | %s ms | %s ms | %s samples | %s |\n' "$note" "$name" "$what" "$target" \
				"$(num "$(first "$label" "$name" "$what-p50-ms")")" "$(num "$(first "$label" "$name" "$what-p99-ms")")" \
				"$(num "$(first "$label" "$name" samples)")" "$(command_of "$label")"
		done
	done < <(cut -d'|' -f2- <(grep "^$label|" "$RAW"))
}

plan_row() { # plan_row BENCH TEXT TARGET
	local b=$1
	printf '| %s | %s | %s (mean %s) | %s | %s samples; %s allocs, %s B per plan | %s |\n' "$2" "$3" \
		"$(us "$(awk -v x="$(first plan "$b" p50-us)" 'BEGIN {print x == "n/a" ? x : x * 1000}')")" \
		"$(us "$(first plan "$b" ns/op)")" \
		"$(us "$(awk -v x="$(first plan "$b" p99-us)" 'BEGIN {print x == "n/a" ? x : x * 1000}')")" \
		"$(num "$(first plan "$b" samples)")" "$(first plan "$b" allocs/op)" "$(first plan "$b" B/op)" "$(command_of plan)"
}

{
	echo "# Benchmarks"
	echo
	echo "Produced by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d). Every figure comes from"
	echo "the command in its row (all of them from that one script); rerun it to reproduce them."
	echo "Integration benchmarks run against the real PostgreSQL cluster and Docker engine that"
	echo "scripts/test.sh starts, with the variables it exports (\`DEVARCH_TEST_DATABASE_URL\`,"
	echo "\`DEVARCH_TEST_DOCKER=1\`). Percentiles (p50, p99) are nearest-rank percentiles of individually"
	echo "timed operations; \"mean\" is go test's ns/op."
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
	echo "| PostgreSQL | $(scripts/postgres.sh psql -tAc 'SHOW server_version' 2>/dev/null | head -n1 || echo unknown) |"
	echo "| load average when the run started / ended | $LOAD_START / $(cut -d' ' -f1-3 /proc/loadavg) |"
	echo
	echo "## Results"
	echo
	echo "| what | target | p50 | p99 | notes | command |"
	echo "|---|---|---|---|---|---|"
	plan_row BenchmarkCompute/cache=warm "\`plan.Compute\`, converged 10-instance stack as read from the store (content digests), full service model (17 container options each), warm (record cache holds the stack)" "≤ 100 µs"
	plan_row BenchmarkCompute/cache=cold "\`plan.Compute\`, converged 10-instance stack as read from the store, full service model, cold (first plan: cache emptied before each call)" "≤ 100 µs"
	plan_row BenchmarkComputeAllChanged/cache=warm "\`plan.Compute\`, all 10 instances modified, warm" "—"
	plan_row BenchmarkComputeAllChanged/cache=cold "\`plan.Compute\`, all 10 instances modified, cold" "—"
	printf '| staleness token, 10 instances read from the store (MAC over content digests) | — | %s (median of 10 means) | — | mean per call of each of 10 runs; no per-call percentiles | %s |\n' \
		"$(us "$(metric token BenchmarkToken/stored ns/op | median)")" "$(command_of token)"
	printf '| staleness token, 10 instances built in memory (MAC over the encoded specs) | — | %s (median of 10 means) | — | mean per call of each of 10 runs | %s |\n' \
		"$(us "$(metric token BenchmarkToken/in-memory ns/op | median)")" "$(command_of token)"
	latency_rows latency
	latency_rows driftforeign
	latency_rows driftpodman
	printf '| `deploy.Apply`, converged 10-service stack (no-op) | — | — (mean %s) | — | mean of 10 applies | %s |\n' \
		"$(ms "$(first apply BenchmarkApplyConverged ns/op)")" "$(command_of apply)"
	printf '| `deploy.Apply`, 10-service stack from scratch | — | — (mean %s) | — | mean of 10 applies | %s |\n' \
		"$(ms "$(first apply BenchmarkApplyFromScratch ns/op)")" "$(command_of apply)"
	printf '| `GET /api/v1/stacks?limit=100&cursor=…`, one page from the client'"'"'s side (HTTP round trip and JSON decode included), walking the pages of 10,000 stacks × 5 instances | p99 ≤ 50 ms | %s ms | %s ms | %s pages | %s |\n' \
		"$(num "$(first pages BenchmarkStackPage p50-ms)")" "$(num "$(first pages BenchmarkStackPage p99-ms)")" \
		"$(num "$(first pages BenchmarkStackPage pages)")" "$(command_of pages)"
	for label in pass200 "pass$STACKS"; do
		n=$(num "$(first "$label" BenchmarkSteadyStatePass stacks)")
		target="—"
		[[ $label != pass200 ]] && target="≤ 1 s; 1 list, 0 inspects; constant queries"
		printf '| steady-state pass, %s stacks × 5 containers (created, not started) | %s | — (mean %s) | — | mean of 10 passes; %s container list, %s inspects, %s Docker calls and %s SQL queries per pass; of a pass, the engine'"'"'s container list alone takes %s ms and the desired-state read %s ms | %s |\n' \
			"$n" "$target" "$(ms "$(first "$label" BenchmarkSteadyStatePass ns/op)")" \
			"$(num "$(first "$label" BenchmarkSteadyStatePass container-lists/pass)")" "$(num "$(first "$label" BenchmarkSteadyStatePass inspects/pass)")" \
			"$(num "$(first "$label" BenchmarkSteadyStatePass docker-calls/pass)")" "$(num "$(first "$label" BenchmarkSteadyStatePass queries/pass)")" \
			"$(num "$(first "$label" BenchmarkSteadyStatePass engine-list-ms)")" "$(num "$(first "$label" BenchmarkSteadyStatePass desired-read-ms)")" \
			"$(command_of "$label")"
	done
	for label in pass200 "pass$STACKS"; do
		n=$(num "$(first "$label" BenchmarkSteadyStatePass stacks)")
		f=$(num "$(first "$label" BenchmarkSteadyStatePass foreign-containers)")
		target="—"
		[[ $label != pass200 ]] && target="≤ 100 MB"
		printf '| peak resident memory (VmHWM) of `devarch-controller serve` after its first full pass over %s stacks × 5 containers, %s foreign containers on the engine | %s | %s MB | — | read from /proc/PID/status of a real serve process (no race detector) on the same database and containers; VmRSS then %s MB | %s |\n' \
			"$n" "$f" "$target" "$(num "$(first "$label" BenchmarkSteadyStatePass serve-vmhwm-MB)")" \
			"$(num "$(first "$label" BenchmarkSteadyStatePass serve-rss-MB)")" "$(command_of "$label")"
	done
	label="pass$STACKS"
	n=$(num "$(first "$label" BenchmarkSteadyStatePass stacks)")
	f=$(num "$(first "$label" BenchmarkSteadyStatePass foreign-containers)")
	printf '| full pass over %s stacks × 5 containers next to %s foreign containers, over one bare list of the engine'"'"'s labelled containers | ≤ 2 | %s × | — | the pass (mean %s) over one container list with the label filter, timed right after in the same run (%s ms) | %s |\n' \
		"$n" "$f" "$(num "$(first "$label" BenchmarkSteadyStatePass pass-per-list)")" "$(ms "$(first "$label" BenchmarkSteadyStatePass ns/op)")" \
		"$(num "$(first "$label" BenchmarkSteadyStatePass engine-list-ms)")" "$(command_of "$label")"
	printf '| cold start: `serve` process start → /readyz 200 (first full pass done), %s stacks × 5 containers, %s foreign | ≤ 5 s | %s s | — | every stack'"'"'s status was on /metrics %s s after the start | %s |\n' \
		"$n" "$f" "$(num "$(first "$label" BenchmarkSteadyStatePass serve-ready-s)")" \
		"$(num "$(first "$label" BenchmarkSteadyStatePass serve-first-pass-s)")" "$(command_of "$label")"
	printf '| VmHWM of `serve` after its first pass and %s engine events (renames of the stacks'"'"' containers, each a pass of one stack) | ≤ 100 MB | %s MB | — | VmRSS then %s MB | %s |\n' \
		"$(num "$(first "$label" BenchmarkSteadyStatePass serve-events)")" "$(num "$(first "$label" BenchmarkSteadyStatePass serve-events-vmhwm-MB)")" \
		"$(num "$(first "$label" BenchmarkSteadyStatePass serve-events-rss-MB)")" "$(command_of "$label")"
	printf '| soak: VmRSS of `serve` at the start and the end of %s s of engine events (renames, one after the other) | no growth | %s MB → %s MB | — | highest sample %s MB (every 5 s); VmHWM after the soak %s MB; `scripts/bench.sh --soak 1h` soaks an hour | %s |\n' \
		"$(num "$(first "$label" BenchmarkSteadyStatePass soak-s)")" "$(num "$(first "$label" BenchmarkSteadyStatePass soak-rss-start-MB)")" \
		"$(num "$(first "$label" BenchmarkSteadyStatePass soak-rss-end-MB)")" "$(num "$(first "$label" BenchmarkSteadyStatePass soak-rss-max-MB)")" \
		"$(num "$(first "$label" BenchmarkSteadyStatePass soak-vmhwm-MB)")" "$(command_of "$label")"
	if [[ -s $WHEN ]]; then
		echo
		echo "## When"
		echo
		echo "| benchmarks | measured (UTC) | load average then |"
		echo "|---|---|---|"
		awk -F'|' '{printf "| %s | %s | %s |\n", $1, $2, $3}' "$WHEN"
		echo
		echo "Benchmarks not listed come from the last full run, started $(date -u -r "$RAW.load" '+%Y-%m-%d %H:%M' 2>/dev/null || echo '(unknown)') UTC."
	fi
	echo
	echo "## Reading the figures"
	echo
	echo "* **Drift.** The clock starts when the \`docker kill\` (SIGKILL) or \`docker stop\` request is"
	echo "  sent and stops when the stack's row in \`stack_status\` (polled every 2 ms) or \`/metrics\`"
	echo "  (polled every 10 ms) says drifted; each iteration starts the container again and waits for"
	echo "  both to say in sync. The *to-die-event* rows are the engine's own share (request → its die"
	echo "  event, read from an event stream of the benchmark's own); the *die-event-to-row* rows are"
	echo "  the controller's, sample by sample (event → status row, the scale target). The controller"
	echo "  shows a die at once and confirms it with an inspect once the engine lets go of the"
	echo "  container (docs/runtime.md, *Events*); an event's pass takes the stack's containers from"
	echo "  the cache kept by events, so the engine's container list, which walks every container it"
	echo "  holds, is not on its path (docs/runtime.md, *One stack at a time*)."
	echo "  The Podman rows (\`BenchmarkDriftSeenPodman\`) send the same requests to Podman's"
	echo "  Docker-compatible API, which serve watches: Podman reads its events from its event log,"
	echo "  whose die arrives a few hundred milliseconds after the request."
	echo "* **Memory.** VmHWM is the peak of a real \`serve\` process, read from /proc, not the"
	echo "  benchmark harness's heap. At the peak of the first pass the live heap (about 54 MB at"
	echo "  1,000 stacks × 5 containers and 5,000 foreign ones) is mostly the desired state read from"
	echo "  the database (instances share their template; each carries its effective spec), the"
	echo "  observer's cache (snapshots share its containers) and the per-stack metric series; serve's"
	echo "  soft memory limit (docs/configuration.md) keeps the rest near the live heap."
	echo
	echo "Raw benchmark lines:"
	echo
	echo '```'
	cut -d'|' -f2- "$RAW"
	echo '```'
} >"$OUT"
log "wrote $OUT"
