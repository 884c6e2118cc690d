#!/usr/bin/env bash
# The offline bundle on a machine that has never seen the network: a minimal
# Debian 12 root (debootstrap --variant=minbase), entered with chroot inside
# new mount, PID and network namespaces (the network namespace holds only
# its own loopback, which the drill's vpcd readers use: no route leaves it).
# There the bundle is installed from a folder with its install.sh, then
# hsmvault --version, hsmvault policy check of every example policy and
# hsmvault drill must succeed.
#   tests/package/test-bundle.sh [DEBDIR]
# DEBDIR holds hsmvault_*.deb and hsmvault-sim_*.deb (test-deb.sh's OUTDIR);
# without it they are built from HEAD. Runs as root. The minimal root is
# made once from the Debian mirror of this machine's apt sources and kept
# in /var/cache/hsmvault-test.
set -euo pipefail
cd "$(dirname "$0")/../.."
fail() { echo "test-bundle: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "runs as root (debootstrap, chroot, namespaces)"
for tool in debootstrap:debootstrap unshare:util-linux ip:iproute2 chroot:coreutils \
	apt-get:apt; do
	command -v "${tool%%:*}" >/dev/null ||
		fail "${tool%%:*} is missing: install the Debian package ${tool##*:} (tools/setup-debian.sh)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hsmvault-bundle-test.XXXXXX")
root=$tmp/root
cleanup() {
	# The mounts lived in the test's own mount namespace; refuse to delete
	# through one that somehow outlived it.
	if grep -q " $root" /proc/mounts; then
		echo "test-bundle: $root still has mounts; left in place" >&2
		return
	fi
	rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT

debs=${1:-}
if [ -z "$debs" ]; then
	debs=$tmp/debs
	DEB_BUILD_OPTIONS=nocheck tools/build-deb.sh --binary-only "$debs"
fi

echo "--- the bundle"
tools/make-bundle.sh --debs "$debs" "$tmp/bundle"
[ -f "$tmp/bundle.tar" ] || fail "make-bundle made no tar"
[ "$(tar -tf "$tmp/bundle.tar" | grep -c '\.deb$')" = "$(ls "$tmp/bundle/debs" | wc -l)" ] ||
	fail "the tar does not hold every package of the folder"

echo "--- a minimal Debian 12 root"
cache=/var/cache/hsmvault-test
base=$cache/debian12-minbase.tar.gz
# Made again once a month: a root much older than the mirror tests old media.
[ ! -f "$base" ] || find "$base" -mtime +30 -delete
if [ ! -s "$base" ]; then
	mirror=$(apt-get indextargets --format '$(REPO_URI) $(CODENAME) $(IDENTIFIER)' |
		awk '$2 == "bookworm" && $3 == "Packages" { print $1; exit }')
	[ -n "$mirror" ] || fail "no bookworm Packages index in this machine's apt sources"
	mkdir -p "$cache" "$tmp/mk"
	debootstrap --variant=minbase bookworm "$tmp/mk" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$tmp/debootstrap.log"; fail "debootstrap from $mirror failed"; }
	tar --numeric-owner -C "$tmp/mk" -czf "$base.tmp" . && mv "$base.tmp" "$base"
	rm -rf --one-file-system "$tmp/mk"
fi
mkdir -p "$root"
tar --numeric-owner -C "$root" -xzf "$base"
# What a minimal system lacks must come from the bundle, not be there already.
for pkg in hsmvault hsmvault-sim pcscd vsmartcard-vpcd libcryptsetup12 libyaml-0-2; do
	! chroot "$root" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed ||
		fail "the minimal root already has $pkg"
done
# A chroot starts no services from maintainer scripts.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
cp -a "$tmp/bundle" "$root/root/bundle"
# The checks after the install are the package's own autopkgtests.
cp -a debian/tests "$root/root/autopkgtest"

cat >"$root/root/inside.sh" <<'INSIDE'
#!/bin/sh
# Runs in the chroot, in namespaces of its own: no network but loopback.
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive
ifaces=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' /proc/net/dev | tr '\n' ' ')
[ "$ifaces" = "lo " ] || { echo "inside: network interfaces besides lo: $ifaces"; exit 1; }
echo "inside: network interfaces: $ifaces(no route out)"
# A damaged or an added package: install.sh refuses, dpkg never runs.
for damage in flip add; do
	rm -rf /root/bad && cp -a /root/bundle /root/bad
	deb=$(ls /root/bad/debs/hsmvault_*.deb)
	case $damage in
	flip) printf 'X' | dd of="$deb" bs=1 seek=2000 conv=notrunc 2>/dev/null ;;
	add) cp "$deb" /root/bad/debs/zz-extra_1_amd64.deb ;;
	esac
	if sh /root/bad/install.sh >/root/bad.out 2>&1; then
		echo "inside: install.sh accepted a bundle ($damage)"; exit 1
	fi
	grep -q "nothing installed" /root/bad.out || { cat /root/bad.out; exit 1; }
	! dpkg-query -W -f='${Status}' hsmvault 2>/dev/null | grep -q installed ||
		{ echo "inside: a refused bundle installed hsmvault"; exit 1; }
	echo "inside: refused ($damage): $(tail -n 1 /root/bad.out)"
done
rm -rf /root/bad /root/bad.out
sh /root/bundle/install.sh
# Installed, not enabled: no unit of hsmvault is wanted by any target.
if ls /etc/systemd/system/*.wants/hsmvault* 2>/dev/null; then
	echo "inside: installing enabled a unit of hsmvault"; exit 1
fi
[ -f /lib/systemd/system/hsmvault-verify.timer ] || { echo "inside: no verify timer"; exit 1; }
hsmvault --version | grep -Eq '^hsmvault [0-9.]+ \(commit [0-9a-f]{12}\)$' ||
	{ echo "inside: --version names no commit"; exit 1; }
# debian/tests: policies (--version, policy check of every example) and drill.
for t in policies drill; do
	AUTOPKGTEST_TMP=$(mktemp -d) sh -x /root/autopkgtest/$t
	echo "inside: autopkgtest $t: ok"
done
INSIDE

echo "--- install and run, offline"
# The drill makes its mounts private: the root must be a mount point.
unshare --mount --net --pid --fork --propagation private sh -euc '
	root=$1
	ip link set lo up
	mount --bind "$root" "$root"
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o mode=0755 tmpfs "$root/run"
	mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
	exec chroot "$root" /bin/sh /root/inside.sh
' sh "$root" 2>&1 | tee "$tmp/inside.log"
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || fail "installing or running in the offline root failed (exit $rc, above)"
grep -q "drill passed" "$tmp/inside.log" || fail "the drill did not say it passed"
[ "$(grep -c '^+ hsmvault policy check ' "$tmp/inside.log")" -ge 3 ] ||
	fail "fewer than 3 example policies were checked"
echo "test-bundle: ok: $(ls "$tmp/bundle/debs" | wc -l) packages installed offline; version, policies and drill pass"
