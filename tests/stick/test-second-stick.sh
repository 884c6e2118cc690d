#!/bin/bash
# A second stick (stick copy, compare, sync), on folder vaults and small
# image sticks with the fast KDF. Cost: about 30 s, 40-70 s under ASan (six fast-KDF stick
# images of 40 MiB, a few dozen unlocks, two kernel mounts).
# - copy: a folder vault (the sample) to a folder and to a stick, a stick to
#   a second stick with its own LUKS2 header and passphrase; every file
#   byte for byte; compare = same; a non-empty target needs prepare's
#   confirmation (batch: --confirm-device), refused without it, unchanged;
#   at the terminal (hv-pty): FROM's passphrase, the typed confirmation,
#   the new passphrase twice.
# - one ahead: compare names who is ahead by how much (exit 1); sync the
#   wrong way is refused (exit 7, both images unchanged); sync the right way
#   brings the copy up to the same head (exit 0), the fs stays clean.
# - diverged on purpose (each gets another new version): compare names the
#   first differing version and file and shows both histories (exit 1);
#   sync is refused both ways (exit 7) with nothing changed (images hashed).
# - by hand: RECOVERY.md's comparison loop (section "A second stick") shows
#   one sha256 for synced sticks and two for diverged ones.
# - a sync interrupted after writing files but before the version naming
#   them: compare exits 5 naming the file, a second sync completes it.
# - journal: compare says which side has entries the other lacks or where
#   they differ (exit 0 all the same: it records checks, not content); sync
#   copies newer entries and leaves a journal that differs alone.
. "$(dirname "$0")/lib.sh"
[ -x "${VAULT_APPEND:-}" ] || fail "VAULT_APPEND is not set (run through meson)"
[ -d "${VAULT_SAMPLE:-}" ] || fail "VAULT_SAMPLE is not set (run through meson)"
PASS2='second stick passphrase'
sum() { sha256sum "$1" | cut -d' ' -f1; }
# hv2 ARGS...: PASS on fd 3, PASS2 on fd 4 (the second stick's, or a copy's new one)
hv2() { "$HSMVAULT" "$@" 3< <(printf '%s\n' "$PASS") 4< <(printf '%s\n' "$PASS2") </dev/null; }
# append VAULT NAME TIME [PASSPHRASE]: one new version naming shares/NAME.pbe
append() {
	local p=${4:-$PASS}
	HSMVAULT_STICK_PASSPHRASE_FD=3 "$VAULT_APPEND" "$1" "$2" "$3" 3< <(printf '%s\n' "$p") \
		|| fail "appending $2 to $1"
}

