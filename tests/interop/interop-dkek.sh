#!/bin/bash
# DKEK shares both ways between sc-hsm-tool and hsmvault:
#  - card A: two shares made by sc-hsm-tool --create-dkek-share, imported
#    with --import-dkek-share; the KCV sc-hsm-tool prints equals the KCV
#    hsmvault computes from the decrypted share files (and hsmvault card
#    status shows it too);
#  - card B: the reference share 1 (written by the real sc-hsm-tool) and a
#    share file written by hsmvault holding share 2, both imported by
#    sc-hsm-tool: KCV DBFFED54BA9E1D5B, the value of the reference pair.
# Each share file costs sc-hsm-tool 3 x 10,000,000 MD5 rounds: slow. Card A
# (two shares created, then imported) runs for the smartcard-hsm profile
# only; card B (two imports) runs for every profile, with hsmvault's own
# share file for smartcard-hsm and the reference files for the others. On pico-hsm
# sc-hsm-tool shows the KCV as zeros (the card hides it until VERIFY in the
# same session): asserted, and the real KCV read after VERIFY instead.
. "$(dirname "$0")/interop-lib.sh"

RA=$(reader_name 0) RB=$(reader_name 1)
sim_insert 1 "$W/b.state" --blank --serial HVINTD02

if [ "$PROFILE" = smartcard-hsm ]; then
sim_insert 0 "$W/a.state" --blank --serial HVINTD01
# ---- card A: shares created by sc-hsm-tool ----
init_card 0 --dkek-shares 2
run sc-hsm-tool --reader "$RA" --create-dkek-share "$W/s1.pbe" --password "interop-pw-one" ||
	hv_fail "--create-dkek-share 1"
run sc-hsm-tool --reader "$RA" --create-dkek-share "$W/s2.pbe" --password "interop-pw-two" ||
	hv_fail "--create-dkek-share 2"
[ "$(stat -c %s "$W/s1.pbe")" = 64 ] && [ "$(stat -c %s "$W/s2.pbe")" = 64 ] ||
	hv_fail "share files are not 64 bytes"
cmp -s "$W/s1.pbe" "$W/s2.pbe" && hv_fail "two created share files are identical"
out=$(import_share 0 "$W/s1.pbe" "interop-pw-one")
echo "$out"
grep -q "1 share(s) still missing" <<<"$out" || hv_fail "first import: no pending message"
out=$(import_share 0 "$W/s2.pbe" "interop-pw-two")
echo "$out"
kcv_tool=$(sed -n 's/^DKEK key check value *: *//p' <<<"$out")
[ -n "$kcv_tool" ] || hv_fail "sc-hsm-tool printed no KCV after the last share"
kcv_hv=$(run "$HV_DKEK_TOOL" kcv "$(pwfile interop-pw-one)" "$W/s1.pbe" \
	"$(pwfile interop-pw-two)" "$W/s2.pbe") || hv_fail "hsmvault could not decrypt sc-hsm-tool's shares"
echo "KCV sc-hsm-tool: $kcv_tool  hsmvault: $kcv_hv"
[ "$kcv_tool" = "$kcv_hv" ] || hv_fail "KCV differs: sc-hsm-tool $kcv_tool, hsmvault $kcv_hv"
[ "$(card_kcv 0)" = "$kcv_hv" ] || hv_fail "sc-hsm-tool status shows another KCV"
# hsmvault's own card status reads the same KCV from the card.
"$HSMVAULT" card status --reader "$RA" --json >"$W/a.json"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["readers"][0]["card"]["dkek"]
assert d == {"configured": True, "shares_total": 2, "shares_outstanding": 0, "kcv": sys.argv[2]}, d
' "$W/a.json" "$kcv_hv" || hv_fail "hsmvault card status shows another DKEK state"
# A wrong password is refused by hsmvault.
if "$HV_DKEK_TOOL" kcv "$(pwfile wrong-password)" "$W/s1.pbe" 2>"$W/wrong.err"; then
	hv_fail "hsmvault decrypted a share with a wrong password"
fi
grep -qi "password" "$W/wrong.err" || hv_fail "wrong password error unclear: $(cat "$W/wrong.err")"
else
	echo "card A (sc-hsm-tool --create-dkek-share) runs for the smartcard-hsm profile only"
fi

# ---- card B: the reference share 1 + a share file written by hsmvault ----
# (other profiles: the two reference files; what hsmvault writes does not
# depend on the card, and every key derivation costs seconds.)
if [ "$PROFILE" = smartcard-hsm ]; then
	# The reference files decrypt in hsmvault to the documented KCV.
	ref_kcv=$(run "$HV_DKEK_TOOL" kcv "$(pwfile share1password)" "$DATA/dkek-share-1.pbe" \
		"$(pwfile share2password)" "$DATA/dkek-share-2.pbe")
	[ "$ref_kcv" = DBFFED54BA9E1D5B ] || hv_fail "reference shares give KCV $ref_kcv"
	share2=5fda8a85eefcd1d90a0cfbdd58f1930c3b8f5345fa7983375859d4f2bf16e0bd
	run "$HV_DKEK_TOOL" write "$W/hv-share2.pbe" "$(pwfile hv-written-pw)" "$share2" ||
		hv_fail "hsmvault could not write a share file"
	cmp -s "$W/hv-share2.pbe" "$DATA/dkek-share-2.pbe" && hv_fail "hsmvault reused the reference salt"
	share2_file=$W/hv-share2.pbe share2_pw=hv-written-pw
else
	share2_file=$DATA/dkek-share-2.pbe share2_pw=share2password
fi
init_card 1 --dkek-shares 2
out=$(import_share 1 "$DATA/dkek-share-1.pbe" share1password)
echo "$out"
grep -q "1 share(s) still missing" <<<"$out" || hv_fail "first import on B: no pending message"
out=$(import_share 1 "$share2_file" "$share2_pw")
echo "$out"
kcv_b=$(sed -n 's/^DKEK key check value *: *//p' <<<"$out")
if is_pico; then
	# sc-hsm-tool verifies no PIN: pico-hsm shows zeros ...
	[ "$kcv_b" = 0000000000000000 ] ||
		hv_fail "pico-hsm showed sc-hsm-tool KCV '$kcv_b' without a PIN (zeros expected)"
	[ "$(card_kcv 1)" = 0000000000000000 ] || hv_fail "pico-hsm status shows a KCV without a PIN"
	# ... and the right one after VERIFY in the same card session.
	kcv_b=$(card_kcv_after_pin 1)
fi
[ "$kcv_b" = DBFFED54BA9E1D5B ] ||
	hv_fail "sc-hsm-tool imported share 2 ($share2_file) but the card shows KCV '$kcv_b'"
# hsmvault's card status (no PIN) never shows a wrong KCV: the value, or
# "unknown" on a card that hides it.
"$HSMVAULT" card status --reader "$RB" --json >"$W/b.json" || hv_fail "hsmvault card status on B"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))["readers"][0]["card"]["dkek"]
want = ("DBFFED54BA9E1D5B", "unknown") if sys.argv[2] == "pico-hsm" else ("DBFFED54BA9E1D5B",)
assert d["shares_outstanding"] == 0 and d["kcv"] in want, d
' "$W/b.json" "$PROFILE" || hv_fail "hsmvault card status shows another DKEK state on B"

echo "interop-dkek passed"
