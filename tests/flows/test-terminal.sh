#!/bin/bash
# The flows at a terminal, typed by a person (hv-pty): each holder asked by
# name, new secrets asked twice, each part of a split password shown to
# its holder alone on a cleared screen; a wrong share password asked again;
# Ctrl-C leaves cards and disk as they were.
. "$HV_FLOWS_LIB"
PTY=${HV_PTY:?HV_PTY must name hv-pty (set by meson test)}
sum() { sha256sum "$1" | cut -d' ' -f1; }
V=$WORK/vault
P=$WORK/p.yaml
{
	echo "format: hsmvault-policy/1"; echo "name: terminal"
	echo "cards:"; echo "  count: 1"
	# pico-hsm cannot prove it is genuine (self-signed device certificate)
	[ "${HV_SIM_PROFILE:-}" = pico-hsm ] && echo "  unattested: accept"
	echo "dkek:"; echo "  shares:"
	echo "    - holder: alice"
	echo "    - holders: [bob, carol, dave]"; echo "      threshold: 2"
} >"$P"
insert_blank 0 HVTTA01
insert_blank 1 HVTTB01
R0=$(reader_name 0)
R1=$(reader_name 1)

# 1. enroll at the terminal
"$PTY" -t 120 \
	-e "New password of DKEK share 1 (alice): " -s 'alice-password\n' \
	-e "Repeat password of DKEK share 1 (alice): " -s 'alice-passwrd\n' \
	-e "differ" \
	-e "New password of DKEK share 1 (alice): " -s 'alice-password\n' \
	-e "Repeat password of DKEK share 1 (alice): " -s 'alice-password\n' \
	-e "press Enter" -s '\n' -e "press Enter" -s '\n' -e "press Enter" -s '\n' \
	-e "New SO-PIN" -s "$SOPIN\\n" -e "Repeat SO-PIN" -s "$SOPIN\\n" \
	-e "New user PIN" -s "$PIN\\n" -e "Repeat user PIN" -s "$PIN\\n" \
	-- "$HSMVAULT" enroll --trust-dir "$HV_TRUST_DIR" --vault "$V" --policy "$P" --reader "$R0" >"$WORK/t1" 2>&1 ||
	{ cat -A "$WORK/t1"; fail "enroll at the terminal"; }
tr -d '\r' <"$WORK/t1" >"$WORK/t1.txt"
grep -q "enrolled 1 cards" "$WORK/t1.txt" || { cat "$WORK/t1.txt"; fail "enroll did not finish"; }
! grep -q "alice-password" "$WORK/t1.txt" || fail "a typed password was echoed"
# each holder's screen: cleared, then only their part
for h in bob carol dave; do
	grep -q $'\e\[H\e\[2JOnly '"$h may look at the screen now" "$WORK/t1.txt" ||
		fail "$h's part was not shown on a cleared screen"
	grep -A2 "^$h, your part is:" "$WORK/t1.txt" | tail -1 | sed 's/^ *//' >"$WORK/part-$h"
	grep -Eq '^[0-9a-f:]+ [0-9]+ [0-9a-f:]+$' "$WORK/part-$h" || fail "$h's part: $(cat "$WORK/part-$h")"
done
[ "$(sort -u "$WORK"/part-* | wc -l)" = 3 ] || fail "the three parts are not different"
ok "enroll at a terminal: passwords asked twice (a mismatch asked again), each part on its own cleared screen"

# 2. Ctrl-C while a holder types: nothing changed, no vault left behind
s1=$(sum "$WORK/card-1.state")
"$PTY" -t 60 -e "New password of DKEK share 1 (alice): " -s '\003' \
	-- "$HSMVAULT" enroll --trust-dir "$HV_TRUST_DIR" --vault "$WORK/v2" --policy "$P" --reader "$R1" >"$WORK/t2" 2>&1
rc=$?
[ $rc = 8 ] || { cat -A "$WORK/t2"; fail "Ctrl-C at a prompt: exit $rc, expected 8"; }
[ ! -e "$WORK/v2" ] || fail "Ctrl-C left a vault folder"
[ "$(sum "$WORK/card-1.state")" = "$s1" ] || fail "Ctrl-C at a prompt changed the card"
ok "Ctrl-C at a prompt: exit 8, card unchanged, no vault folder"
# ... and while the share files are sealed (after every answer was given)
"$PTY" -t 60 \
	-e "New password of DKEK share 1 (alice): " -s 'alice-password\n' \
	-e "Repeat password of DKEK share 1 (alice): " -s 'alice-password\n' \
	-e "press Enter" -s '\n' -e "press Enter" -s '\n' -e "press Enter" -s '\n' \
	-e "New SO-PIN" -s "$SOPIN\\n" -e "Repeat SO-PIN" -s "$SOPIN\\n" \
	-e "New user PIN" -s "$PIN\\n" -e "Repeat user PIN" -s "$PIN\\n" \
	-e "sealing" -s '\003' \
	-- "$HSMVAULT" enroll --trust-dir "$HV_TRUST_DIR" --vault "$WORK/v2" --policy "$P" --reader "$R1" >"$WORK/t3" 2>&1
rc=$?
[ $rc = 8 ] || { cat -A "$WORK/t3"; fail "Ctrl-C while sealing: exit $rc, expected 8"; }
grep -q "interrupted: nothing was changed" "$WORK/t3" || fail "$(cat "$WORK/t3")"
[ ! -e "$WORK/v2" ] || fail "Ctrl-C left a vault folder"
[ "$(sum "$WORK/card-1.state")" = "$s1" ] || fail "Ctrl-C while sealing changed the card"
ok "Ctrl-C while the shares are sealed: exit 8, nothing changed"

# 3. restore at the terminal onto the blank card: a wrong password is
# asked again; share 2 from two of its three holders (bob is away)
"$PTY" -t 180 \
	-e "Password of DKEK share 1 (alice): " -s 'wrong-password\n' \
	-e "bob's part" -s '\n' \
	-e "carol's part" -s "$(cat "$WORK/part-carol")\\n" \
	-e "dave's part" -s "$(cat "$WORK/part-dave")\\n" \
	-e "Password of DKEK share 1 (alice): " -s 'alice-password\n' \
	-e "New SO-PIN" -s "$SOPIN\\n" -e "Repeat SO-PIN" -s "$SOPIN\\n" \
	-e "New user PIN" -s "$PIN\\n" -e "Repeat user PIN" -s "$PIN\\n" \
	-- "$HSMVAULT" restore --trust-dir "$HV_TRUST_DIR" --vault "$V" --reader "$R1" >"$WORK/t4" 2>&1 ||
	{ cat -A "$WORK/t4"; fail "restore at the terminal"; }
tr -d '\r' <"$WORK/t4" >"$WORK/t4.txt"
grep -q "share 1 (alice): .*wrong" "$WORK/t4.txt" || { cat "$WORK/t4.txt"; fail "the wrong password was not named"; }
grep -q "restored 1 card" "$WORK/t4.txt" || { cat "$WORK/t4.txt"; fail "restore did not finish"; }
[ "$(grep -c "carol's part" "$WORK/t4.txt")" = 1 ] || fail "the correct split share was asked again"
ok "restore at a terminal: only the wrong share asked again; split share from carol and dave"
