# shellcheck shell=sh
# Helpers for the arm64 e2e scenarios (tests/e2e-arm64/t_NAME.sh), which run
# inside the arm64 test host under its busybox sh: the shared root's x86
# bash, curl and coreutils do not run there, so this is POSIX sh with
# busybox applets, and the API is reached with build-aarch64/mvmm-api. The
# names and rules follow tests/e2e/lib.sh:
#
#   mvmm_boot [--append STR] [MVMM ARGS...]   start the arm64 guest
#   mvmm_boot_scenario NAME [MVMM ARGS...]    same, running guest scenario NAME
#   mvmm_start MVMM ARGS...                   start mvmm with exactly these args
#   mvmm_wait_for ERE [TIMEOUT_S]             wait for a console line after the
#                                             mark; prints it (\r stripped)
#   mvmm_mark / mvmm_send LINE                mark; mark, then type LINE
#   mvmm_scenario_rc NAME [TIMEOUT_S]         wait for MVMM-SCENARIO-END; rc
#   mvmm_wait_exit [TIMEOUT_S]                wait for exit; sets MVMM_STATUS
#   mvmm_expect_exit STATUS [TIMEOUT_S]       same, fail unless it is STATUS
#   mvmm_status_kib FIELD / rss_mib           /proc/PID/status of mvmm
#   api METHOD PATH [BODY] / api_ok ...       API_CODE and API_BODY
#   json_num FIELD / balloon_wait_actual MIB TIMEOUT_S / wait_api_sock
#   e2e_fail MSG / e2e_log MSG / e2e_figure NAME VALUE [UNIT] / e2e_now_ms
#
# A scenario passes by exiting 0 and fails otherwise; e2e_fail prints why and
# the console's and mvmm's stderr tails. Call mvmm_start, mvmm_wait_exit and
# mvmm_expect_exit directly, never in $(...): mvmm must be this shell's
# child to be waited for. One mvmm at a time.

set -e

E2E_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$E2E_ROOT" || exit 2

E2E_NAME=${E2E_NAME:-$(basename "$0" .sh)}
E2E_WORK=${E2E_WORK:-$(mktemp -d /tmp/mvmm-e2e-arm64.XXXXXX)}
E2E_MVMM=${E2E_MVMM:-build-aarch64/mvmm}
E2E_API=${E2E_API:-build-aarch64/mvmm-api}
E2E_KERNEL=${E2E_KERNEL:-build/guest-arm64/Image}
E2E_INITRD=${E2E_INITRD:-build/guest-arm64/initramfs.cpio.gz}
# quiet: each console byte is an MMIO exit, costly under nested TCG.
E2E_CMDLINE=${E2E_CMDLINE:-console=ttyS0 panic=-1 quiet}
# Nested KVM under TCG: the guest runs 20-50x slower than on hardware.
E2E_WAIT=${E2E_WAIT:-300}
# Seconds between polls. Each poll forks busybox processes on the test
# host's two emulated CPUs, which the guest needs too: a tight loop slowed
# its boot to a third.
E2E_POLL=${E2E_POLL:-1}

MVMM_PID=
MVMM_STATUS=
MVMM_MARK=0
MVMM_CONSOLE=$E2E_WORK/console.log
MVMM_STDERR=$E2E_WORK/mvmm.stderr
API_SOCK=$E2E_WORK/api.sock

e2e_log() {
	echo "e2e: $*"
}

e2e_figure() {
	echo "figure: $1 = $2${3:+ $3}"
}

