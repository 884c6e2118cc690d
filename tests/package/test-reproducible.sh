#!/usr/bin/env bash
# Reproducible packages: a second build of the same commit, in another
# folder (another path length too), later, with another time zone, umask and
# no test run, gives byte-identical .deb files.
#   tests/package/test-reproducible.sh [OUTDIR]
# OUTDIR holds the first build (test-deb.sh); without it both builds are
# made here.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "test-reproducible: FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hsmvault-repro.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

first=${1:-}
if [ -z "$first" ] || [ ! -f "$first/COMMIT" ]; then
	first=$tmp/first
	DEB_BUILD_OPTIONS=nocheck tools/build-deb.sh --binary-only "$first"
fi
commit=$(cat "$first/COMMIT")
second=$tmp/a-second-build-in-a-folder-with-a-longer-name
mkdir -p "$second"
# dpkg-buildpackage's dates come from debian/changelog (SOURCE_DATE_EPOCH):
# make sure the clock is not what decides. The other differences test that
# neither the time zone nor the umask nor the folder reaches a package.
sleep 1
(umask 0002 && TZ=Pacific/Kiritimati DEB_BUILD_OPTIONS=nocheck \
	TMPDIR=$tmp tools/build-deb.sh --binary-only "$second" "$commit")

n=0
for a in "$first"/*.deb; do
	b=$second/$(basename "$a")
	[ -f "$b" ] || fail "the second build made no $(basename "$a")"
	if cmp -s "$a" "$b"; then
		echo "identical: $(basename "$a") $(sha256sum <"$a" | cut -c1-64)"
		n=$((n + 1))
		continue
	fi
	echo "DIFFERENT: $(basename "$a")"
	if command -v diffoscope >/dev/null; then
		diffoscope --text - "$a" "$b" | head -n 80 || true
	else
		for d in "$a" "$b"; do
			mkdir -p "$d.x" && dpkg-deb -R "$d" "$d.x"
		done
		diff -r "$a.x" "$b.x" | head -n 40 || true
		(cd "$a.x" && find . -type f -exec sha256sum {} +) | sort -k2 >"$tmp/1"
		(cd "$b.x" && find . -type f -exec sha256sum {} +) | sort -k2 >"$tmp/2"
		diff "$tmp/1" "$tmp/2" || true
	fi
	fail "$(basename "$a") differs between two builds of one commit"
done
for b in "$second"/*.deb; do
	[ -f "$first/$(basename "$b")" ] || fail "only the second build made $(basename "$b")"
done
[ "$n" -ge 2 ] || fail "only $n packages compared"
echo "test-reproducible: ok: $n packages byte-identical"
