#!/usr/bin/env bash
# Runs the whole suite twice: a normal build (build/) and an
# AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan/).
# Ends with one line "tests: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
status=0

run_suite() { # build-dir, extra meson test args...
  local dir=$1; shift
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@"
  local rc=$?
  [ $rc -eq 0 ] || status=1
  # meson writes one JSON object per test; count results from it.
  local log="$dir/meson-logs/testlog.json"
  if [ -f "$log" ]; then
    local p f
    p=$(grep -c '"result": "OK"' "$log" || true)
    f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
    passed=$((passed + p))
    failed=$((failed + f))
  fi
}

[ -f build/build.ninja ] || meson setup build
ninja -C build || exit 1
run_suite build

if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C build-asan || exit 1
# The qemu boot test exercises the kernel, not more of our code: once is enough.
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
ASAN_OPTIONS=detect_leaks=1 \
  run_suite build-asan --no-suite qemu --no-suite bench

echo "tests: $passed passed, $failed failed"
[ $failed -eq 0 ] || status=1
exit $status
