#!/bin/bash
# Every key type hsmvault promises, on the card family HV_SIM_PROFILE names:
# RSA 2048, RSA 4096, EC P-256, P-384 and P-521 keys made with OpenSC's
# pkcs11-tool, backed up, verified (quick and deep), restored onto a
# factory-fresh card of the same family, proven by a deep verify, and used
# by OpenSC: each restored key signs, and the signature verifies with the
# public key exported before the card was lost.
. "$HV_FLOWS_LIB"
hv_require_tool pkcs11-tool opensc
hv_require_tool pkcs15-tool opensc
hv_require_tool openssl openssl
PROFILE=${HV_SIM_PROFILE:-smartcard-hsm}
V=$WORK/vault
write_policy "$WORK/p.yaml" keytypes 1 alice
insert_blank 0 HVKTA01
secrets() { printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN"; }
pinfd() { echo "pin $PIN"; }

hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) \
	>"$WORK/enroll.out" 2>&1 || { cat "$WORK/enroll.out"; fail "enroll ($PROFILE)"; }
kcv=$(hv show --vault "$V" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"]["dkek"]["kcv"])') ||
	fail "show after enroll"
ok "enrolled one $PROFILE card, KCV $kcv"

# id label pkcs11-tool key type, pkcs11-tool sign mechanism, status algorithm
KEYS="0a01 kt-rsa2048 rsa:2048 SHA256-RSA-PKCS RSA:2048
0a02 kt-rsa4096 rsa:4096 SHA256-RSA-PKCS RSA:4096
0a03 kt-p256 EC:prime256v1 ECDSA-SHA256 EC:P-256
0a04 kt-p384 EC:secp384r1 ECDSA-SHA256 EC:P-384
0a05 kt-p521 EC:secp521r1 ECDSA-SHA256 EC:P-521"
P11="pkcs11-tool --login --pin $PIN"
while read -r id label type mech alg; do
	$P11 --keypairgen --key-type "$type" --label "$label" --id "$id" >"$WORK/gen.out" 2>&1 ||
		{ cat "$WORK/gen.out"; fail "pkcs11-tool --keypairgen $type ($PROFILE)"; }
	# the public key as the original card shows it, kept for after the loss
	pkcs15-tool --read-public-key "$id" >"$WORK/$id.pub" 2>"$WORK/pub.err" &&
		openssl pkey -pubin -in "$WORK/$id.pub" -noout 2>/dev/null ||
		{ cat "$WORK/pub.err"; fail "pkcs15-tool --read-public-key $id gave no public key ($type)"; }
done <<<"$KEYS"
ok "OpenSC made RSA 2048, RSA 4096, P-256, P-384 and P-521 keys; public keys exported"

hv backup --vault "$V" --secrets-fd 3 3< <(pinfd) >"$WORK/b.out" 2>&1 ||
	{ cat "$WORK/b.out"; fail "backup ($PROFILE)"; }
n=$(ls "$V/keys/$kcv" | wc -l)
[ "$n" = 5 ] || { cat "$WORK/b.out"; fail "backup wrote $n wrap files, expected 5"; }
ok "backup wrapped all 5 keys"

# verify_ok WHAT ARGS...: verify exits 0 with PATTERN in its output
verify_expect() {
	local want=$1 pat=$2; shift 2
	hv verify --vault "$V" --no-record "$@" >"$WORK/v.out" 2>&1
	local rc=$?
	[ "$rc" = "$want" ] || { cat "$WORK/v.out"; fail "verify $*: exit $rc, expected $want ($PROFILE)"; }
	grep -q -- "$pat" "$WORK/v.out" || { cat "$WORK/v.out"; fail "verify $*: no '$pat' ($PROFILE)"; }
}
quick_verify() {
	case $PROFILE in
	pico-hsm)
		# pico-hsm shows its KCV only after the PIN: quick verify says
		# it could not check it (exit 11), --check-kcv checks it
		verify_expect 11 "only after the user PIN (pico-hsm); rerun with --check-kcv"
		verify_expect 0 "verified 1 card and 5 keys: everything matches" --check-kcv \
			--secrets-fd 3 3< <(pinfd) ;;
	*)
		verify_expect 0 "verified 1 card and 5 keys: everything matches" ;;
	esac
}
quick_verify
verify_expect 0 "each proven by a signature" --deep --secrets-fd 3 3< <(pinfd)
ok "quick and deep verify pass before the loss"

# the card is lost; a factory-fresh card of the same family replaces it
sim_pull 0
insert_blank 0 HVKTB01
hv restore --vault "$V" --secrets-fd 3 3< <(secrets) >"$WORK/r.out" 2>&1 ||
	{ cat "$WORK/r.out"; fail "restore onto a factory-fresh $PROFILE card"; }
cat "$WORK/r.out"
hv card status --reader "$(reader_name 0)" --json >"$WORK/rs.json" || fail "card status after restore"
python3 - "$WORK/rs.json" "$KEYS" <<'PY' || fail "the restored card does not hold the 5 keys as made"
import json, sys
c = json.load(open(sys.argv[1]))["readers"][0]["card"]
keys = {k["label"]: k for k in c["keys"] if not k["device_key"]}
for line in sys.argv[2].splitlines():
    kid, label, _, _, alg = line.split()
    k = keys[label]
    kind, size = alg.split(":")
    assert k["id"] == kid and k["algorithm"] == kind, k
    assert (k["bits"] == int(size)) if kind == "RSA" else (k["curve"] == size), k
assert len(keys) == 5, keys
PY
quick_verify
verify_expect 0 "each proven by a signature" --deep --secrets-fd 3 3< <(pinfd)
ok "restore onto a factory-fresh $PROFILE card; quick and deep verify of the restored card pass"

# OpenSC signs with every restored key; the original public key verifies it
echo "hsmvault key type check ($PROFILE)" >"$WORK/msg"
while read -r id label type mech alg; do
	fmt=()
	case $mech in ECDSA*) fmt=(--signature-format openssl) ;; esac
	rm -f "$WORK/sig"
	$P11 --sign --id "$id" -m "$mech" "${fmt[@]}" -i "$WORK/msg" -o "$WORK/sig" \
		>"$WORK/sign.out" 2>&1 || { cat "$WORK/sign.out"; fail "pkcs11-tool --sign with restored $label"; }
	openssl dgst -sha256 -verify "$WORK/$id.pub" -signature "$WORK/sig" "$WORK/msg" >/dev/null ||
		fail "restored $label: its signature does not verify with the public key exported before the loss"
done <<<"$KEYS"
ok "OpenSC signs with all 5 restored keys; each verifies with the original public key ($PROFILE)"
