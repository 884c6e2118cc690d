#!/usr/bin/env bash
# The VM itself: Debian's kernel boots under TCG with our initramfs, and
# dm-crypt + ext4 work there on LUKS2 images that cryptsetup made on the
# host, with 512- and 4096-byte sectors (/dev/vda, /dev/vdb): files written
# through the kernel read back identically after close and reopen, e2fsck
# -fn is clean, a wrong passphrase is refused. No hsmvault code is involved:
# when this fails, the VM (not hsmvault) is broken.
source "$(dirname "$0")/vmlib.sh"

pass='vm test passphrase'
host_luks_images "$pass"

cat > "$scratch/vm.sh" <<VM_SCRIPT
for dev in vda vdb; do
	printf '%s' '$pass' | cryptsetup open --key-file - /dev/\$dev t
	dmsetup table t | sed "s/^/HVTEST TABLE-\$dev /"
	/usr/sbin/mkfs.ext4 -q -b 4096 /dev/mapper/t
	mount /dev/mapper/t /mnt
	mkdir /mnt/d
	head -c 300000 /dev/urandom > /mnt/d/random.bin
	echo hello > /mnt/hello.txt
	(cd /mnt && sha256sum d/random.bin hello.txt) > /tmp/before
	umount /mnt
	cryptsetup close t
	printf '%s' '$pass' | cryptsetup open --key-file - /dev/\$dev t
	/usr/sbin/e2fsck -fn /dev/mapper/t
	mount -o ro /dev/mapper/t /mnt
	(cd /mnt && sha256sum d/random.bin hello.txt) > /tmp/after
	cmp /tmp/before /tmp/after
	sed "s/^/HVTEST HASH-\$dev /" /tmp/after
	umount /mnt
	cryptsetup close t
	if printf 'wrong' | cryptsetup open --key-file - /dev/\$dev t 2>/dev/null; then exit 3; fi
done
echo "HVTEST DONE"
VM_SCRIPT
log=$scratch/console.log
run_vm "$scratch/vm.sh" "$log" "${disks[@]}"
grep -q '^HVTEST DONE' "$log" || fail "the VM script did not reach its end"
vm_value "$log" TABLE-vda | grep -q sector_size && fail "/dev/vda is not a 512-byte-sector volume"
vm_value "$log" TABLE-vdb | grep -q 'sector_size:4096' || fail "/dev/vdb is not a 4096-byte-sector volume"
for dev in vda vdb; do
	[ "$(grep -c "^HVTEST HASH-$dev " "$log")" = 2 ] || fail "/dev/$dev: no file hashes reported"
done
note "dm-crypt + ext4 work in the VM with 512- and 4096-byte sectors"
echo PASS
