#!/bin/bash
# flows/cardset.h against two simulated cards (cardset_probe): identities
# read right and told apart, cards worked in parallel threads, a failing
# card named in the message, --reader checked, a card without the applet
# skipped, no card at all refused.
. "$HV_FLOWS_LIB"
PROBE=${CARDSET_PROBE:?CARDSET_PROBE must name cardset_probe (set by meson test)}
R0=$(reader_name 0)
R1=$(reader_name 1)

insert_blank 0 CSA01
insert_blank 1 CSB02

out=$("$PROBE" list) || fail "cardset_probe list failed: $out"
echo "$out"
[ "$(grep -c '^card	' <<<"$out")" = 2 ] || fail "expected 2 cards, got: $out"
if [ "${HV_SIM_PROFILE:-}" = pico-hsm ]; then
	# a factory-fresh pico-hsm has no device identity until its first
	# INITIALIZE: listed as blank, without card_id; OpenSC's sc-hsm-tool
	# initializes both, and they have one from then on
	for r in "$R0" "$R1"; do
		grep -q "^card	$r			(blank, no identity yet)	" <<<"$out" ||
			fail "a blank pico-hsm in $r is not listed as blank without identity: $out"
	done
	hv_require_tool sc-hsm-tool opensc
	for i in 0 1; do
		sc-hsm-tool --reader "$i" --initialize --so-pin "$SOPIN" --pin "$PIN" >"$WORK/init.out" 2>&1 ||
			{ cat "$WORK/init.out"; fail "sc-hsm-tool --initialize of the pico-hsm in reader $i"; }
	done
	out=$("$PROBE" list) || fail "cardset_probe list failed: $out"
	echo "$out"
	ok "blank pico-hsm cards listed without identity; initialized with sc-hsm-tool"
fi
line0=$(grep "^card	$R0	" <<<"$out") || fail "no card listed in reader $R0"
line1=$(grep "^card	$R1	" <<<"$out") || fail "no card listed in reader $R1"
id0=$(cut -f3 <<<"$line0"); id1=$(cut -f3 <<<"$line1")
[ "$id0" != "$id1" ] || fail "two cards got the same card_id $id0"
for l in "$line0" "$line1"; do
	cid=$(cut -f3 <<<"$l"); iid=$(cut -f4 <<<"$l"); serial=$(cut -f5 <<<"$l")
	[[ $cid =~ ^${serial}-[0-9a-f]{16}$ ]] || fail "card_id '$cid' is not SERIAL-hash16 (serial $serial)"
	[ "$iid" = "$cid" ] || fail "card_id $cid does not match identity $iid"
done
[[ $(cut -f5 <<<"$line0") == CSA01* ]] || fail "reader 0 card serial is not CSA01...: $line0"
[[ $(cut -f5 <<<"$line1") == CSB02* ]] || fail "reader 1 card serial is not CSB02...: $line1"

# The same identities as `hsmvault card status` reports.
hv card status --json >"$WORK/status.json" || fail "card status failed"
for r in "$R0" "$R1"; do
	want=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["readers"]:
    if r["reader"] == sys.argv[2]:
        print(r["card"]["card_id"])
' "$WORK/status.json" "$r") || fail "reading status.json"
	got=$(grep "^card	$r	" <<<"$out" | cut -f3)
	[ -n "$want" ] && [ "$want" = "$got" ] || fail "reader $r: card status says '$want', cardset '$got'"
done
ok "identities: $id0 $id1"

out=$("$PROBE" each) || fail "cardset_each did not run the cards together: $out"
[ "$out" = "parallel 2 threads" ] || fail "cardset_each: $out"
ok "cardset_each: both cards in their own threads at once"

out=$("$PROBE" fail); rc=$?
[ "$rc" = 4 ] || fail "a failing card gave exit $rc, want 4 (card): $out"
serial1=$(cut -f5 <<<"$line1")
grep -qxF "error card: card $serial1 in reader $R1: test failure" <<<"$out" ||
	fail "failure message does not name card and reader: $out"
grep -qx "rc 0 ok" <<<"$out" || fail "the healthy card did not keep its own result: $out"
grep -qx "rc 1 card" <<<"$out" || fail "the failing card did not keep its own result: $out"
ok "failure names card and reader"

out=$("$PROBE" --reader "$R1" list) || fail "--reader $R1: $out"
[ "$(grep -c '^card	' <<<"$out")" = 1 ] && grep -q "^card	$R1	" <<<"$out" ||
	fail "--reader $R1 did not give just that card: $out"
out=$("$PROBE" --reader "No Such Reader" list); rc=$?
[ "$rc" = 2 ] || fail "unknown --reader gave exit $rc, want 2: $out"
grep -qF "'$R0'" <<<"$out" && grep -qF "'$R1'" <<<"$out" ||
	fail "unknown --reader message does not list the readers: $out"
ok "--reader"

# A card without the SmartCard-HSM applet (the harness's stand-in card).
sim_pull 1
HSMVAULT_SIM="$HV_HARNESS_DIR/fake-card.py" sim_insert 1 "$WORK/fake.state"
out=$("$PROBE" list) || fail "a card without the applet stopped the flow: $out"
[ "$(grep -c '^card	' <<<"$out")" = 1 ] && grep -q "^card	$R0	" <<<"$out" ||
	fail "with a foreign card in reader 1, expected only reader 0's card: $out"
grep -F "$R1" <<<"$out" | grep -q "^skipped" || fail "no 'skipped' line naming reader 1: $out"
grep "^skipped" <<<"$out"
out=$("$PROBE" --reader "$R1" list); rc=$?
[ "$rc" = 4 ] || fail "--reader with only a foreign card gave exit $rc, want 4: $out"
ok "card without the applet skipped"

sim_pull 0
sim_pull 1
out=$("$PROBE" list); rc=$?
[ "$rc" = 4 ] || fail "no cards gave exit $rc, want 4: $out"
grep -qF "no SmartCard-HSM card found" <<<"$out" || fail "no-card message: $out"
ok "no card refused"
