#!/bin/bash
# sc-hsm-tool status and --initialize (without and with --label) against
# the simulator; pkcs15-tool / pkcs11-tool see the label; hsmvault card
# status agrees with sc-hsm-tool on serial and tries. Per profile: pico-hsm
# shows version 6.6, has no device certificate (PKCS#15 bind fails) before
# INITIALIZE, and re-initializes without checking the SO-PIN.
. "$(dirname "$0")/interop-lib.sh"

R0=$(reader_name 0)
sim_insert 0 "$W/a.state" --blank --serial HVINTI01

out=$(run sc-hsm-tool --reader "$R0") || hv_fail "sc-hsm-tool status failed on a blank card"
echo "$out"
grep -q "never been initialized" <<<"$out" || hv_fail "blank card not reported as never initialized"
case $PROFILE in
smartcard-hsm) want_version="3.5" ;;
nitrokey-hsm2) want_version="4.1" ;;
pico-hsm) want_version="6.6" ;;
esac
grep -qE "^Version +: $want_version$" <<<"$out" || hv_fail "sc-hsm-tool does not show version $want_version"
if is_pico; then
	# No device certificate yet: OpenSC cannot bind PKCS#15 to the card.
	if run pkcs15-tool --reader "$R0" -D >"$W/p15-blank.txt" 2>&1; then
		cat "$W/p15-blank.txt"
		hv_fail "pkcs15-tool bound to a pico-hsm that has no device certificate"
	fi
else
	out=$(run pkcs15-tool --reader "$R0" -D) || hv_fail "pkcs15-tool cannot bind to a blank $PROFILE"
	grep -qE "Serial number +: HVINTI01$" <<<"$out" || hv_fail "serial of the blank card not shown"
fi

# --initialize without a label: OpenSC shows its default label.
init_card 0
out=$(run sc-hsm-tool --reader "$R0")
echo "$out"
grep -qE "^SO-PIN tries left +: 15$" <<<"$out" || hv_fail "SO-PIN tries after initialize"
grep -qE "^User PIN tries left +: 3$" <<<"$out" || hv_fail "user PIN tries after initialize"
grep -q "User PIN reset with SO-PIN enabled" <<<"$out" || hv_fail "options after initialize"
out=$(run pkcs15-tool --reader "$R0" -D)
echo "$out"
grep -qF "PKCS#15 Card [SmartCard-HSM]" <<<"$out" || hv_fail "default token label not shown"
grep -qE "Serial number +: HVINTI01$" <<<"$out" || hv_fail "serial not shown by pkcs15-tool"

# hsmvault reads the same card the same way.
"$HSMVAULT" card status --reader "$R0" --json >"$W/st.json" || hv_fail "hsmvault card status failed"
python3 - "$W/st.json" <<'PY' || hv_fail "hsmvault card status disagrees with sc-hsm-tool"
import json, sys
c = json.load(open(sys.argv[1]))["readers"][0]["card"]
assert c["serial"] == "HVINTI01", c
assert c["user_pin"]["tries_left"] == 3 and c["so_pin"]["tries_left"] == 15, c
assert c["dkek"]["configured"] is False, c["dkek"]
PY

# --initialize with --label (re-initialization with the same SO-PIN).
init_card 0 --label "interop label"
out=$(run pkcs15-tool --reader "$R0" -D)
echo "$out"
grep -qF "PKCS#15 Card [interop label]" <<<"$out" || hv_fail "label not shown by pkcs15-tool"
out=$(run pkcs11-tool -L)
grep -qE "token label +: interop label" <<<"$out" || hv_fail "label not shown by pkcs11-tool: $out"

# Re-initialization with a wrong SO-PIN is refused and changes nothing.
# (sc-hsm-tool exits 0 even then: its message is what tells.) pico-hsm
# does not check the SO-PIN: the card is initialized again.
out=$(run sc-hsm-tool --reader "$R0" --initialize --so-pin 0102030405060708 --pin "$PIN" \
	--label other 2>&1) || true
echo "$out"
if is_pico; then
	grep -q "PIN code or key incorrect" <<<"$out" && hv_fail "pico-hsm refused a re-initialization"
	out=$(run pkcs15-tool --reader "$R0" -D)
	grep -qF "PKCS#15 Card [other]" <<<"$out" || hv_fail "pico-hsm re-initialization did not take the new label"
else
	grep -q "PIN code or key incorrect" <<<"$out" || hv_fail "re-initialization with a wrong SO-PIN was not refused"
	out=$(run pkcs15-tool --reader "$R0" -D)
	grep -qF "PKCS#15 Card [interop label]" <<<"$out" || hv_fail "refused re-initialization changed the label"
fi

echo "interop-init passed"
