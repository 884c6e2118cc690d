#!/bin/bash
# prepare on a sparse 4 GiB image with the real (benchmarked argon2id) KDF:
# prints the time next to a plain `cryptsetup luksFormat` of the same size
# (the PBKDF cost); asserts that only metadata was written (the image
# stays sparse: inode tables and journal as encrypted zeros, no data
# blocks) and that the result is a clean ext4 with every inode table
# readable as zeros (never lazily left uninitialized).
. "$(dirname "$0")/lib.sh"
need dumpe2fs awk du

img="$WORK/big.img"
t0=$(date +%s.%N)
hv_pass stick prepare "$img" --size 4G >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "prepare 4G"; }
t1=$(date +%s.%N)
truncate -s 4G "$WORK/ref.img"
printf '%s' "$PASS" | cryptsetup luksFormat -q --type luks2 --key-file=- "$WORK/ref.img" || fail "luksFormat"
t2=$(date +%s.%N)
used=$(du -k "$img" | cut -f1)
ref=$(du -k "$WORK/ref.img" | cut -f1)
printf 'prepare 4 GiB: %.1f s; cryptsetup luksFormat alone: %.1f s; written: %d MiB (luksFormat: %d MiB)\n' \
	"$(awk "BEGIN{print $t1 - $t0}")" "$(awk "BEGIN{print $t2 - $t1}")" $((used / 1024)) $((ref / 1024))
cryptsetup luksDump "$img" | grep -q 'PBKDF:[[:space:]]*argon2id' || fail "not argon2id"
# 16 MiB header + 4 GiB/64 KiB inodes x 256 bytes (16 MiB) + journal (64 MiB)
# + group metadata: about 100 MiB; writing the whole 4 GiB would be 4096.
[ "$used" -lt $((160 * 1024)) ] || fail "prepare wrote $((used / 1024)) MiB: more than metadata"

fsck_clean "$img"
# every group's inode table is flagged zeroed, none left uninitialized
dumpe2fs "$WORK/plain" 2>/dev/null >"$WORK/dump"
groups=$(grep -c '^Group [0-9]*:' "$WORK/dump")
zeroed=$(grep '^Group [0-9]*:' "$WORK/dump" | grep -c 'ITABLE_ZEROED')
[ "$groups" -ge 32 ] && [ "$groups" = "$zeroed" ] || fail "$zeroed of $groups groups have ITABLE_ZEROED"
grep -q '^Filesystem features:.*metadata_csum' "$WORK/dump" || fail "no metadata_csum"
grep -q '^Filesystem features:.*has_journal' "$WORK/dump" || fail "no journal"
grep -q '^Block size:[[:space:]]*4096' "$WORK/dump" || fail "block size"
# inode table blocks of a far group decrypt to zeros
itable=$(grep -A8 '^Group 31:' "$WORK/dump" | sed -n 's/.*Inode table at \([0-9]*\)-.*/\1/p')
[ -n "$itable" ] || fail "no inode table for group 31"
[ "$(dd if="$WORK/plain" bs=4096 skip="$itable" count=16 2>/dev/null | tr -d '\0' | wc -c)" = 0 ] \
	|| fail "inode table of group 31 does not decrypt to zeros"
rm -f "$WORK/plain"
ok "4 GiB stick: clean ext4, $groups groups with zeroed inode tables, $((used / 1024)) MiB written"
