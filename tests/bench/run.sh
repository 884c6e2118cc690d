#!/bin/sh
# Runs every benchmark of tests/bench and prints their tables.
#   tests/bench/run.sh [BUILD_DIR]     (default: build-bench at the top)
# Builds the folder with meson/ninja first if needed. Benchmarks are
# programs, never meson tests: timing on a shared CI machine is noise.
# To add one: build it in tests/bench/meson.build and add its name (and
# arguments) to BENCHES below.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-"$top/build-bench"}

# name [args...], one per line
BENCHES='
bench_kdf
bench_vault
'
# Benchmarks against simulated cards: shell scripts run under the private
# PC/SC stack (tests/harness/run-in-pcsc-env.sh; root needed), each with
# its number of vpcd entries (two readers each).
CARD_BENCHES='
bench-restore.sh 1
bench-parallel.sh 4
'
# Benchmarks of the stick layer: shell scripts given the hsmvault binary
# (image files in TMPDIR; root not needed).
STICK_BENCHES='
bench-prepare.sh
'

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ ! -f "$build/build.ninja" ]; then
	if ! meson setup "$build" "$top" --buildtype=release >"$log" 2>&1; then
		cat "$log" >&2
		echo "run.sh: meson setup of $build failed" >&2
		exit 1
	fi
fi
targets=$(printf '%s\n' "$BENCHES" | awk 'NF { printf "tests/bench/%s ", $1 }')
targets="$targets src/cli/hsmvault src/sim/hsmvault-sim tests/harness/hv-pcsc-probe"
# shellcheck disable=SC2086 # one target per word
if ! ninja -C "$build" $targets >"$log" 2>&1; then
	cat "$log" >&2
	echo "run.sh: building the benchmarks failed" >&2
	exit 1
fi

status=0
printf '%s\n' "$BENCHES" | while read -r name args; do
	[ -n "$name" ] || continue
	echo "== $name"
	# shellcheck disable=SC2086 # args split on purpose
	if ! "$build/tests/bench/$name" $args; then
		echo "!! $name failed" >&2
		exit 1
	fi
	echo
done || status=1

while read -r name entries; do
	[ -n "$name" ] || continue
	echo "== $name"
	if ! HSMVAULT="$build/src/cli/hsmvault" HSMVAULT_SIM="$build/src/sim/hsmvault-sim" \
		HV_PCSC_PROBE="$build/tests/harness/hv-pcsc-probe" HV_PCSC_ENTRIES="$entries" \
		HV_TEST_TIMEOUT=900 BENCH_OUT="$build/$name.md" \
		"$top/tests/harness/run-in-pcsc-env.sh" "$top/tests/bench/$name" </dev/null; then
		echo "!! $name failed" >&2
		status=1
	fi
	echo
done <<LIST
$CARD_BENCHES
LIST

for name in $STICK_BENCHES; do
	echo "== $name"
	if ! HSMVAULT="$build/src/cli/hsmvault" BENCH_OUT="$build/$name.md" \
		"$top/tests/bench/$name" </dev/null; then
		echo "!! $name failed" >&2
		status=1
	fi
	echo
done
exit $status
