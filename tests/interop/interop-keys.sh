#!/bin/bash
# pkcs11-tool --keypairgen EC P-256 and RSA 2048 on the simulator;
# pkcs15-tool -D lists both with their labels and IDs, and hsmvault card
# status reads the same inventory.
. "$(dirname "$0")/interop-lib.sh"

R0=$(reader_name 0)
sim_insert 0 "$W/a.state" --blank --serial HVINTK01
# The card refuses new keys while DKEK shares are outstanding: one share.
init_card 0 --dkek-shares 1 --label interop-keys
import_share 0 "$DATA/dkek-share-1.pbe" share1password

P11="pkcs11-tool --token-label interop-keys --login --pin $PIN"
run $P11 --keypairgen --key-type EC:prime256v1 --label interop-ec --id 0e01 ||
	hv_fail "pkcs11-tool --keypairgen EC"
run $P11 --keypairgen --key-type rsa:2048 --label interop-rsa --id 0e02 ||
	hv_fail "pkcs11-tool --keypairgen RSA"

out=$(run pkcs15-tool --reader "$R0" -D)
echo "$out"
python3 - "$out" <<'PY' || hv_fail "pkcs15-tool -D does not list the keys as generated"
import re, sys
text = sys.argv[1]
# One block per object: "Private RSA Key [label]" / "Private EC Key [label]".
blocks = re.split(r"\n(?=\S)", text)
def block(kind, label):
    for b in blocks:
        if b.startswith(f"Private {kind} Key [{label}]"):
            return b
    raise AssertionError(f"no Private {kind} Key [{label}]")
ec = block("EC", "interop-ec")
rsa = block("RSA", "interop-rsa")
assert re.search(r"ID\s+:\s+0e01\b", ec), ec
assert re.search(r"ID\s+:\s+0e02\b", rsa), rsa
assert re.search(r"ModLength\s+:\s+2048\b", rsa), rsa
assert re.search(r"FieldLength\s+:\s+256\b", ec), ec
PY

"$HSMVAULT" card status --reader "$R0" --json >"$W/st.json" || hv_fail "hsmvault card status"
python3 - "$W/st.json" <<'PY' || hv_fail "hsmvault card status lists other keys than pkcs15-tool"
import json, sys
c = json.load(open(sys.argv[1]))["readers"][0]["card"]
keys = {k["label"]: k for k in c["keys"] if not k["device_key"]}
assert set(keys) == {"interop-ec", "interop-rsa"}, keys
ec, rsa = keys["interop-ec"], keys["interop-rsa"]
assert ec["id"] == "0e01" and ec["algorithm"] == "EC" and ec["curve"] == "P-256", ec
assert rsa["id"] == "0e02" and rsa["algorithm"] == "RSA" and rsa["bits"] == 2048, rsa
assert ec["exportable"] and rsa["exportable"], keys
PY

echo "interop-keys passed"
