#!/bin/bash
# hsmvault card status with two simulated cards in two readers at once, a
# blank card in a third and an empty fourth reader: human and JSON output,
# --reader, --help, and proof that status uses no PIN try.
set -eu
. "$HV_HARNESS_DIR/pcsc-env.sh"
hv_require_tool python3 python3
[ -x "${HV_CARD_PREP:-}" ] || hv_fail "HV_CARD_PREP must name the hv-card-prep helper (set by meson)"
[ "$HV_READER_COUNT" -ge 4 ] || hv_fail "this test needs 4 readers (HV_PCSC_ENTRIES=2)"

SHARE1=ef20b17736ac1e33c6286081b274d9c8a7042eed9cf05a6adf0b171d8b0adea5
SHARE2=5fda8a85eefcd1d90a0cfbdd58f1930c3b8f5345fa7983375859d4f2bf16e0bd
W="$HV_PCSC_WORK"
RA=$(reader_name 0) RB=$(reader_name 1) RC=$(reader_name 2) RD=$(reader_name 3)

sim_insert 0 "$W/a.state" --blank --serial HVSTATA01
sim_insert 1 "$W/b.state" --blank --serial HVSTATB01
sim_insert 2 "$W/c.state" --blank --serial HVSTATC01

# Card A: complete DKEK (shares 1 + 2), an EC and an RSA key, one wrong PIN.
"$HV_CARD_PREP" "$RA" init 2
"$HV_CARD_PREP" "$RA" import-share "$SHARE1"
"$HV_CARD_PREP" "$RA" import-share "$SHARE2"
ref_ec=$("$HV_CARD_PREP" "$RA" genkey ec status-ec 0a0b)
ref_rsa=$("$HV_CARD_PREP" "$RA" genkey rsa status-rsa 0c0d)
"$HV_CARD_PREP" "$RA" wrong-pin
# Card B: a DKEK still waiting for its second share.
"$HV_CARD_PREP" "$RB" init 2
"$HV_CARD_PREP" "$RB" import-share "$SHARE1"

# ---- human output ----
out="$W/status.txt"
"$HSMVAULT" card status >"$out" || hv_fail "card status failed (status $?)"
cat "$out"
expect() { grep -qE -- "$1" "$out" || hv_fail "human output lacks /$1/"; }
# The block of one reader: from its header to the next blank line.
block() { awk -v r="reader $1" '$0 == r {p = 1} p && /^$/ {exit} p' "$out"; }
block_has() { block "$1" | grep -qE -- "$2" || hv_fail "reader '$1': no /$2/ in: $(block "$1")"; }
expect "^reader $RA\$"
block_has "$RA" "serial: +HVSTATA01$"
block_has "$RA" "firmware: +[0-9]+\.[0-9]+$"
block_has "$RA" "user PIN: +2 tries left$"
block_has "$RA" "SO-PIN: +15 tries left$"
block_has "$RA" "DKEK: +2 shares, 0 outstanding, KCV DBFFED54BA9E1D5B$"
block_has "$RA" "^ +$ref_ec +0a0b +status-ec +EC P-256 +CV request +yes$"
block_has "$RA" "^ +$ref_rsa +0c0d +status-rsa +RSA 2048 +CV request +yes$"
block_has "$RB" "serial: +HVSTATB01$"
block_has "$RB" "user PIN: +3 tries left$"
block_has "$RB" "DKEK: +2 shares, 1 outstanding, KCV unknown$"
block_has "$RB" "^ +0 +- +\(device key\) "
block "$RB" | grep -qE "^ +[1-9][0-9]* +" && hv_fail "card B lists keys it does not hold"
block_has "$RC" "serial: +HVSTATC01$"
block_has "$RC" "state: +uninitialized$"
block_has "$RD" "^  no card$"
block "$RA" | grep -q "status-rsa" && ! block "$RB" | grep -q "status-" ||
	hv_fail "keys shown under the wrong reader"