# by_hand A_IMG A_PASS B_IMG B_PASS: the comparison loop of RECOVERY.md's
# section "A second stick", taken from A's own RECOVERY.md, run on the two
# file systems mounted read-only by the kernel (decrypted copies on loop
# devices: no dm-crypt here); prints its two "sha256  path" lines
by_hand() {
	local i=0 img p l
	for img in "$1:$2" "$3:$4"; do
		i=$((i + 1))
		p=${img#*:} img=${img%%:*}
		printf '%s\n' "$p" | "$STICK_TESTTOOL" decrypt "$img" "$WORK/hand$i" || fail "decrypting $img"
		l=$(new_loop "$WORK/hand$i")
		mkdir -p "$WORK/mnt/hsmvault$([ $i = 2 ] && echo 2)"
		mount -o ro "$l" "$WORK/mnt/hsmvault$([ $i = 2 ] && echo 2)" || fail "mounting $img's file system"
		MOUNTS="$MOUNTS $WORK/mnt/hsmvault$([ $i = 2 ] && echo 2)"
	done
	tt cat "$1" RECOVERY.md | awk '/^## A second stick/ { s = 1 } s && /^for d in/ { b = 1 } b { print } b && /^done/ { exit }' \
		| sed "s#/mnt/#$WORK/mnt/#g" >"$WORK/hand.sh"
	grep -q sha256sum "$WORK/hand.sh" || fail "RECOVERY.md has no comparison loop in 'A second stick'"
	bash "$WORK/hand.sh" >"$WORK/hand.out" || fail "RECOVERY.md's comparison loop failed"
	for m in $MOUNTS; do umount "$m"; done
	MOUNTS=""
	for l in $(cat "$WORK/loops"); do drop_loop "$l"; done
	[ "$(wc -l <"$WORK/hand.out")" = 2 ] || { cat "$WORK/hand.out"; fail "the loop printed no two sums"; }
}

# ---- copy ----
cp -r "$VAULT_SAMPLE" "$WORK/f1"
mkdir "$WORK/f2"
expect_rc 0 "copy folder to folder" -- hv stick copy "$WORK/f1" "$WORK/f2"
diff -r "$WORK/f1" "$WORK/f2" >/dev/null || fail "folder copy differs from the original"
expect_rc 0 "compare of a folder and its copy" -- hv stick compare "$WORK/f1" "$WORK/f2"
grep -q "^same: .* version 3, manifest head sha256 $(sha256sum "$WORK/f1/manifest/000003.yaml" | cut -d' ' -f1)" \
	"$WORK/out" || { cat "$WORK/out"; fail "compare does not say same with the head's sha256"; }
grep -q "^verification journals: the same (1 entry)" "$WORK/out" || { cat "$WORK/out"; fail "compare: journals"; }
ok "folder copied byte for byte; compare: same, with the head's sha256"

a="$WORK/a.img" b="$WORK/b.img"
expect_rc 0 "copy folder to a new image" -- hv2 stick copy "$WORK/f1" "$a" --size 40M $FAST --new-passphrase-fd 3
for f in HSMVAULT RECOVERY.md policy.yaml manifest/000001.yaml manifest/000002.yaml \
	manifest/000003.yaml journal/000001.yaml; do
	tt cat "$a" "$f" >"$WORK/got" || fail "reading $f from $a"
	cmp -s "$WORK/got" "$WORK/f1/$f" || fail "$f on $a differs from the folder's"
done
expect_rc 0 "copy stick to stick" -- hv2 stick copy "$a" "$b" $FAST --passphrase-fd 3 --new-passphrase-fd 4
grep -q "both hold version 3" "$WORK/out" || { cat "$WORK/out"; fail "copy does not name the head"; }
[ "$(stat -c %s "$b")" = "$(stat -c %s "$a")" ] || fail "the image copy has another size"
ua=$(cryptsetup luksUUID "$a") ub=$(cryptsetup luksUUID "$b")
[ -n "$ua" ] && [ "$ua" != "$ub" ] || fail "the copy has the same LUKS2 UUID ($ua): not its own header"
printf '%s\n' "$PASS" | cryptsetup open --test-passphrase "$b" 2>/dev/null && fail "the copy opens with the first stick's passphrase"
printf '%s\n' "$PASS2" | cryptsetup open --test-passphrase "$b" || fail "the copy does not open with its own passphrase"
fsck_clean "$a"
printf '%s\n' "$PASS2" | "$STICK_TESTTOOL" decrypt "$b" "$WORK/plain" || fail "decrypting $b"
e2fsck -fn "$WORK/plain" >/dev/null 2>&1 || fail "e2fsck on the copy"
expect_rc 0 "compare a stick and its copy" -- hv2 stick compare "$a" "$b" --passphrase-fd 3 --second-passphrase-fd 4
ok "stick copy: own LUKS2 header (UUID $ub) and passphrase, same files, same chain, clean ext4"

# a non-empty target is prepare's business: refused in batch mode without --confirm-device
c="$WORK/c.img"
dd if=/dev/urandom of="$c" bs=1M count=40 status=none
before=$(sum "$c")
expect_rc 7 "copy onto random bytes without confirmation" -- hv2 stick copy "$a" "$c" $FAST --batch --passphrase-fd 3 --new-passphrase-fd 4
grep -q "confirm-device" "$WORK/err" || { cat "$WORK/err"; fail "no --confirm-device advice"; }
[ "$(sum "$c")" = "$before" ] || fail "a refused copy changed the target"
expect_rc 0 "copy onto random bytes, confirmed" -- hv2 stick copy "$a" "$c" $FAST --batch --confirm-device "$c" --passphrase-fd 3 --new-passphrase-fd 4
expect_rc 0 "compare with the confirmed copy" -- hv2 stick compare "$a" "$c" --passphrase-fd 3 --second-passphrase-fd 4
expect_rc 2 "copy onto itself" -- hv2 stick copy "$a" "$a" --passphrase-fd 3
ok "copy onto a non-empty stick: refused without confirmation (unchanged), done with it"

# at the terminal: FROM's passphrase, the typed confirmation of a target
# that is not empty (c holds a vault now), the new passphrase twice
[ -x "${HV_PTY:-}" ] || fail "HV_PTY must name the hv-pty helper (run through meson test)"
"$HV_PTY" -t 120 -e "Passphrase of $a: " -s "$PASS\n" -e "Type the device path ($c) to erase it: " \
	-s "$c\n" -e "New passphrase for the copy stick: " -s "$PASS2\n" \
	-e "Repeat passphrase for the copy stick: " -s "$PASS2\n" -- \
	"$HSMVAULT" stick copy "$a" "$c" $FAST >"$WORK/tty.out" 2>&1
rc=$?
[ "$rc" = 0 ] || { cat -A "$WORK/tty.out"; fail "copy at the terminal: exit $rc"; }
grep -q "both hold version 3" "$WORK/tty.out" || { cat -A "$WORK/tty.out"; fail "copy at the terminal: no result line"; }
printf '%s\n' "$PASS2" | cryptsetup open --test-passphrase "$c" || fail "the terminal copy does not open with the passphrase typed twice"
ok "copy at the terminal: FROM's passphrase, typed confirmation, new passphrase twice"

# ---- one ahead, then sync ----
append "$a" alpha 1800000000
expect_rc 1 "compare with A one ahead" -- hv2 stick compare "$a" "$b" --passphrase-fd 3 --second-passphrase-fd 4
grep -q "is 1 version ahead of $b" "$WORK/out" && grep -q "version 4 .* test: alpha" "$WORK/out" \
	|| { cat "$WORK/out"; fail "compare does not say A is 1 ahead with its version"; }
expect_rc 1 "compare --json, B first" -- hv2 stick compare "$b" "$a" --json --passphrase-fd 4 --second-passphrase-fd 3
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["relation"]=="b-ahead" and d["ahead_by"]==1 and d["a_version"]==3 and d["b_version"]==4, d' \
	"$WORK/out" || fail "compare --json"
sa=$(sum "$a") sb=$(sum "$b")
expect_rc 7 "sync backwards" -- hv2 stick sync "$b" "$a" --passphrase-fd 4 --second-passphrase-fd 3
grep -q "never goes backwards" "$WORK/err" || { cat "$WORK/err"; fail "backwards sync: no reason given"; }
[ "$(sum "$a")" = "$sa" ] && [ "$(sum "$b")" = "$sb" ] || fail "a refused sync changed an image"
expect_rc 0 "sync A to B" -- hv2 stick sync "$a" "$b" --passphrase-fd 3 --second-passphrase-fd 4
grep -q "at version 3 and is now at version 4" "$WORK/out" || { cat "$WORK/out"; fail "sync report"; }
expect_rc 0 "compare after sync" -- hv2 stick compare "$a" "$b" --passphrase-fd 3 --second-passphrase-fd 4
expect_rc 0 "second sync" -- hv2 stick sync "$a" "$b" --passphrase-fd 3 --second-passphrase-fd 4
grep -q "already hold the same vault" "$WORK/out" || { cat "$WORK/out"; fail "a second sync is not a no-op"; }
printf '%s\n' "$PASS2" | "$STICK_TESTTOOL" decrypt "$b" "$WORK/plain" || fail "decrypting $b"
e2fsck -fn "$WORK/plain" >/dev/null 2>&1 || fail "e2fsck on the synced copy"
by_hand "$a" "$PASS" "$b" "$PASS2"
[ "$(cut -d' ' -f1 "$WORK/hand.out" | sort -u | wc -l)" = 1 ] && grep -q "manifest/000004.yaml$" "$WORK/hand.out" \
	|| { cat "$WORK/hand.out"; fail "by hand (RECOVERY.md): the synced sticks do not show one newest version"; }
# a folder behind a stick: sync works across kinds
expect_rc 0 "sync stick to folder" -- hv2 stick sync "$a" "$WORK/f2" --passphrase-fd 3
cmp -s "$WORK/f2/manifest/000004.yaml" <(tt cat "$a" manifest/000004.yaml) || fail "folder sync: version 4 differs"
ok "one ahead: compare says so, backwards refused (unchanged), sync then same; folders too"

# ---- diverged on purpose ----
append "$a" left 1800000100
append "$b" right 1800000200 "$PASS2"
sa=$(sum "$a") sb=$(sum "$b")
expect_rc 1 "compare diverged" -- hv2 stick compare "$a" "$b" --passphrase-fd 3 --second-passphrase-fd 4
grep -q "differ from version 5 on (manifest/000005.yaml; first differing file: shares/left.pbe)" "$WORK/out" \
	|| { cat "$WORK/out"; fail "compare does not name the first differing version and file"; }
grep -q "version 5 .* test: left" "$WORK/out" && grep -q "version 5 .* test: right" "$WORK/out" \
	|| { cat "$WORK/out"; fail "compare does not show both histories"; }
for dir in "$a $b 3 4" "$b $a 4 3"; do
	set -- $dir
	expect_rc 7 "sync diverged $1 -> $2" -- hv2 stick sync "$1" "$2" --passphrase-fd "$3" --second-passphrase-fd "$4"
	grep -q "test: left" "$WORK/err" && grep -q "test: right" "$WORK/err" && grep -q "nothing was written" "$WORK/err" \
		|| { cat "$WORK/err"; fail "refused sync does not show both histories"; }
done
[ "$(sum "$a")" = "$sa" ] && [ "$(sum "$b")" = "$sb" ] || fail "a refused sync changed an image"
by_hand "$a" "$PASS" "$b" "$PASS2"
[ "$(cut -d' ' -f1 "$WORK/hand.out" | sort -u | wc -l)" = 2 ] && [ "$(grep -c "manifest/000005.yaml$" "$WORK/hand.out")" = 2 ] \
	|| { cat "$WORK/hand.out"; fail "by hand (RECOVERY.md): diverged sticks do not show two different version 5"; }
ok "diverged: compare names version 5 and shares/left.pbe, both histories; sync refused both ways, images unchanged"

# ---- a sync interrupted after its file step: the copy's policy.yaml is
# already the new one, the version naming it is not written yet ----
cp -r "$VAULT_SAMPLE" "$WORK/g1"
cp -r "$VAULT_SAMPLE" "$WORK/g2"
append "$WORK/g1" policy 1800000300
cp "$WORK/g1/policy.yaml" "$WORK/g2/policy.yaml"
expect_rc 5 "compare with a half-synced copy" -- hv stick compare "$WORK/g1" "$WORK/g2"
grep -q "policy.yaml" "$WORK/err" || { cat "$WORK/err"; fail "compare does not name the replaced file"; }
expect_rc 0 "sync again after the interruption" -- hv stick sync "$WORK/g1" "$WORK/g2"
expect_rc 0 "compare after the second sync" -- hv stick compare "$WORK/g1" "$WORK/g2"
diff -r "$WORK/g1" "$WORK/g2" >/dev/null || fail "the resumed sync left the folders different"
ok "a sync interrupted after its file step: the copy fails compare (exit 5, names policy.yaml); sync again completes it"

# ---- the verification journal travels with a sync when the copy's is a prefix ----
append "$WORK/g1" journal 1800000400
expect_rc 0 "compare with a newer journal entry on one side" -- hv stick compare "$WORK/g1" "$WORK/g2"
grep -q "^verification journals: $WORK/g1 has 1 entry $WORK/g2 lacks" "$WORK/out" \
	|| { cat "$WORK/out"; fail "compare does not name the journal entry one side lacks"; }
expect_rc 0 "sync of a journal entry" -- hv stick sync "$WORK/g1" "$WORK/g2"
grep -q "; 1 journal entry copied" "$WORK/out" || { cat "$WORK/out"; fail "sync did not copy the journal entry"; }
diff -r "$WORK/g1" "$WORK/g2" >/dev/null || fail "journal sync left the folders different"
append "$WORK/g1" journal 1800000500
append "$WORK/g2" journal 1800000600
expect_rc 0 "sync with journals that differ" -- hv stick sync "$WORK/g1" "$WORK/g2"
grep -q "verification journal has entries .* lacks; it was left as it is" "$WORK/out" \
	|| { cat "$WORK/out"; fail "sync does not say it left the other journal alone"; }
cmp -s "$WORK/g2/journal/000003.yaml" "$WORK/g1/journal/000003.yaml" && fail "sync replaced a journal entry"
expect_rc 0 "compare with journals that differ" -- hv stick compare "$WORK/g1" "$WORK/g2"
grep -q "^verification journals: they differ from entry 3 on" "$WORK/out" \
	|| { cat "$WORK/out"; fail "compare does not say where the journals differ"; }
ok "journal: a newer entry is copied; journals that differ are left alone and said"
