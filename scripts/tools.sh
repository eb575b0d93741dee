#!/usr/bin/env bash
# scripts/tools.sh missing [toolchain] | install [--dry-run] [toolchain] | versions
#
# The system packages the tests need, installed only when missing (checked
# by command, so a second run never calls apt-get):
#
#   C toolchain (go test -race needs cgo)   gcc libc6-dev
#   docker CLI; dockerd unless an engine answers   docker.io
#   Podman, its init (the tests' second engine)     podman catatonit
#   PostgreSQL 15 server (initdb, pg_ctl)   postgresql-15
#   chromium (dashboard tests)              chromium
#   promtool, prometheus (metrics tests)    prometheus
#   systemd-analyze (systemd unit test)     systemd
#   git (go build stamps the commit)        git
#   CA certificates (Go module downloads)   ca-certificates
#
#   missing    print the Debian packages to install, one a line (none: nothing)
#   install    install them with apt-get as root; as another user, or
#              without apt-get, print exactly what to install and fail.
#              --dry-run prints the apt-get command instead of running it.
#   toolchain  (with missing or install) only the C toolchain: scripts/test.sh
#              installs it first, so that compiling can start while the
#              rest installs
#   versions   print the version of every tool, "not installed" when missing
#
# For tests of this script: DEVARCH_TEST_PRETEND_MISSING (commands to treat
# as not installed, space separated: apt-get too, and libc6-dev or
# ca-certificates for those files) and
# DEVARCH_TEST_PRETEND_ROOT (1 or 0: who the script believes it runs as).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# have CMD: CMD is on PATH (and not pretended missing).
have() {
	[[ " ${DEVARCH_TEST_PRETEND_MISSING:-} " != *" $1 "* ]] && command -v "$1" >/dev/null
}

root() {
	case ${DEVARCH_TEST_PRETEND_ROOT:-} in
	1) return 0 ;;
	0) return 1 ;;
	*) is_root ;;
	esac
}

find_go() {
	have go && return 0
	[[ -x /usr/local/go/bin/go ]] || die "go not found; install Go (the version in go.mod) and put it on PATH"
	export PATH=$PATH:/usr/local/go/bin
}

# c_toolchain_works: the C compiler cgo uses builds a program that
# includes the C library's headers.
c_toolchain_works() {
	local cc
	cc=$(go env CC)
	have "${cc%% *}" || return 1
	[[ -z ${DEVARCH_TEST_PRETEND_MISSING:-} ]] || [[ " $DEVARCH_TEST_PRETEND_MISSING " != *" libc6-dev "* ]] || return 1
	printf '#include <stdlib.h>\nint main(void) { return EXIT_SUCCESS; }\n' |
		$cc -x c -o /dev/null - >/dev/null 2>&1
}

have_browser() {
	[[ -n ${DEVARCH_CHROMIUM:-} ]] && return 0
	local b
	for b in chromium chromium-browser google-chrome google-chrome-stable; do
		have "$b" && return 0
	done
	return 1
}

have_postgres() {
	[[ -n ${DEVARCH_PG_BIN:-} && -x $DEVARCH_PG_BIN/initdb ]] && return 0
	have initdb && return 0
	[[ " ${DEVARCH_TEST_PRETEND_MISSING:-} " != *" initdb "* && -x /usr/lib/postgresql/15/bin/initdb ]]
}

# need_docker_engine: dockerd must be installed, because no engine answers.
need_docker_engine() {
	have dockerd && return 1
	have docker || return 0
	docker_setup >/dev/null 2>&1 || return 0
	! docker_answers
}

# have_catatonit: Podman's init (init: true) is installed.
have_catatonit() {
	[[ " ${DEVARCH_TEST_PRETEND_MISSING:-} " != *" catatonit "* ]] || return 1
	have catatonit || [[ -x /usr/libexec/podman/catatonit ]]
}

# missing [toolchain] prints the packages to install, in a fixed order.
missing() {
	c_toolchain_works || printf '%s\n' gcc libc6-dev
	[[ ${1:-} == toolchain ]] && return 0
	if ! have docker || need_docker_engine; then echo docker.io; fi
	have podman || echo podman
	have_catatonit || echo catatonit
	have_postgres || echo postgresql-15
	have_browser || echo chromium
	if ! have promtool || ! have prometheus; then echo prometheus; fi
	have systemd-analyze || echo systemd
	if [[ -e $REPO_ROOT/.git ]] && ! have git; then echo git; fi
	if [[ ! -e /etc/ssl/certs/ca-certificates.crt || " ${DEVARCH_TEST_PRETEND_MISSING:-} " == *" ca-certificates "* ]]; then
		echo ca-certificates
	fi
}

install() {
	local dry=0 group=
	if [[ ${1:-} == --dry-run ]]; then
		dry=1
		shift
	fi
	group=${1:-}
	local pkgs
	mapfile -t pkgs < <(missing "$group")
	if ((${#pkgs[@]} == 0)); then
		if [[ $group == toolchain ]]; then
			log "the C toolchain is installed"
		else
			log "every tool the tests need is installed"
		fi
		return 0
	fi
	if ! root; then
		cat >&2 <<-EOF
			$SCRIPT_NAME: the tests need packages that are not installed, and installing them needs root.
			Install them, then run this again:
			    sudo apt-get install -y ${pkgs[*]}
		EOF
		return 1
	fi
	if ! have apt-get; then
		cat >&2 <<-EOF
			$SCRIPT_NAME: the tests need packages that are not installed, and apt-get is not available.
			Install these Debian packages (or your distribution's equivalents), then run this again:
			    ${pkgs[*]}
		EOF
		return 1
	fi
	if ((dry)); then
		echo "apt-get install -y ${pkgs[*]}"
		return 0
	fi
	# Recommended packages are installed too: docker.io recommends
	# cgroupfs-mount, chromium its fonts.
	apt_install "${pkgs[@]}"
	local still
	still=$(missing "$group")
	[[ -z $still ]] || die "still missing after apt-get install: $(tr '\n' ' ' <<<"$still")"
}

# version NAME COMMAND...: one line, or "not installed"
version() {
	local name=$1 out
	shift
	out=$("$@" 2>/dev/null | head -n1) || true
	printf '%-12s %s\n' "$name" "${out:-not installed}"
}

versions() {
	# shellcheck disable=SC2016 # the sh -c scripts expand in the child shell
	{
		version os sh -c '. /etc/os-release && echo "$PRETTY_NAME ($(uname -srm))"'
		version go go version
		version cc sh -c '$(go env CC) --version'
		version git git --version
		version dockerd dockerd --version
		version docker sh -c '"${DEVARCH_DOCKER_CLI:-$(command -v /usr/bin/docker docker | head -n1)}" --version'
		version podman podman --version
		version postgres sh -c 'p=$(command -v postgres || echo /usr/lib/postgresql/15/bin/postgres); "$p" --version'
		version chromium sh -c '"${DEVARCH_CHROMIUM:-$(command -v chromium chromium-browser google-chrome google-chrome-stable | head -n1)}" --version'
		version prometheus prometheus --version
		version promtool promtool --version
		version systemd sh -c 'systemd-analyze --version'
		echo "cpus: $(nproc), memory: $(awk '/^MemTotal:/ {printf "%d MiB", $2 / 1024}' /proc/meminfo)"
	} >&2
}

find_go
case ${1:-} in
missing) missing "${2:-}" ;;
install)
	shift
	install "$@"
	;;
versions) versions ;;
*)
	echo "usage: scripts/tools.sh missing [toolchain] | install [--dry-run] [toolchain] | versions" >&2
	exit 2
	;;
esac
