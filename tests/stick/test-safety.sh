#!/bin/bash
# Device safety on loop devices and image files: every refusal exits 7 (or
# 2 for a usage error) with a message naming the reason, and leaves the
# device byte-for-byte unchanged.
. "$(dirname "$0")/lib.sh"
need sfdisk mkfs.ext4 mount python3

sum() { sha256sum "$1" | cut -d' ' -f1; }
# refused WANT_RC PATTERN DEVICE -- args...: prepare must fail, device unchanged
refused() {
	local want=$1 pat=$2 dev=$3; shift 4
	local before; before=$(sum "$dev")
	printf '%s\n' "$PASS" | "$HSMVAULT" stick prepare "$dev" --passphrase-fd 0 $FAST "$@" \
		>"$WORK/out" 2>"$WORK/err"
	local rc=$?
	[ "$rc" = "$want" ] || { cat "$WORK/out" "$WORK/err"; fail "$dev $*: exit $rc, expected $want"; }
	grep -q -- "$pat" "$WORK/err" || { cat "$WORK/err"; fail "message lacks '$pat'"; }
	[ "$(sum "$dev")" = "$before" ] || fail "$dev changed although refused"
	ok "refused ($pat): $(tail -1 "$WORK/err" | head -c 200)"
}

# 1. mounted
truncate -s 64M "$WORK/fs.img"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$WORK/fs.img"
l=$(new_loop "$WORK/fs.img")
mkdir -p "$WORK/mnt"
mount -o ro "$l" "$WORK/mnt" || fail "mount $l"
MOUNTS="$WORK/mnt"

refused 7 "is mounted" "$l" -- --batch --confirm-device "$l"
hv stick list --json | python3 -c "
import json,sys
d=[x for x in json.load(sys.stdin) if x['device']=='$l']
assert d and d[0]['mounted'] and d[0]['type']=='ext4' and not d[0]['removable'], d" \
	|| fail "stick list --json does not show $l as mounted ext4"
umount "$WORK/mnt"; MOUNTS=""
# the kernel may release the device's exclusive claim a moment after umount
# returns: wait for it, or the next case sees "in use" instead of ext4
python3 -c "
import os,sys,time
for i in range(100):
    try:
        os.close(os.open('$l', os.O_RDONLY|os.O_EXCL)); sys.exit(0)
    except OSError: time.sleep(0.05)
sys.exit(1)" || fail "$l still claimed 5 s after umount"

# 2. holding a filesystem (now unmounted): needs the confirmation
refused 7 "filesystem or other signature (ext4" "$l" -- --batch
refused 7 "does not name" "$l" -- --batch --confirm-device "$WORK/fs.img"

# 3. held open exclusively by another process
python3 -c "
import os,sys,time
fd=os.open('$l', os.O_RDONLY|os.O_EXCL); print('held', flush=True); time.sleep(60)" >"$WORK/holder" &
holder=$!
for i in $(seq 50); do grep -q held "$WORK/holder" && break; sleep 0.1; done
refused 7 "in use" "$l" -- --batch --confirm-device "$l"
kill $holder; wait $holder 2>/dev/null
drop_loop "$l"

# 4. partition table
truncate -s 64M "$WORK/pt.img"
echo 'label: dos
,32M,83' | sfdisk -q "$WORK/pt.img" >/dev/null || fail "sfdisk"
l=$(new_loop "$WORK/pt.img")
refused 7 "partition table (dos)" "$l" -- --batch
refused 7 "not report it as removable" "$l" -- --batch
# not a terminal and no --confirm-device: batch mode is implied
refused 7 "confirm-device" "$l" --
drop_loop "$l"

# 5. an empty loop device is still not removable: confirmation needed
truncate -s 64M "$WORK/blank.img"
l=$(new_loop "$WORK/blank.img")
refused 7 "not report it as removable" "$l" -- --batch
# ... and with it, prepare goes ahead
printf '%s\n' "$PASS" | "$HSMVAULT" stick prepare "$l" --passphrase-fd 0 $FAST --batch \
	--confirm-device "$l" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "confirmed prepare"; }
cryptsetup isLuks "$l" || fail "confirmed prepare wrote no LUKS header"
# a LUKS stick is a signature too: preparing it again needs the confirmation
refused 7 "crypto_LUKS" "$l" -- --batch
drop_loop "$l"

# 6. image files: a signature needs confirmation; attached to a loop device is in use
refused 7 "ext4" "$WORK/fs.img" -- --batch
l=$(new_loop "$WORK/blank.img")
refused 7 "attached to $l" "$WORK/blank.img" -- --batch --confirm-device "$WORK/blank.img"
drop_loop "$l"
refused 2 "drop --size" "$WORK/fs.img" -- --batch --confirm-device "$WORK/fs.img" --size 128M

# 7. typed confirmation on a terminal (hv-pty gives the command a pty of
# its own and types only after the question is shown)
[ -n "${HV_PTY:-}" ] && [ -x "$HV_PTY" ] || fail "HV_PTY must name the hv-pty helper (run through meson test)"
# tty_fail MESSAGE: the whole transcript first, so a failure elsewhere
# (CI) can be understood from its log alone.
tty_fail() {
	echo "---- terminal transcript ($WORK/tty.out) ----" >&2
	cat -A "$WORK/tty.out" >&2
	echo "---- end of transcript ----" >&2
	fail "$*"
}
l=$(new_loop "$WORK/blank.img")
before=$(sum "$l")
question="Type the device path ($l) to erase it: "
"$HV_PTY" -t 60 -e "$question" -s 'wrong\n' -- \
	"$HSMVAULT" stick prepare "$l" --passphrase-fd 3 $FAST 3<<<"$PASS" >"$WORK/tty.out" 2>&1
