#!/bin/bash
# prepare and use a stick on a loop device (a block device, not removable:
# batch confirmation), then read it back through the loop device.
. "$(dirname "$0")/lib.sh"

truncate -s 96M "$WORK/disk.img"
l=$(new_loop "$WORK/disk.img")
hv_pass stick prepare "$l" --batch --confirm-device "$l" $FAST >"$WORK/out" 2>&1 \
	|| { cat "$WORK/out"; fail "prepare on $l"; }
cryptsetup luksDump "$l" | grep -q 'cipher: aes-xts-plain64' || fail "luksDump $l"
printf '%s' "$PASS" | cryptsetup open --test-passphrase --key-file=- "$l" || fail "passphrase on $l"
hv stick list --json | python3 -c "
import json,sys
d=[x for x in json.load(sys.stdin) if x['device']=='$l']
assert d and d[0]['type']=='crypto_LUKS' and d[0]['label']=='HSMVAULT' and d[0]['size']==96<<20, d" \
	|| fail "stick list does not show the prepared $l"
printf 'through the loop device\n' >"$WORK/f"
(printf '%s\n' "$PASS"; cat "$WORK/f") | "$STICK_TESTTOOL" write "$l" keys/ABCDEF0123456789/01.wrap \
	|| fail "write on $l"
[ "$(tt cat "$l" keys/ABCDEF0123456789/01.wrap)" = "through the loop device" ] || fail "read back on $l"
hv_pass stick open "$l" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "open $l"; }
grep -q 'manifest version 1' "$WORK/out" || fail "open summary on $l"
fsck_clean "$l"
debugfs -R 'cat /keys/ABCDEF0123456789/01.wrap' "$WORK/plain" 2>/dev/null | grep -qx 'through the loop device' \
	|| fail "debugfs read of the file written on $l"
drop_loop "$l"
# the image behind it is the same stick
[ "$(tt cat "$WORK/disk.img" keys/ABCDEF0123456789/01.wrap)" = "through the loop device" ] \
	|| fail "image read after detaching"
ok "loop device: prepare, write, read, e2fsck, debugfs"
