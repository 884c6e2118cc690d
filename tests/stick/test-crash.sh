#!/bin/bash
# Crash consistency of the userspace backend. A writer adds a share file,
# appends manifest version 3 naming it and replaces RECOVERY.md; it is
# killed (SIGKILL: stick_testtool passes HSMVAULT_TEST_KILL_AFTER_WRITES to the io layer's
# test hook) after its 1st, 2nd, ... write until it survives. After every kill:
#  - the vault loads (chain and file hashes checked) at version 2 or 3;
#  - version 2 is byte-identical, RECOVERY.md is the old or the new one;
#  - e2fsck -fn on the decrypted copy finds nothing in passes 1-3 and only
#    these in passes 4-5: blocks/inodes marked used that nothing uses
#    (bitmap differences with '-' only, free counts, a bitmap checksum of a
#    half-written flush) and at most one complete file not yet named
#    ("Unattached inode"). Nothing is lost, nothing is doubly used;
#  - the next writer succeeds on the crashed stick.
. "$(dirname "$0")/lib.sh"

hv_pass stick prepare "$WORK/base.img" --size 48M $FAST >/dev/null 2>&1 || fail "prepare"
tt update "$WORK/base.img" 1 || fail "first update"
[ "$(tt current "$WORK/base.img" -)" = 2 ] || fail "base is not at version 2"
tt cat "$WORK/base.img" manifest/000002.yaml >"$WORK/v2" || fail "read v2"
tt cat "$WORK/base.img" RECOVERY.md >"$WORK/rec.old" || fail "read RECOVERY.md"
cp "$WORK/base.img" "$WORK/full.img"
tt update "$WORK/full.img" 2 || fail "uninterrupted update"
tt cat "$WORK/full.img" RECOVERY.md >"$WORK/rec.new"
cmp -s "$WORK/rec.old" "$WORK/rec.new" && fail "RECOVERY.md does not change: the replace path is not exercised"

allowed='^(Block|Inode) bitmap differences:( +-[0-9()-]+)+$'
allowed="$allowed|^(Block|Inode) bitmap differences: Group [0-9]+ (block|inode) bitmap does not match checksum\.$"
allowed="$allowed|^Free (blocks|inodes) count wrong( for group #[0-9]+)? \([0-9]+, counted=[0-9]+\)\.$"
allowed="$allowed|^Directories count wrong for group #[0-9]+ \([0-9]+, counted=[0-9]+\)\.$"
allowed="$allowed|^Unattached inode [0-9]+$|^Connect to /lost\+found\? no$"

n=0; at2=0; at3=0; dirty=0; survived=0
while [ $n -lt 500 ]; do
	n=$((n + 1))
	cp --sparse=always "$WORK/base.img" "$WORK/c.img"
	( printf '%s\n' "$PASS" | HSMVAULT_TEST_KILL_AFTER_WRITES=$n "$STICK_TESTTOOL" update "$WORK/c.img" 2 \
		2>"$WORK/werr" ) 2>/dev/null
	rc=$?
	[ $rc = 0 ] && { survived=1; break; }
	[ $rc = 137 ] || { cat "$WORK/werr"; fail "writer failed with $rc instead of being killed (n=$n)"; }
	cur=$(tt current "$WORK/c.img" - 2>"$WORK/cerr") || { cat "$WORK/cerr"; fail "vault unreadable after kill at write $n"; }
	case $cur in
	2) at2=$((at2 + 1)) ;;
	3) at3=$((at3 + 1)) ;;
	*) fail "version $cur after kill at write $n" ;;
	esac
	tt cat "$WORK/c.img" manifest/000002.yaml | cmp -s - "$WORK/v2" || fail "version 2 changed (n=$n)"
	tt cat "$WORK/c.img" RECOVERY.md >"$WORK/rec" || fail "RECOVERY.md unreadable (n=$n)"
	cmp -s "$WORK/rec" "$WORK/rec.old" || [ "$(stat -c %s "$WORK/rec")" = "$(stat -c %s "$WORK/rec.new")" ] \
		|| fail "RECOVERY.md is neither old nor new (n=$n)"
	[ "$cur" = 2 ] && ! cmp -s "$WORK/rec" "$WORK/rec.old" && fail "new RECOVERY.md before version 3 (n=$n)"

	tt decrypt "$WORK/c.img" "$WORK/plain" || fail "decrypt (n=$n)"
	e2fsck -fn "$WORK/plain" >"$WORK/fsck" 2>&1
	frc=$?
	[ $frc -le 4 ] || { cat "$WORK/fsck"; fail "e2fsck exit $frc (n=$n)"; }
	problems=$(grep -v -E '^(Pass [1-5]|e2fsck [0-9]|HSMVAULT: |Fix\? no$|IGNORED\.$|$)' "$WORK/fsck" | grep -v -E "$allowed")
	[ -z "$problems" ] || { cat "$WORK/fsck"; fail "e2fsck found more than leaks after kill at write $n: $problems"; }
	sed -n '/^Pass 1/,/^Pass 4/p' "$WORK/fsck" | grep -v -E '^Pass [1-4]' | grep -q . \
		&& { cat "$WORK/fsck"; fail "e2fsck problems in passes 1-3 (n=$n)"; }
	[ "$(grep -c '^Unattached inode' "$WORK/fsck")" -le 1 ] || fail "more than one unattached inode (n=$n)"
	[ $frc = 0 ] || dirty=$((dirty + 1))

	# the next run continues on the crashed stick
	tt update "$WORK/c.img" "$cur" 2>"$WORK/werr" || { cat "$WORK/werr"; fail "update after kill at write $n"; }
	[ "$(tt current "$WORK/c.img" -)" = $((cur + 1)) ] || fail "no version $((cur + 1)) after the retry (n=$n)"
done
[ $survived = 1 ] || fail "the writer never finished in $n writes"
[ $at2 -gt 0 ] && [ $at3 -gt 0 ] || fail "kills did not cover both sides of the manifest write ($at2/$at3)"
ok "killed after each of writes 1..$((n - 1)): $at2 times at version 2, $at3 at version 3, $dirty with leak-only e2fsck reports; write $n finished"
