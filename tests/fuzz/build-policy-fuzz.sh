#!/bin/sh
# Builds the libFuzzer target for the policy parser with clang, outside
# meson (libFuzzer needs -fsanitize=fuzzer on every object).
#   tests/fuzz/build-policy-fuzz.sh [OUTPUT]        (default: ./policy_fuzz)
#   ./policy_fuzz -max_len=70000 CORPUS_DIR policies/
# Needs: clang, libyaml-dev, libssl-dev.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-./policy_fuzz}
CC=${CC:-clang}
# shellcheck disable=SC2046 # pkg-config output is meant to split
$CC -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-I"$top/src" \
	"$top/tests/fuzz/policy_fuzz.c" \
	"$top/src/policy/ytree.c" "$top/src/policy/policy.c" \
	"$top/src/policy/policy_describe.c" \
	"$top/src/util/err.c" "$top/src/util/fileio.c" "$top/src/util/secbuf.c" \
	$(pkg-config --cflags --libs yaml-0.1 libcrypto) \
	-o "$out"
echo "built $out"