# Milliseconds since boot: busybox date has no %N.
e2e_now_ms() {
	read -r _up _ </proc/uptime
	echo $((${_up%.*} * 1000 + 1${_up#*.} * 10 - 1000))
}

# Without a fork: the state field follows the command's closing ")".
_mvmm_alive() {
	[ -n "$MVMM_PID" ] && [ -z "$MVMM_STATUS" ] || return 1
	read -r _st 2>/dev/null <"/proc/$MVMM_PID/stat" || return 1
	_st=${_st##*) }
	_st=${_st%% *}
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

_e2e_cleanup() {
	if _mvmm_alive; then
		kill -KILL "$MVMM_PID" 2>/dev/null
		wait "$MVMM_PID" 2>/dev/null
	fi
}
trap _e2e_cleanup EXIT
trap 'exit 143' TERM INT

e2e_fail() {
	echo "FAIL: $E2E_NAME: $*" >&2
	if [ -s "$MVMM_CONSOLE" ]; then
		echo "--- console (last 30 lines)" >&2
		tr -d '\r' <"$MVMM_CONSOLE" | tail -n 30 >&2
	fi
	if [ -s "$MVMM_STDERR" ]; then
		echo "--- mvmm stderr (last 20 lines)" >&2
		tail -n 20 "$MVMM_STDERR" >&2
	fi
	exit 1
}

mvmm_start() {
	! _mvmm_alive || e2e_fail "mvmm_start: mvmm (pid $MVMM_PID) is still running"
	[ -x "$E2E_MVMM" ] || e2e_fail "$E2E_MVMM is missing: run make ARCH=aarch64"
	exec 3>&-
	rm -f "$E2E_WORK/console.in"
	mkfifo "$E2E_WORK/console.in"
	: >"$MVMM_CONSOLE"
	: >"$MVMM_STDERR"
	# Read-write: opening never blocks, and mvmm sees no EOF while we live.
	exec 3<>"$E2E_WORK/console.in"
	echo "e2e: $E2E_MVMM $*"
	"$E2E_MVMM" "$@" <"$E2E_WORK/console.in" >"$MVMM_CONSOLE" \
		2>"$MVMM_STDERR" 3>&- &
	MVMM_PID=$!
	MVMM_STATUS=
	MVMM_MARK=0
}

mvmm_boot() {
	_extra=
	if [ "${1:-}" = --append ]; then
		_extra=" $2"
		shift 2
	fi
	[ -f "$E2E_KERNEL" ] || e2e_fail "$E2E_KERNEL is missing: run make guest-arm64"
	[ -f "$E2E_INITRD" ] || e2e_fail "$E2E_INITRD is missing: run make guest-arm64"
	mvmm_start --kernel "$E2E_KERNEL" --initrd "$E2E_INITRD" \
		--cmdline "$E2E_CMDLINE$_extra" "$@"
}

mvmm_boot_scenario() {
	_name=$1
	shift
	mvmm_boot --append "mvmm.scenario=$_name" "$@"
}

mvmm_mark() {
	MVMM_MARK=$(wc -c <"$MVMM_CONSOLE")
}

_mvmm_match() {
	tail -c +$((MVMM_MARK + 1)) "$MVMM_CONSOLE" | tr -d '\r' |
		grep -E -m1 -- "$1"
}

mvmm_wait_for() {
	_pat=$1
	_deadline=$(($(e2e_now_ms) + ${2:-$E2E_WAIT} * 1000))
	[ -n "$MVMM_PID" ] || e2e_fail "mvmm_wait_for: mvmm not started"
	while :; do
		if _mvmm_alive; then
			_mvmm_match "$_pat" && return 0
		else
			# Output written just before exiting still counts.
			_mvmm_match "$_pat" && return 0
			e2e_fail "mvmm exited before the console showed /$_pat/"
		fi
		[ "$(e2e_now_ms)" -lt "$_deadline" ] ||
			e2e_fail "no console line matching /$_pat/ within ${2:-$E2E_WAIT}s"
		sleep "$E2E_POLL"
	done
}

mvmm_send() {
	_mvmm_alive || e2e_fail "mvmm_send: mvmm is not running"
	mvmm_mark
	printf '%s\n' "$1" >&3
}

mvmm_scenario_rc() {
	_line=$(mvmm_wait_for "MVMM-SCENARIO-END $1 rc=[0-9]+" "${2:-$E2E_WAIT}") || exit 1
	_line=${_line##*"MVMM-SCENARIO-END $1 rc="}
	echo "${_line%%[!0-9]*}"
}

mvmm_wait_exit() {
	[ -n "$MVMM_PID" ] || e2e_fail "mvmm_wait_exit: mvmm not started"
	[ -z "$MVMM_STATUS" ] || return 0
	_deadline=$(($(e2e_now_ms) + ${1:-$E2E_WAIT} * 1000))
	while _mvmm_alive; do
		[ "$(e2e_now_ms)" -lt "$_deadline" ] ||
			e2e_fail "mvmm still running ${1:-$E2E_WAIT}s later"
		sleep 0.5
	done
	MVMM_STATUS=0
	wait "$MVMM_PID" || MVMM_STATUS=$?
}

mvmm_expect_exit() {
	mvmm_wait_exit "${2:-$E2E_WAIT}"
	[ "$MVMM_STATUS" = "$1" ] ||
		e2e_fail "mvmm exited with status $MVMM_STATUS, expected $1"
	e2e_log "mvmm exited with status $MVMM_STATUS"
}

mvmm_status_kib() {
	sed -n "s/^${1:-VmRSS}:[[:space:]]*\([0-9]*\) kB\$/\1/p" "/proc/$MVMM_PID/status"
}

rss_mib() {
	echo $(($(mvmm_status_kib VmRSS) / 1024))
}

# api METHOD PATH [BODY]: sets API_CODE and API_BODY.
api() {
	_out=$("$E2E_API" "$API_SOCK" "$@") || e2e_fail "mvmm-api $1 $2 failed"
	API_CODE=$(printf '%s\n' "$_out" | head -n 1)
	API_BODY=$(printf '%s\n' "$_out" | sed 1d)
}

api_ok() {
	api "$@"
	case $API_CODE in
	2??) ;;
	*) e2e_fail "$1 $2 answered $API_CODE: $API_BODY" ;;
	esac
}

# json_num FIELD: the number FIELD in API_BODY.
json_num() {
	printf '%s' "$API_BODY" | grep -o "\"$1\": *[0-9]*" | head -n 1 | grep -o '[0-9]*$'
}

# balloon_wait_actual MIB TIMEOUT_S: waits until GET /balloon's actual_mib
# is MIB; prints the milliseconds it took.
balloon_wait_actual() {
	_t0=$(e2e_now_ms)
	while :; do
		api_ok GET /balloon
		_actual=$(json_num actual_mib)
		[ "$_actual" = "$1" ] && break
		[ $(($(e2e_now_ms) - _t0)) -lt $(($2 * 1000)) ] ||
			e2e_fail "balloon actual stayed at ${_actual} MiB, target $1 MiB"
		sleep "$E2E_POLL"
	done
	echo $(($(e2e_now_ms) - _t0))
}

wait_api_sock() {
	_n=300
	while [ ! -S "$API_SOCK" ]; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || e2e_fail "no API socket at $API_SOCK"
		sleep 0.1
	done
}

# no_seccomp_trap: no filter refused a syscall (mvmm's SIGSYS report line).
no_seccomp_trap() {
	! grep -q 'seccomp:' "$MVMM_STDERR" ||
		e2e_fail "a filter refused a syscall: $(grep 'seccomp:' "$MVMM_STDERR")"
}
