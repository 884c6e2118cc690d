#!/bin/sh
# Builds the libFuzzer target for the crypto layer's parsers with clang,
# outside meson (libFuzzer needs -fsanitize=fuzzer on every object).
#   tests/fuzz/build-crypto-fuzz.sh [OUTPUT]        (default: ./crypto_fuzz)
#   ./crypto_fuzz -max_len=4096 CORPUS_DIR
# The first input byte picks the parser (see crypto_fuzz.c). A seed corpus
# can be made from tests/data/sc-hsm-tool: prefix wrapped.bin with 01,
# a .pbe file with 03.
# Needs: clang, libssl-dev.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-./crypto_fuzz}
CC=${CC:-clang}
# shellcheck disable=SC2046 # pkg-config output is meant to split
$CC -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-I"$top/src" \
	"$top/tests/fuzz/crypto_fuzz.c" \
	"$top/src/crypto/dkek.c" "$top/src/crypto/keyblob.c" \
	"$top/src/crypto/prkd.c" "$top/src/crypto/wrapfile.c" \
	"$top/src/crypto/dkek_share.c" "$top/src/crypto/kdf.c" \
	"$top/src/crypto/md5.c" \
	"$top/src/util/err.c" "$top/src/util/secbuf.c" "$top/src/util/buf.c" \
	"$top/src/util/tlv.c" "$top/src/util/hex.c" \
	$(pkg-config --cflags --libs libcrypto) \
	-o "$out"
echo "built $out"
