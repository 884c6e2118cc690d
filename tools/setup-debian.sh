#!/usr/bin/env bash
# Installs everything hsmvault needs to build and test on Debian 12, then
# builds it into build/. Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  gcc meson ninja-build pkg-config
  libcryptsetup-dev libblkid-dev libpcsclite-dev libssl-dev libyaml-dev
  libcmocka-dev libext2fs-dev
  # cards in tests: a private pcscd with vsmartcard's vpcd reader, OpenSC's tools
  pcscd vsmartcard-vpcd opensc util-linux procps openssl python3
  # sticks in tests: cryptsetup, e2fsprogs, loop devices
  cryptsetup-bin e2fsprogs fdisk
  # the kernel path under qemu: Debian's kernel, busybox for the initramfs
  qemu-system-x86 busybox-static kmod cpio dmsetup
  # the Debian package (tests/package/): build, lintian, the offline bundle
  # installed in a debootstrap root inside namespaces without network
  git dpkg-dev debhelper fakeroot lintian comerr-dev debootstrap iproute2
  # the fuzzers (tools/run-fuzzers.sh): clang and its libFuzzer/sanitizer runtime
  clang libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The qemu tests' kernel: downloaded and unpacked into a cache, not installed.
tests/qemu/fetch-kernel.sh >/dev/null || { apt-get update -q && tests/qemu/fetch-kernel.sh >/dev/null; }

if [ ! -f build/build.ninja ]; then
  meson setup build -Dwerror=true   # as CI builds it (tools/run-tests.sh)
fi
ninja -C build
