#!/usr/bin/env bash
# Builds the test VM's initramfs (cpio newc, gzip) from binaries installed on
# this machine: busybox-static, cryptsetup, dmsetup, the e2fsprogs tools,
# hsmvault, pcscd with the vpcd driver, every library ldd lists for them,
# the dm-crypt/ext4/virtio/serpent modules of the unpacked Debian kernel,
# and tests/qemu/init.
#
# usage: mkinitramfs.sh KERNEL_TREE HSMVAULT_BINARY OUT.cpio.gz [EXTRA_BINARY...]
# (extra binaries, e.g. test programs, land in /usr/bin under their names)
set -euo pipefail

tree=$1
hsmvault=$2
out=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)

kver=$(ls "$tree/lib/modules")
# The order matters: each module needs the ones before it (no modprobe).
modules=(virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
	 virtio_blk crc16 crc32c_generic mbcache jbd2 ext4 dm-mod dm-crypt ecb xts
	 serpent_generic authenc essiv af_alg algif_skcipher)
tools=(/usr/sbin/cryptsetup /usr/sbin/dmsetup /usr/sbin/mke2fs /usr/sbin/e2fsck
       /usr/sbin/debugfs /usr/sbin/dumpe2fs)

die() { echo "mkinitramfs: $*" >&2; exit 1; }

busybox=$(command -v busybox) || die "busybox not found: apt-get install busybox-static"
case $(ldd "$busybox" 2>&1 || true) in (*"not a dynamic"*) ;; (*)
	die "$busybox is not static: apt-get install busybox-static" ;; esac
for t in "${tools[@]}"; do [ -x "$t" ] || die "$t missing (cryptsetup-bin, dmsetup, e2fsprogs)"; done
[ -x "$hsmvault" ] || die "hsmvault binary $hsmvault missing: build it first"
# The card stack for tests that run cards inside the VM (pcscd with the
# vpcd driver; the simulator comes as an extra binary).
pcscd=/usr/sbin/pcscd
vpcd=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
[ -x "$pcscd" ] || die "$pcscd missing: apt-get install pcscd"
[ -f "$vpcd" ] || die "$vpcd missing: apt-get install vsmartcard-vpcd"

root=$(mktemp -d "${TMPDIR:-/tmp}/hsmvault-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,mnt,lib/modules}

cp "$busybox" "$root/bin/busybox"
# Applets as links; real tools below keep their own full paths.
for a in $("$busybox" --list); do
	[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
done

# Binaries and their libraries at the paths ldd names.
copy_with_libs() {
	local bin=$1 dest=$2 lib
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$bin" "$root$dest"
	for lib in $(ldd "$bin" | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }'); do
		if [ ! -e "$root$lib" ]; then
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		fi
	done
}
for t in "${tools[@]}"; do copy_with_libs "$t" "$t"; done
copy_with_libs "$pcscd" "$pcscd"
# glibc loads libgcc_s at run time when a thread exits (cryptsetup's default,
# multi-threaded argon2id); ldd does not list it.
libgcc_s=$(ldconfig -p | awk '/libgcc_s\.so\.1 .*x86-64/ { print $NF; exit }')
[ -n "$libgcc_s" ] || die "libgcc_s.so.1 not found: apt-get install libgcc-s1"
copy_with_libs "$libgcc_s" "$libgcc_s"
copy_with_libs "$vpcd" "$vpcd"
ln -s mke2fs "$root/usr/sbin/mkfs.ext4"
copy_with_libs "$hsmvault" /usr/bin/hsmvault
for x in "$@"; do copy_with_libs "$x" "/usr/bin/$(basename "$x")"; done
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$root/etc/"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"

# Modules, uncompressed, in load order.
mdir=$root/lib/modules
: > "$mdir/order"
for m in "${modules[@]}"; do
	path=$(modinfo -b "$tree" -k "$kver" -n "$m" 2>/dev/null) ||
		die "module $m not in $tree (kernel $kver)"
	case $path in
	(*.ko) cp "$path" "$mdir/$m.ko" ;;
	(*.ko.xz) xz -dc "$path" > "$mdir/$m.ko" ;;
	(*.ko.zst) zstd -qdc "$path" > "$mdir/$m.ko" ;;
	(*.ko.gz) gzip -dc "$path" > "$mdir/$m.ko" ;;
	(builtin*|"") continue ;;
	(*) die "module $m: unknown file $path" ;;
	esac
	echo "$m" >> "$mdir/order"
done

install -m 0755 "$here/init" "$root/init"

(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet -R 0:0) |
	gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
