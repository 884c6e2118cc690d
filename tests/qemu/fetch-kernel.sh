#!/usr/bin/env bash
# Fetches Debian's stock kernel for the qemu tests WITHOUT installing it on
# this system (no postinst hooks, no initramfs-tools): the package named by
# linux-image-amd64's dependency is downloaded with `apt-get download` and
# unpacked with `dpkg-deb -x` into a cache folder, then `depmod -b` makes
# the modules.dep that the package does not ship. Idempotent.
#
# Cache: $HSMVAULT_KERNEL_CACHE, default /var/cache/hsmvault-test/kernel.
# Prints the unpacked tree's folder (holding boot/vmlinuz-* and
# lib/modules/<version>) on stdout as its last line.
set -euo pipefail

cache=${HSMVAULT_KERNEL_CACHE:-/var/cache/hsmvault-test/kernel}

# linux-image-amd64 depends on exactly one linux-image-<abi>-amd64 package.
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }')
if [ -z "$pkg" ]; then
	echo "fetch-kernel: apt knows no linux-image-amd64 (run apt-get update)" >&2
	exit 1
fi
tree=$cache/$pkg
stamp=$tree/.hsmvault-ready

mkdir -p "$cache"
# Two test runs (two build folders) may fetch at the same time.
exec 9> "$cache/.lock"
flock 9
if [ ! -f "$stamp" ]; then
	work=$(mktemp -d "$cache/fetch.XXXXXX")
	# apt-get download runs the download as the _apt user.
	chmod 0755 "$work"
	chown _apt "$work" 2>/dev/null || true
	trap 'rm -rf "$work"' EXIT
	(cd "$work" && apt-get download -q "$pkg" >&2)
	deb=$(ls "$work"/"$pkg"_*.deb)
	mkdir -p "$work/tree"
	dpkg-deb -x "$deb" "$work/tree"
	kver=$(ls "$work/tree/lib/modules")
	depmod -b "$work/tree" "$kver"
	touch "$work/tree/.hsmvault-ready"
	rm -rf "$tree"
	mv "$work/tree" "$tree"
fi

ls "$tree"/boot/vmlinuz-* >/dev/null
echo "$tree"
