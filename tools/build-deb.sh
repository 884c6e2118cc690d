#!/usr/bin/env bash
# Builds the Debian packages hsmvault and hsmvault-sim of one commit, from a
# fresh clone of this repository (never from the work tree: uncommitted
# changes are not in a package), with dpkg-buildpackage.
#   tools/build-deb.sh [--binary-only] OUTDIR [COMMIT]     (COMMIT: default HEAD)
# OUTDIR receives the .deb files, .buildinfo and .changes (and, without
# --binary-only, the source package: .dsc and .tar.xz, for lintian's source
# checks), and a file COMMIT naming the commit built. The clone is made under a new temporary folder, removed after.
# Honours DEB_BUILD_OPTIONS (e.g. nocheck: no test suites at build time).
# Needs the build dependencies of debian/control (tools/setup-debian.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

mode=()
if [ "${1:-}" = --binary-only ]; then
	mode=(-b)
	shift
fi
[ $# -ge 1 ] || { echo "usage: $0 [--binary-only] OUTDIR [COMMIT]" >&2; exit 2; }
out=$1
commit=$(git -C "$here" rev-parse --verify "${2:-HEAD}^{commit}")
mkdir -p "$out"
out=$(cd "$out" && pwd)

if [ -n "$(git -C "$here" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	echo "build-deb: note: the work tree has uncommitted changes; building commit" \
	     "${commit:0:12} without them" >&2
fi

# The folder names differ from build to build on purpose: a package must
# not depend on where it was built (tests/package/test-reproducible.sh).
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hsmvault-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
src=$tmp/hsmvault-${commit:0:12}
git clone -q --no-checkout "$here" "$src"
git -C "$src" checkout -q --detach "$commit"

dpkg-checkbuilddeps "$src/debian/control" || {
	echo "build-deb: install the build dependencies (tools/setup-debian.sh)" >&2
	exit 1
}
if ! (cd "$src" && dpkg-buildpackage -us -uc -jauto "${mode[@]}") >"$tmp/build.log" 2>&1; then
	tail -n 60 "$tmp/build.log"
	echo "build-deb: dpkg-buildpackage failed for commit ${commit:0:12} (log above)" >&2
	exit 1
fi
# dpkg-buildpackage writes next to the source folder.
find "$tmp" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.ddeb' -o -name '*.buildinfo' \
	-o -name '*.changes' -o -name '*.dsc' -o -name '*.tar.*' \) -exec mv -f {} "$out"/ \;
grep -E '^dh_auto_test|^(Ok|Fail|Skipped|Timeout|Expected Fail|Unexpected Pass): ' \
	"$tmp/build.log" || true
echo "$commit" >"$out/COMMIT"
echo "build-deb: commit ${commit:0:12} -> $out:"
(cd "$out" && ls -1 ./*.deb)
