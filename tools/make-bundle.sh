#!/usr/bin/env bash
# Makes the offline bundle: everything an air-gapped Debian 12 (amd64)
# machine needs to install hsmvault and hsmvault-sim, carried in on a medium.
#   tools/make-bundle.sh [--debs DIR] OUTDIR
# OUTDIR/ (and OUTDIR.tar beside it) then holds:
#   debs/        hsmvault, hsmvault-sim and every package they need at run
#                time that a minimal Debian 12 installation (debootstrap
#                --variant=minbase: the "required" packages and apt) lacks,
#                fetched with apt-get download
#   install.sh   checks every file against SHA256SUMS, then dpkg -i; no network
#   SHA256SUMS   of every file in the bundle
#   README.txt   what it is and how to install it
# --debs DIR takes hsmvault_*.deb and hsmvault-sim_*.deb from DIR; without it
# they are built from this repository's HEAD (tools/build-deb.sh).
# Runs on an online Debian 12 machine whose apt lists are current; as root
# it runs apt-get update itself when a download fails.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "make-bundle: $*" >&2; exit 1; }

debs=
if [ "${1:-}" = --debs ]; then
	debs=${2:?--debs needs a folder}
	shift 2
fi
[ $# -eq 1 ] || die "usage: $0 [--debs DIR] OUTDIR"
out=$1
[ ! -e "$out" ] || [ -z "$(ls -A "$out")" ] || die "$out exists and is not empty"
[ "$(dpkg --print-architecture)" = amd64 ] || die "builds bundles for amd64 machines only"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hsmvault-bundle.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if [ -z "$debs" ]; then
	debs=$tmp/built
	DEB_BUILD_OPTIONS=nocheck "$here/tools/build-deb.sh" --binary-only "$debs"
fi
own=()
for p in hsmvault hsmvault-sim; do
	f=$(ls "$debs"/"${p}"_*_amd64.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || die "no ${p}_*_amd64.deb in $debs"
	own+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")")
done

# What apt would install on an empty system, in "name=version" form: the
# closure of Depends and Pre-Depends (Recommends are left out; pcscd is a
# dependency of hsmvault-sim).
closure() {
	: >"$tmp/empty-status"
	apt-get -s -q -o Dir::State::status="$tmp/empty-status" -o Debug::NoLocking=1 \
		install --no-install-recommends "$@" 2>"$tmp/apt.err" |
		awk '/^Inst /{ v = $3; sub(/^\(/, "", v); print $2 "=" v }' | sort -u
}
required=$(apt-cache dumpavail | awk '/^Package:/{p = $2} /^Priority: required/{print p}' | sort -u)
[ -n "$required" ] || die "apt knows no package of priority required: run apt-get update"
# shellcheck disable=SC2086
closure $required apt | cut -d= -f1 >"$tmp/minbase"
[ -s "$tmp/minbase" ] || { cat "$tmp/apt.err" >&2; die "apt could not resolve a minimal installation"; }
closure "${own[@]}" >"$tmp/all"
grep -q '^hsmvault=' "$tmp/all" || { cat "$tmp/apt.err" >&2; die "apt could not resolve hsmvault's dependencies"; }
# Our own packages come from $debs; the rest, minus the minimal system.
grep -v -E '^hsmvault(-sim)?=' "$tmp/all" | awk -F= 'NR == FNR { base[$1] = 1; next } !($1 in base)' \
	"$tmp/minbase" - >"$tmp/extra"

mkdir -p "$out/debs"
out=$(cd "$out" && pwd)
cp "${own[@]}" "$out/debs/"
download() { (cd "$out/debs" && xargs -r apt-get download -q <"$tmp/extra"); }
if ! download >"$tmp/download.log" 2>&1; then
	[ "$(id -u)" = 0 ] || { cat "$tmp/download.log" >&2; die "apt-get download failed: run apt-get update as root"; }
	apt-get update -q >/dev/null
	download || die "apt-get download failed (above)"
fi
# apt-get download names files NAME_VERSION_ARCH.deb with ':' escaped as %3a.
n_extra=$(wc -l <"$tmp/extra")
n_got=$(find "$out/debs" -name '*.deb' | wc -l)
[ "$n_got" -eq $((n_extra + 2)) ] || die "expected $((n_extra + 2)) packages in $out/debs, found $n_got"

cat >"$out/install.sh" <<'INSTALL'
#!/bin/sh
# Installs hsmvault from this bundle, with no network: every file is first
# checked against SHA256SUMS; only then are the packages given to dpkg -i.
# Run as root on Debian 12 (amd64): sh install.sh
set -eu
cd "$(dirname "$0")"
die() { echo "install.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root: dpkg -i installs system packages"
[ "$(dpkg --print-architecture)" = amd64 ] || die "this bundle holds amd64 packages"
grep -q '^VERSION_ID="12"' /etc/os-release 2>/dev/null || die "this bundle is for Debian 12"
# Every package must be listed: a file added to the folder is refused too.
for f in debs/*.deb; do
	grep -q "  $f\$" SHA256SUMS || die "$f is not listed in SHA256SUMS: nothing installed"
done
sha256sum --strict --quiet -c SHA256SUMS ||
	die "a file does not match SHA256SUMS (damaged or altered): nothing installed"
echo "install.sh: $(grep -c '  debs/' SHA256SUMS) packages match SHA256SUMS; installing"
dpkg -i debs/*.deb
hsmvault --version
INSTALL
chmod 0755 "$out/install.sh"
cat >"$out/README.txt" <<README
hsmvault offline bundle for Debian 12 (amd64)

debs/ holds hsmvault, hsmvault-sim and the $n_extra packages they need that a
minimal Debian 12 installation lacks. To install, as root:

    sha256sum SHA256SUMS     # compare with the value you were given separately
    sh install.sh            # checks every file against SHA256SUMS, then dpkg -i

No network is used. Then: hsmvault --version; hsmvault drill rehearses the
whole card-set cycle on simulated cards (man hsmvault).
README
(cd "$out" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | LC_ALL=C sort |
	xargs sha256sum >SHA256SUMS)

# The tar: sorted names, fixed owner and dates, so one bundle gives one tar.
# The date is hsmvault's own (its changelog's, as dpkg-deb stamped the program).
stamp=$(dpkg-deb --fsys-tarfile "${own[0]}" | TZ=UTC tar --full-time -tvf - ./usr/bin/hsmvault |
	awk '{print $4 " " $5}')
epoch=$(TZ=UTC date -d "$stamp" +%s)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
	-C "$(dirname "$out")" -cf "$out.tar" "$(basename "$out")"
echo "make-bundle: $out ($n_got packages) and $out.tar"
echo "make-bundle: sha256 of SHA256SUMS: $(sha256sum <"$out/SHA256SUMS" | cut -c1-64)"
