#!/bin/bash
# Both directions with the kernel's ext4 (no dm-crypt here: the kernel
# works on a decrypted copy through a loop device, which is then encrypted
# back). The kernel writes files and an indexed (htree) folder; the
# userspace backend reads them, adds to the indexed folder, replaces a
# kernel-written file; e2fsck and the kernel then read the result.
. "$(dirname "$0")/lib.sh"
need mount debugfs

img="$WORK/k.img"
hv_pass stick prepare "$img" --size 64M --sector-size 4096 $FAST >/dev/null 2>&1 || fail "prepare"
tt decrypt "$img" "$WORK/plain" || fail "decrypt"
l=$(new_loop "$WORK/plain")
mkdir -p "$WORK/mnt"
mount "$l" "$WORK/mnt" || fail "kernel mount"
MOUNTS="$WORK/mnt"
mkdir -p "$WORK/mnt/keys/0011223344556677" "$WORK/mnt/many"
printf 'kernel blob\n' >"$WORK/mnt/keys/0011223344556677/01.wrap"
for i in $(seq 1 400); do printf 'kernel file %d\n' $i >"$WORK/mnt/many/kernel-written-file-$i.yaml"; done
umount "$WORK/mnt"; MOUNTS=""
drop_loop "$l"
debugfs -R 'stat /many' "$WORK/plain" 2>/dev/null | grep -q 'Flags: 0x[0-9a-f]*1[0-9a-f][0-9a-f][0-9a-f]\b' \
	|| fail "the kernel did not index /many (test premise)"
tt encrypt "$img" "$WORK/plain" || fail "encrypt back"

[ "$(tt cat "$img" keys/0011223344556677/01.wrap)" = "kernel blob" ] || fail "userspace read of a kernel file"
[ "$(tt ls "$img" many | wc -l)" = 400 ] || fail "userspace listing of the indexed folder"
[ "$(tt cat "$img" many/kernel-written-file-321.yaml)" = "kernel file 321" ] || fail "read in indexed folder"
for i in $(seq 1 60); do
	(printf '%s\n' "$PASS"; printf 'userspace %d\n' $i) | "$STICK_TESTTOOL" write "$img" "many/userspace-$i.yaml" \
		|| fail "userspace write into the indexed folder ($i)"
done
(printf '%s\n' "$PASS"; printf 'replaced by userspace\n') | \
	"$STICK_TESTTOOL" write "$img" keys/0011223344556677/01.wrap || fail "replace a kernel file"
[ "$(tt ls "$img" many | wc -l)" = 460 ] || fail "listing after userspace writes"

fsck_clean "$img"
l=$(new_loop "$WORK/plain")
mount -o ro "$l" "$WORK/mnt" || fail "kernel mount after userspace writes"
MOUNTS="$WORK/mnt"
[ "$(cat "$WORK/mnt/keys/0011223344556677/01.wrap")" = "replaced by userspace" ] || fail "kernel read of replaced file"
[ "$(cat "$WORK/mnt/many/userspace-59.yaml")" = "userspace 59" ] || fail "kernel read in indexed folder"
[ "$(ls "$WORK/mnt/many" | wc -l)" = 460 ] || fail "kernel listing"
umount "$WORK/mnt"; MOUNTS=""
drop_loop "$l"
ok "kernel ext4 -> userspace -> kernel ext4, indexed folder included, e2fsck clean"
