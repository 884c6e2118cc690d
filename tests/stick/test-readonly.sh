#!/bin/bash
# Read-only means read-only. With one LUKS2 header copy damaged (each copy
# in turn, and the primary's magic alone), every command that only reads
# (stick status, log, show, record export, stick header-backup) exits 0,
# warns with what to do, and leaves the image's sha256 unchanged (the
# libcryptsetup of Debian 12 rewrites the damaged copy whenever it loads a
# header it can write to); passphrase changes refuse until the header is
# repaired; 'stick repair' then rewrites the copy and cryptsetup agrees.
# A read-only image (chattr +i: even root cannot write it) and a
# write-protected device (read-only loop device) can be read.
. "$(dirname "$0")/lib.sh"
need chattr lsattr

sum() { sha256sum "$1" | cut -d' ' -f1; }
# reads IMAGE WARNING_PATTERN: every read-only command exits 0, prints the
# pattern (or, when it is "", no warning) and does not change IMAGE
reads() {
	local img=$1 pat=$2 before after c
	before=$(sum "$img")
	for c in "stick status $img" "stick status $img --json" "log --vault $img" \
		"show --vault $img" "record export --vault $img --out $WORK/rec.yaml" \
		"stick header-backup $img $WORK/hb" "-stick status $img"; do
		rm -f "$WORK/hb" "$WORK/rec.yaml"
		if [ "${c#-}" != "$c" ]; then # without a passphrase: the header only
			c=${c#-}
			# shellcheck disable=SC2086 # the command line splits on purpose
			"$HSMVAULT" $c >"$WORK/out" 2>"$WORK/err"
		else
			# shellcheck disable=SC2086
			printf '%s\n' "$PASS" | "$HSMVAULT" $c --passphrase-fd 3 3<&0 </dev/null \
				>"$WORK/out" 2>"$WORK/err"
		fi
		local rc=$?
		[ "$rc" = 0 ] || { cat "$WORK/out" "$WORK/err"; fail "'$c': exit $rc, expected 0"; }
		if [ -n "$pat" ]; then
			grep -qF -- "$pat" "$WORK/err" || { cat "$WORK/err"; fail "'$c': no warning '$pat'"; }
			grep -qF "hsmvault stick repair $img" "$WORK/err" || fail "'$c': no repair advice"
		else
			[ ! -s "$WORK/err" ] || { cat "$WORK/err"; fail "'$c' on an intact stick warns"; }
		fi
		grep -qi "device .* is not compatible\|^Device \|^WARNING: Locking" "$WORK/err" \
			&& { cat "$WORK/err"; fail "'$c': a raw libcryptsetup line reached the user"; }
		after=$(sum "$img")
		[ "$after" = "$before" ] || fail "'$c' changed $img"
	done
	ok "$img: status, log, show, record export, header-backup read it unchanged${pat:+ (warned)}"
}

img="$WORK/good.img"
hv_pass stick prepare "$img" --size 64M $FAST >/dev/null 2>&1 || fail "prepare"
reads "$img" ""

# the secondary copy starts at hdr_size (16 KiB for cryptsetup's default);
# a byte in a copy's JSON area breaks its checksum
damage() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
for case in "secondary 21384 X" "primary 5000 X" "primary 0 XXXX"; do
	set -- $case
	which=$1 at=$2 bytes=$3
	cp "$img" "$WORK/d.img"
	damage "$WORK/d.img" "$at" "$bytes"
	reads "$WORK/d.img" "the $which LUKS2 header copy is damaged"
	before=$(sum "$WORK/d.img")
	expect_rc 5 "passphrase add on a damaged header" -- \
		bash -c "printf '%s\nnew passphrase 2\n' '$PASS' | '$HSMVAULT' stick passphrase add '$WORK/d.img' --passphrase-fd 0 $FAST"
	grep -q "repair it ('hsmvault stick repair" "$WORK/err" || { cat "$WORK/err"; fail "passphrase add: no repair advice"; }
	[ "$(sum "$WORK/d.img")" = "$before" ] || fail "refused passphrase add changed the image"
	hv stick repair "$WORK/d.img" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "stick repair ($which)"; }
	grep -q "the $which LUKS2 header copy was rewritten" "$WORK/out" || { cat "$WORK/out"; fail "repair message"; }
	[ "$(sum "$WORK/d.img")" != "$before" ] || fail "stick repair changed nothing ($which)"
	reads "$WORK/d.img" ""
	cryptsetup repair -q "$WORK/d.img" >/dev/null 2>&1
	hv stick repair "$WORK/d.img" | grep -q "nothing to repair" || fail "second repair"
	printf '%s' "$PASS" | cryptsetup open --test-passphrase --key-file=- "$WORK/d.img" \
		|| fail "cryptsetup cannot open the repaired image ($which)"
	ok "$which copy damaged ($bytes at $at): read unchanged, passphrase change refused, repaired"
done

# a read-only image file: chattr +i stops even root
cp "$img" "$WORK/ro.img"
damage "$WORK/ro.img" 21384 X
chattr +i "$WORK/ro.img" || fail "chattr +i (the test folder's file system must support it)"
lsattr "$WORK/ro.img" | cut -d' ' -f1 | grep -q i || fail "chattr +i did not take"
reads "$WORK/ro.img" "the secondary LUKS2 header copy is damaged"
expect_rc 6 "repair of an immutable image" -- "$HSMVAULT" stick repair "$WORK/ro.img"
chattr -i "$WORK/ro.img"
ok "immutable image read; its repair fails with exit 6"

# a write-protected device: a read-only loop device
l=$(losetup -r -f --show "$WORK/ro.img") || fail "losetup -r"
echo "$l" >>"$WORK/loops"
reads "$l" "the secondary LUKS2 header copy is damaged"
expect_rc 6 "repair of a write-protected device" -- "$HSMVAULT" stick repair "$l"
grep -q "write-protected" "$WORK/err" || { cat "$WORK/err"; fail "repair on a read-only device: message"; }
drop_loop "$l"
ok "write-protected device read; repair refused by the device"
