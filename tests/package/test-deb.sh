#!/usr/bin/env bash
# The Debian package: built from a clean clone with dpkg-buildpackage (the
# unit and vault suites run inside the build), lintian-clean at the default
# level (errors and warnings fail), and holding what debian/ promises.
#   tests/package/test-deb.sh [OUTDIR]
# OUTDIR (default: a temporary folder) keeps the packages for
# test-reproducible.sh and test-bundle.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-$(mktemp -d "${TMPDIR:-/tmp}/hsmvault-pkg.XXXXXX")}
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
for tool in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian fakeroot:fakeroot; do
	command -v "${tool%%:*}" >/dev/null ||
		fail "${tool%%:*} is missing: install the Debian package ${tool##*:} (tools/setup-debian.sh)"
done

rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo "$out"/*.dsc "$out"/*.tar.* "$out/COMMIT"
tools/build-deb.sh "$out"
changes=("$out"/hsmvault_*_amd64.changes)
[ -f "${changes[0]}" ] || fail "no .changes file in $out"
deb=$(ls "$out"/hsmvault_*.deb)
sim=$(ls "$out"/hsmvault-sim_*.deb)

echo "--- lintian (fails on errors and warnings)"
lintian --fail-on error,warning --display-info --tag-display-limit 0 "${changes[0]}" ||
	fail "lintian found errors or warnings (above)"

echo "--- contents"
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for want in ./usr/bin/hsmvault ./usr/share/man/man1/hsmvault.1.gz \
	./usr/share/bash-completion/completions/hsmvault \
	./lib/systemd/system/hsmvault-verify.service ./lib/systemd/system/hsmvault-verify.timer \
	./usr/share/hsmvault/policies/classic.yaml ./usr/share/hsmvault/policies/split-share.yaml \
	./usr/share/hsmvault/policies/three-cards.yaml ./usr/share/doc/hsmvault/copyright; do
	grep -qx -- "$want" <<<"$files" || fail "hsmvault lacks $want"
done
grep -q '^\./usr/share/hsmvault/trust-anchors/.*\.cvc$' <<<"$files" ||
	fail "hsmvault holds no trust anchor (usr/share/hsmvault/trust-anchors/*.cvc)"
grep -q 'hsmvault-sim' <<<"$files" && fail "hsmvault holds the simulator; it belongs to hsmvault-sim"
simfiles=$(dpkg-deb -c "$sim" | awk '{print $6}')
for want in ./usr/bin/hsmvault-sim ./usr/share/man/man1/hsmvault-sim.1.gz; do
	grep -qx -- "$want" <<<"$simfiles" || fail "hsmvault-sim lacks $want"
done

echo "--- relations"
# Exactly the libraries hsmvault links, as dpkg-shlibdeps found them.
depends=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -e 's/^ *//' -e 's/ .*//' | sort -u | xargs)
want_depends="libblkid1 libc6 libcom-err2 libcryptsetup12 libext2fs2 libpcsclite1 libssl3 libyaml-0-2"
[ "$depends" = "$want_depends" ] ||
	fail "hsmvault Depends on '$depends', expected '$want_depends'"
[ "$(dpkg-deb -f "$deb" Recommends)" = pcscd ] || fail "hsmvault should recommend pcscd"
dpkg-deb -f "$deb" Suggests | grep -qw opensc || fail "hsmvault should suggest opensc"
for want in pcscd vsmartcard-vpcd hsmvault; do
	dpkg-deb -f "$sim" Depends | tr ',' '\n' | grep -qE "^ *$want( |$)" ||
		fail "hsmvault-sim does not depend on $want"
done

echo "--- the verify timer is installed, neither enabled nor started"
scripts=$(mktemp -d)
trap 'rm -rf "$scripts"' EXIT
dpkg-deb -e "$deb" "$scripts"
# dh_installsystemd --no-enable re-enables a unit on upgrade only where the
# administrator had enabled it (guarded by "debian-installed"); without that
# guard a first install enables it. test-bundle.sh checks a real install.
if grep -q 'deb-systemd-helper enable' "$scripts/postinst" &&
   ! grep -q 'deb-systemd-helper debian-installed' "$scripts/postinst"; then
	fail "postinst enables the timer on a first install"
fi
if grep -hE 'deb-systemd-invoke (start|restart)' "$scripts"/* 2>/dev/null; then
	fail "a maintainer script starts a unit"
fi

echo "--- the packaged program runs and names its commit"
unpacked=$scripts/root
dpkg-deb -x "$deb" "$unpacked"
version=$("$unpacked/usr/bin/hsmvault" --version)
echo "$version"
commit=$(cut -c1-12 "$out/COMMIT")
[ "$version" = "hsmvault $(dpkg-deb -f "$deb" Version) (commit $commit)" ] ||
	fail "--version says '$version', expected version $(dpkg-deb -f "$deb" Version) and commit $commit"
echo "--- without hsmvault-sim, the drill names the package to install"
set +e
"$unpacked/usr/bin/hsmvault" drill --workdir "$scripts/drill" >"$scripts/drill.out" 2>&1
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "install the Debian package hsmvault-sim" "$scripts/drill.out" ||
	fail "hsmvault drill without hsmvault-sim (exit $rc): $(cat "$scripts/drill.out")"
cat "$scripts/drill.out"
echo "test-deb: ok: $(basename "$deb") $(basename "$sim") in $out"
