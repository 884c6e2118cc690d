#!/usr/bin/env bash
# Runs the whole suite twice: a normal build (build/) and an
# AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan/), both with
# -Werror; then compiles the other build types, builds the Debian package
# (lintian, a second build compared byte for byte) and installs the offline
# bundle in a minimal Debian 12 root without network (tests/package/).
# Ends with one line "tests: N passed, N failed"; each step after the meson
# suites counts as one test.
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

# CI's builds fail on any warning; the project's defaults do not (distributions).
with_werror() { # build-dir
  meson introspect "$1" --buildoptions | grep '"name": "werror", "value": true' >/dev/null ||
    meson configure "$1" -Dwerror=true
}

# A step that is not a meson test: one test in the closing line, timed.
run_step() { # name, command...
  local name=$1; shift
  local start=$SECONDS
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "=== ok: $name ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    status=1
    echo "=== FAIL: $name ($((SECONDS - start)) s)"
  fi
}

[ -f build/build.ninja ] || meson setup build -Dwerror=true
with_werror build
ninja -C build || exit 1
run_suite build

if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dwerror=true
fi
with_werror build-asan
ninja -C build-asan || exit 1
# The qemu boot test exercises the kernel, not more of our code: once is enough.
# flows-extra-profile (the flows tests' nitrokey-hsm2 runs, the same client
# code paths as smartcard-hsm with another ATR and serial form) runs in the
# normal build only: under the sanitizers it would add minutes, not coverage.
# smartcard-hsm and pico-hsm flows run in both builds.
# campaign (pull/kill at every APDU and write): minutes of the same flows
# repeated; the normal build's run is the measurement, ASan would double it.
# (and the kill campaign's LD_PRELOAD shim cannot load under ASan, which must come first).
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
ASAN_OPTIONS=detect_leaks=1 \
  run_suite build-asan --no-suite qemu --no-suite bench --no-suite flows-extra-profile --no-suite campaign

# Every build type compiles warning-free (debugoptimized is build/ above).
for type in release plain debug-sanitize; do
  run_step "build type $type" tools/check-build-types.sh "$type"
done
run_step "fuzzers: 10 parsers, 10 s each" tools/run-fuzzers.sh 10

# The Debian package of HEAD: built and lintian-checked, built again elsewhere
# and compared byte for byte, then installed as the offline bundle in a
# minimal Debian 12 root without network, where the drill runs.
pkgout=$(mktemp -d "${TMPDIR:-/tmp}/hsmvault-ci-pkg.XXXXXX")
run_step "package: build, lintian, contents" tests/package/test-deb.sh "$pkgout"
run_step "package: reproducible" tests/package/test-reproducible.sh "$pkgout"
run_step "package: offline bundle" tests/package/test-bundle.sh "$pkgout"
rm -rf "$pkgout"

echo "tests: $passed passed, $failed failed"
[ $failed -eq 0 ] || status=1
exit $status
