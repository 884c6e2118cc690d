#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/) with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs each for a bounded time on a copy
# of its seed corpus (nothing new is written into the tree). Fails on any
# crash, leak, sanitizer report or timeout; the reproducer is left in the
# run's work folder, named in the output.
#   tools/run-fuzzers.sh [SECONDS_PER_FUZZER]    (default 20)
# Environment: FUZZ_BUILD (build folder, default build-fuzz).
# Needs: clang and libclang-rt-14-dev (libFuzzer), see tools/setup-debian.sh.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-20}
build=${FUZZ_BUILD:-build-fuzz}
fuzzers="policy manifest record secrets dkek_share nofm wrapfile cvc card ext4"

command -v clang >/dev/null ||
  { echo "run-fuzzers: clang is missing (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

if [ ! -f "$build/build.ninja" ]; then
  # fuzzer-no-link on every object: the libraries under test report coverage
  # to libFuzzer; only the harnesses link libFuzzer's main.
  CC=clang meson setup "$build" -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link || exit 1
fi
targets=()
for f in $fuzzers; do targets+=("tests/fuzz/fuzz_$f"); done
ninja -C "$build" "${targets[@]}" || exit 1

work=$(mktemp -d "${TMPDIR:-/tmp}/hsmvault-fuzz.XXXXXX") || exit 1
failed=0
for f in $fuzzers; do
  mkdir -p "$work/$f/corpus" "$work/$f/artifacts"
  cp tests/fuzz/corpus/"$f"/* "$work/$f/corpus/"
  max_len=8192
  [ "$f" = ext4 ] && max_len=65536 # the start of a file system image
  # -timeout: one input taking over 10 s is a finding (a hang).
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     ASAN_OPTIONS=detect_leaks=1 \
     "$build/tests/fuzz/fuzz_$f" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len="$max_len" -print_final_stats=0 -artifact_prefix="$work/$f/artifacts/" \
       "$work/$f/corpus" >"$work/$f/log" 2>&1; then
    echo "fuzz_$f: ok, $(grep -Eo 'Done [0-9]+ runs' "$work/$f/log" | grep -Eo '[0-9]+') runs in ${seconds} s"
  else
    failed=1
    echo "fuzz_$f: FINDING (log and reproducer in $work/$f):"
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$work/$f/log" | head -10
  fi
done
if [ $failed -eq 0 ]; then
  rm -rf "$work"
else
  echo "run-fuzzers: a fuzzer found a problem; reproduce with $build/tests/fuzz/fuzz_NAME FILE" >&2
fi
exit $failed