rc=$?
[ "$rc" = 7 ] || tty_fail "wrong typed confirmation: exit $rc, expected 7"
q_at=$(grep -n -F "$question" "$WORK/tty.out" | head -1 | cut -d: -f1)
[ -n "$q_at" ] || tty_fail "question not shown"
for want in 'model:      loop device on' 'size:       64.0 MiB' 'serial:'; do
	at=$(grep -n -F "$want" "$WORK/tty.out" | head -1 | cut -d: -f1)
	[ -n "$at" ] && [ "$at" -lt "$q_at" ] || tty_fail "'$want' not shown before the question"
done
grep -q 'not confirmed' "$WORK/tty.out" || tty_fail "wrong typed confirmation accepted"
[ "$(sum "$l")" = "$before" ] || tty_fail "$l changed after a wrong confirmation"
ok "wrong typed confirmation refused, device unchanged"
"$HV_PTY" -t 60 -e "$question" -s "$l\\n" -- \
	"$HSMVAULT" stick prepare "$l" --passphrase-fd 3 $FAST 3<<<"$PASS" >"$WORK/tty.out" 2>&1
rc=$?
[ "$rc" = 0 ] || tty_fail "typed confirmation: exit $rc, expected 0"
grep -q "prepared $l: LUKS2" "$WORK/tty.out" || tty_fail "typed confirmation refused"
cryptsetup isLuks "$l" || tty_fail "no LUKS after the typed confirmation"
ok "typed confirmation accepted"
drop_loop "$l"

# 8. not empty = confirmation, whatever blkid says. Empty is a missing image
# or one of zeros (judged by a bounded sample: the first and last MiB, the
# places a LUKS2 secondary header can start, 256 blocks spread evenly).
# needs_confirm IMAGE REASON: batch prepare refused (7), image unchanged;
# with --confirm-device it goes ahead
needs_confirm() {
	refused 7 "$2" "$1" -- --batch
	printf '%s\n' "$PASS" | "$HSMVAULT" stick prepare "$1" --passphrase-fd 0 $FAST --batch \
		--confirm-device "$1" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "confirmed prepare of $1"; }
	cryptsetup isLuks "$1" || fail "confirmed prepare of $1 wrote no LUKS header"
}
no_confirm() { # no_confirm IMAGE [ARGS]: batch prepare goes ahead without a confirmation
	local img=$1; shift
	printf '%s\n' "$PASS" | "$HSMVAULT" stick prepare "$img" --passphrase-fd 0 $FAST --batch "$@" \
		>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "prepare of empty $img asked for a confirmation"; }
	grep -q "^prepared $img" "$WORK/out" || fail "prepare of $img"
}
head -c 48M /dev/urandom >"$WORK/random.img"
needs_confirm "$WORK/random.img" "data no tool recognizes"
ok "random data (maybe an old encrypted stick) needs the confirmation"

# a vault whose LUKS magic (both copies) was destroyed: no signature left
hv_pass stick prepare "$WORK/magic.img" --size 48M $FAST >/dev/null 2>&1 || fail "prepare magic.img"
printf 'XXXX' | dd of="$WORK/magic.img" bs=1 seek=0 conv=notrunc status=none
printf 'XXXX' | dd of="$WORK/magic.img" bs=1 seek=16384 conv=notrunc status=none
[ -z "$(blkid -p -o value -s TYPE "$WORK/magic.img")" ] || fail "blkid still sees magic.img"
needs_confirm "$WORK/magic.img" "data no tool recognizes"
# only the primary's magic destroyed: the secondary copy still opens it
hv_pass stick prepare "$WORK/magic1.img" --size 48M $FAST >/dev/null 2>&1 || fail "prepare magic1.img"
printf 'XXXX' | dd of="$WORK/magic1.img" bs=1 seek=0 conv=notrunc status=none
refused 7 "LUKS" "$WORK/magic1.img" -- --batch
ok "damaged LUKS magic needs the confirmation"

# data in the last MiB only, or at a secondary-header offset only
for at in $((48 * 1048576 - 100)) $((64 * 1024)); do
	rm -f "$WORK/spot.img"; truncate -s 48M "$WORK/spot.img"
	printf 'x' | dd of="$WORK/spot.img" bs=1 seek="$at" conv=notrunc status=none
	needs_confirm "$WORK/spot.img" "data no tool recognizes"
done
ok "one byte in a sampled place needs the confirmation"

# empty: an existing file of zeros, a missing file
rm -f "$WORK/zeros.img"; truncate -s 48M "$WORK/zeros.img"
no_confirm "$WORK/zeros.img"
rm -f "$WORK/new.img"
no_confirm "$WORK/new.img" --size 48M
ok "an all-zero image and a missing one need no confirmation"

# the sample is bounded: a 4 GiB file of zeros is judged without reading it
rm -f "$WORK/big.img"; truncate -s 4G "$WORK/big.img"
t0=$EPOCHREALTIME
no_confirm "$WORK/big.img"
rm -f "$WORK/big.img"
ok "4 GiB of zeros judged empty ($(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }") s with the whole prepare)"