# ---- JSON ----
"$HSMVAULT" card status --json >"$W/status.json" || hv_fail "card status --json failed"
python3 - "$W/status.json" "$RA" "$RB" "$RC" "$RD" "$ref_ec" "$ref_rsa" <<'PY' || hv_fail "JSON output wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
ra, rb, rc, rd, ref_ec, ref_rsa = sys.argv[2:8]
readers = {r["reader"]: r for r in doc["readers"]}
assert len(readers) == 4, readers.keys()
a = readers[ra]["card"]
assert readers[ra]["card_present"] is True
assert a["error"] is None, a["error"]
assert a["serial"] == "HVSTATA01", a["serial"]
assert a["firmware"].count(".") == 1
assert a["state"] == "initialized"
assert a["user_pin"] == {"state": "ok", "tries_left": 2}, a["user_pin"]
assert a["so_pin"] == {"state": "ok", "tries_left": 15}, a["so_pin"]
assert a["dkek"] == {"configured": True, "shares_total": 2, "shares_outstanding": 0,
                     "kcv": "DBFFED54BA9E1D5B"}, a["dkek"]
keys = {k["ref"]: k for k in a["keys"]}
ec, rsa = keys[int(ref_ec)], keys[int(ref_rsa)]
assert ec["label"] == "status-ec" and ec["id"] == "0a0b", ec
assert ec["algorithm"] == "EC" and ec["bits"] == 256 and ec["curve"] == "P-256", ec
assert ec["certificate"] is False and ec["cv_request"] is True and ec["exportable"] is True, ec
assert rsa["label"] == "status-rsa" and rsa["id"] == "0c0d", rsa
assert rsa["algorithm"] == "RSA" and rsa["bits"] == 2048 and rsa["curve"] is None, rsa
if 0 in keys:
    assert keys[0]["device_key"] is True and keys[0]["exportable"] is False
b = readers[rb]["card"]
assert b["serial"] == "HVSTATB01"
assert b["user_pin"]["tries_left"] == 3
assert b["dkek"]["shares_total"] == 2 and b["dkek"]["shares_outstanding"] == 1, b["dkek"]
assert b["dkek"]["kcv"] == "unknown", b["dkek"]
assert [k for k in b["keys"] if not k["device_key"]] == [], b["keys"]
c = readers[rc]["card"]
assert c["serial"] == "HVSTATC01" and c["state"] == "uninitialized", c
assert c["user_pin"]["state"] == "not-set", c
assert readers[rd]["card_present"] is False and readers[rd]["card"] is None
print("JSON output checked")
PY

# ---- --reader ----
"$HSMVAULT" card status --reader "$RB" --json >"$W/one.json" || hv_fail "--reader failed"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [r["reader"] for r in d["readers"]] == [sys.argv[2]], d
' "$W/one.json" "$RB" || hv_fail "--reader did not limit the output to $RB"
set +e
"$HSMVAULT" card status --reader "no such reader" >/dev/null 2>"$W/err.txt"
rc=$?
set -e
[ "$rc" = 2 ] || hv_fail "--reader with an unknown name: status $rc, expected 2"
grep -q "no reader named 'no such reader'" "$W/err.txt" || hv_fail "unclear error: $(cat "$W/err.txt")"

# ---- --help ----
"$HSMVAULT" card status --help >"$W/help.txt" || hv_fail "--help failed"
grep -q "usage: hsmvault card status \[--reader NAME\] \[--trust-dir DIR\]\.\.\. \[--json\]" "$W/help.txt" ||
	hv_fail "--help text: $(head -n1 "$W/help.txt")"
grep -q "No PIN is asked" "$W/help.txt" || hv_fail "--help does not say that no PIN is used"
"$HSMVAULT" card --help | grep -q status || hv_fail "hsmvault card --help does not list status"

# ---- no PIN try used: after two status runs, card A still has 2 tries ----
"$HSMVAULT" card status --reader "$RA" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["readers"][0]["card"]["user_pin"]["tries_left"] == 2, d
' || hv_fail "card status changed the PIN retry counter"

echo "card status test passed"
