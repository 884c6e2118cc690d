#!/bin/bash
# run-in-pcsc-env.sh TEST [ARGS...]
#
# Runs TEST (a script or a program) with a private PC/SC stack: a private
# mount namespace whose /run/pcscd is a fresh tmpfs, a pcscd of our own with
# vpcd readers on free TCP ports, and everything torn down by pid at the
# end — on success, failure, signal or timeout. See pcsc-env.sh for the
# variables and functions a test gets.
#
# Settings (environment):
#   HV_PCSC_ENTRIES   vpcd entries, 2 readers each (default 1)
#   HV_TEST_TIMEOUT   seconds before the test is stopped (default 600)
#   HV_KEEP_WORK      1 = keep the scratch folder even when the test passed
# Exit status: the test's; 1 for a harness failure; 124 on timeout.
set -u

HV_HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export HV_HARNESS_DIR
# shellcheck source=pcsc-env.sh
. "$HV_HARNESS_DIR/pcsc-env.sh"

[ $# -ge 1 ] || hv_fail "usage: run-in-pcsc-env.sh TEST [ARGS...]"
[ "$(id -u)" = 0 ] || hv_fail "the PC/SC test harness must run as root (private mount namespace, pcscd)"

if [ -z "${HV_PCSC_IN_NS:-}" ]; then
	hv_require_tool unshare util-linux
	hv_require_tool setpriv util-linux
	export HV_PCSC_IN_NS=1
	# No --fork: unshare execs, so this stays the process meson started and
	# meson's signals and process-group kill reach us directly.
	exec unshare -m --propagation private "$BASH" "${BASH_SOURCE[0]}" "$@"
fi

hv_require_tool pcscd pcscd
hv_require_file "$(_hv_vpcd_driver)" vsmartcard-vpcd
[ -n "${HV_PCSC_PROBE:-}" ] && [ -x "${HV_PCSC_PROBE}" ] ||
	hv_fail "HV_PCSC_PROBE must name the hv-pcsc-probe helper (set by meson test)"

HV_PCSC_WORK=$(mktemp -d "${TMPDIR:-/tmp}/hv-pcsc.XXXXXX") || hv_fail "mktemp failed"
export HV_PCSC_WORK
mkdir -p "$HV_PCSC_WORK/pids"

test_pid=""
watchdog_pid=""
status=1
finished=0

teardown() {
	[ "$finished" = 1 ] && return
	finished=1
	trap '' INT TERM
	[ -n "$watchdog_pid" ] && { kill "$watchdog_pid" 2>/dev/null; wait "$watchdog_pid" 2>/dev/null; }
	if [ -n "$test_pid" ] && kill -0 "$test_pid" 2>/dev/null; then
		# The test runs in its own process group (set -m): end all of it.
		kill -TERM -- "-$test_pid" 2>/dev/null
		for _ in $(seq 1 15); do
			kill -0 "$test_pid" 2>/dev/null || break
			sleep 0.02
		done
		kill -KILL -- "-$test_pid" 2>/dev/null
		wait "$test_pid" 2>/dev/null
	fi
	pcsc_env_stop
	if [ "$status" != 0 ]; then
		echo "---- pcscd log (last 60 lines of $HV_PCSC_WORK/pcscd.log) ----" >&2
		tail -n 60 "$HV_PCSC_WORK/pcscd.log" >&2 2>/dev/null
		for f in "$HV_PCSC_WORK"/sim-*.log; do
			[ -f "$f" ] || continue
			echo "---- $(basename "$f") (last 20 lines) ----" >&2
			tail -n 20 "$f" >&2
		done
		echo "harness: scratch folder kept: $HV_PCSC_WORK" >&2
	elif [ "${HV_KEEP_WORK:-0}" != 1 ]; then
		rm -rf "$HV_PCSC_WORK"
	fi
	umount /run/pcscd 2>/dev/null
}

on_signal() {
	echo "harness: stopped by signal $1; tearing down" >&2
	status=$((128 + $2))
	teardown
	exit "$status"
}
trap 'teardown' EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

# Our own pcscd socket: a tmpfs over /run/pcscd, visible only in this namespace.
mkdir -p /run/pcscd || hv_fail "cannot create /run/pcscd"
mount -t tmpfs -o mode=0755 hv-pcscd /run/pcscd || hv_fail "cannot mount a tmpfs over /run/pcscd"

pcsc_env_start "${HV_PCSC_ENTRIES:-1}"

# The test gets its own process group so a timeout can end all of it.
set -m
"$@" </dev/null &
test_pid=$!
set +m
timeout_s="${HV_TEST_TIMEOUT:-600}"
(
	# The sleep must not outlive the watchdog: it would hold meson's output pipe.
	sleep_pid=""
	trap '[ -n "$sleep_pid" ] && kill "$sleep_pid" 2>/dev/null; exit 0' TERM
	sleep "$timeout_s" >/dev/null 2>&1 </dev/null &
	sleep_pid=$!
	wait "$sleep_pid"
	echo "harness: test timed out after ${timeout_s}s" >&2
	: >"$HV_PCSC_WORK/timed-out"
	kill -TERM -- "-$test_pid" 2>/dev/null
	sleep 2
	kill -KILL -- "-$test_pid" 2>/dev/null
) &
watchdog_pid=$!

# wait (not a foreground command) so the traps run as soon as a signal arrives.
wait "$test_pid"
status=$?
if [ -e "$HV_PCSC_WORK/timed-out" ]; then
	status=124
fi
test_pid=""
if [ "$status" != 0 ]; then
	echo "harness: test exited with status $status" >&2
fi
teardown
exit "$status"
