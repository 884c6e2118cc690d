#!/usr/bin/env bash
# The kernel backend's C contract (kernel_backend_check.c) inside the VM,
# on two LUKS2 volumes that cryptsetup formatted on the host, one with 512-
# and one with 4096-byte sectors (/dev/vda, /dev/vdb); afterwards e2fsck -fn
# finds the ext4 it made clean, with 4096-byte blocks.
source "$(dirname "$0")/vmlib.sh"

pass='vm test passphrase' # the same as in kernel_backend_check.c
host_luks_images "$pass"
cat > "$scratch/vm.sh" <<VM_SCRIPT
for dev in vda vdb; do
	echo "== /dev/\$dev"
	kernel_backend_check /dev/\$dev
	echo "HVTEST CHECKED \$dev"
	printf '%s' '$pass' | cryptsetup open --key-file - /dev/\$dev t
	dmsetup table t | sed "s/^/HVTEST TABLE-\$dev /"
	/usr/sbin/e2fsck -fn /dev/mapper/t
	echo "HVTEST BLOCKSIZE-\$dev \$(/usr/sbin/dumpe2fs -h /dev/mapper/t 2>/dev/null | sed -n 's/^Block size: *//p')"
	cryptsetup close t
done
echo "HVTEST DONE"
VM_SCRIPT
log=$scratch/console.log
run_vm "$scratch/vm.sh" "$log" "${disks[@]}"
grep -q '^HVTEST DONE' "$log" || fail "the VM script did not reach its end"
[ "$(grep -c 'PASSED.*8 test' "$log")" = 2 ] ||
	fail "kernel_backend_check did not pass all 8 tests on both sticks"
vm_value "$log" TABLE-vda | grep -q sector_size && fail "/dev/vda is not a 512-byte-sector volume"
vm_value "$log" TABLE-vdb | grep -q 'sector_size:4096' || fail "/dev/vdb is not a 4096-byte-sector volume"
for dev in vda vdb; do
	[ "$(vm_value "$log" BLOCKSIZE-$dev)" = 4096 ] ||
		fail "the ext4 the kernel backend made on /dev/$dev has no 4096-byte blocks"
done
note "the kernel backend passes in the VM with 512- and 4096-byte sectors"
echo PASS
