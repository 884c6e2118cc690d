#!/bin/bash
# sc-hsm-tool status and --initialize (without and with --label) against
# the simulator; pkcs15-tool / pkcs11-tool see the label; hsmvault card
# status agrees with sc-hsm-tool on serial and tries.
. "$(dirname "$0")/interop-lib.sh"

R0=$(reader_name 0)
sim_insert 0 "$W/a.state" --blank --serial HVINTI01

out=$(run sc-hsm-tool --reader "$R0") || hv_fail "sc-hsm-tool status failed on a blank card"
echo "$out"
grep -q "never been initialized" <<<"$out" || hv_fail "blank card not reported as never initialized"

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
# (sc-hsm-tool exits 0 even then: its message is what tells.)
out=$(run sc-hsm-tool --reader "$R0" --initialize --so-pin 0102030405060708 --pin "$PIN" \
	--label other 2>&1) || true
echo "$out"
grep -q "PIN code or key incorrect" <<<"$out" || hv_fail "re-initialization with a wrong SO-PIN was not refused"
out=$(run pkcs15-tool --reader "$R0" -D)
grep -qF "PKCS#15 Card [interop label]" <<<"$out" || hv_fail "refused re-initialization changed the label"

echo "interop-init passed"
