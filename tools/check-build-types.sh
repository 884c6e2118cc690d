#!/usr/bin/env bash
# Configures and compiles hsmvault (programs and tests, nothing run) in one
# build type that is not CI's usual build/ (debugoptimized) or build-asan/:
#   release          --buildtype=release (gcc -O3)
#   plain            --buildtype=plain with a distribution's CFLAGS (Debian's)
#   debug-sanitize   --buildtype=debug with AddressSanitizer + UBSan (-O0)
# Always with -Dwerror=true: a distribution builds without -Werror, but the
# build must be warning-free in every type. Usage: check-build-types.sh TYPE...
# Uses a temporary build folder per type and 2 ninja jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

distro_cflags='-O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wformat -Werror=format-security'

[ $# -gt 0 ] || { echo "usage: $0 release|plain|debug-sanitize..." >&2; exit 2; }
rc=0
for type in "$@"; do
	dir=$(mktemp -d "${TMPDIR:-/tmp}/hsmvault-buildtype.XXXXXX")
	case $type in
	release) opts=(--buildtype=release); cflags= ;;
	plain) opts=(--buildtype=plain); cflags=$distro_cflags ;;
	debug-sanitize) opts=(--buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false)
		cflags= ;;
	*) echo "$0: unknown build type $type" >&2; exit 2 ;;
	esac
	start=$SECONDS
	if CFLAGS=$cflags meson setup "$dir" "$src" "${opts[@]}" -Dwerror=true >"$dir.log" 2>&1 &&
	   ninja -C "$dir" -j 2 >>"$dir.log" 2>&1; then
		echo "build type $type: compiled warning-free in $((SECONDS - start)) s"
	else
		echo "build type $type: FAILED (meson setup ${opts[*]} -Dwerror=true${cflags:+, CFLAGS=$cflags}):"
		grep -E -m 20 '(error|warning):' "$dir.log" || tail -n 20 "$dir.log"
		rc=1
	fi
	rm -rf "$dir" "$dir.log"
done
exit $rc
