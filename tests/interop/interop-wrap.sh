#!/bin/bash
# Backup and restore with OpenSC's tools between two simulated cards:
# sc-hsm-tool --wrap-key on card A, hsmvault parses and checks the wrap
# file under the DKEK, sc-hsm-tool --unwrap-key into card B (same share,
# second reader), pkcs11-tool --sign on B, and the signature verifies
# with the public key read from A. On pico-hsm the KCV is compared after
# VERIFY (sc-hsm-tool shows zeros), UNWRAP pre-creates the PRKD that
# sc-hsm-tool then overwrites, and pkcs11-tool signs RSA with algorithm 20.
. "$(dirname "$0")/interop-lib.sh"

RA=$(reader_name 0) RB=$(reader_name 1)
sim_insert 0 "$W/a.state" --blank --serial HVINTW01
sim_insert 1 "$W/b.state" --blank --serial HVINTW02
init_card 0 --dkek-shares 1 --label wrap-a
init_card 1 --dkek-shares 1 --label wrap-b
import_share 0 "$DATA/dkek-share-1.pbe" share1password
import_share 1 "$DATA/dkek-share-1.pbe" share1password
kcv_a=$(card_kcv 0) kcv_b=$(card_kcv 1)
if is_pico; then
	# sc-hsm-tool sends no PIN: pico-hsm shows zeros; compare after VERIFY.
	[ "$kcv_a" = 0000000000000000 ] && [ "$kcv_b" = 0000000000000000 ] ||
		hv_fail "pico-hsm showed a KCV without a PIN: '$kcv_a' '$kcv_b'"
	kcv_a=$(card_kcv_after_pin 0) kcv_b=$(card_kcv_after_pin 1)
fi
[ "$kcv_a" = 4B04E61C71416A1A ] && [ "$kcv_b" = "$kcv_a" ] ||
	hv_fail "cards A and B do not both show share 1's KCV 4B04E61C71416A1A: '$kcv_a' '$kcv_b'"

for kind in ec rsa; do
	case $kind in
	ec) keytype=EC:prime256v1 id=a1 mech=ECDSA-SHA256 ;;
	rsa) keytype=rsa:2048 id=a2 mech=SHA256-RSA-PKCS ;;
	esac
	label="wrap-$kind"
	run pkcs11-tool --token-label wrap-a --login --pin "$PIN" --keypairgen --key-type "$keytype" \
		--label "$label" --id "$id" || hv_fail "keypairgen $kind on A"
	run pkcs11-tool --token-label wrap-a --read-object --type pubkey --id "$id" -o "$W/$kind-pub.der" ||
		hv_fail "reading the $kind public key from A"
	run openssl pkey -pubin -inform DER -in "$W/$kind-pub.der" -out "$W/$kind-pub.pem" ||
		hv_fail "the $kind public key from A is not a SubjectPublicKeyInfo"
	ref=$("$HSMVAULT" card status --reader "$RA" --json | python3 -c '
import json, sys
keys = json.load(sys.stdin)["readers"][0]["card"]["keys"]
print([k["ref"] for k in keys if k["label"] == sys.argv[1]][0])' "$label") ||
		hv_fail "hsmvault does not see $label on A"

	run sc-hsm-tool --reader "$RA" --wrap-key "$W/$kind.wrap" --key-reference "$ref" --pin "$PIN" ||
		hv_fail "sc-hsm-tool --wrap-key $kind"
	# hsmvault: parse the file, check the blob under the DKEK, unwrap it.
	out=$(run "$HV_DKEK_TOOL" check-wrap "$W/$kind.wrap" "$W/$kind-unwrapped.pem" \
		"$(pwfile share1password)" "$DATA/dkek-share-1.pbe") ||
		hv_fail "hsmvault rejected sc-hsm-tool's $kind wrap file"
	echo "$out"
	grep -qx "label=$label" <<<"$out" || hv_fail "wrap file PRKD label: $out"
	grep -qx "id=$id" <<<"$out" || hv_fail "wrap file PRKD id: $out"
	cmp -s <(openssl pkey -pubin -in "$W/$kind-unwrapped.pem" -outform DER) "$W/$kind-pub.der" ||
		hv_fail "the key in the $kind blob is not the key whose public part card A shows"

	run sc-hsm-tool --reader "$RB" --unwrap-key "$W/$kind.wrap" --key-reference "$ref" --pin "$PIN" ||
		hv_fail "sc-hsm-tool --unwrap-key $kind into B"

	printf 'hsmvault interop %s\n' "$kind" >"$W/msg"
	run pkcs11-tool --token-label wrap-b --login --pin "$PIN" --sign --mechanism "$mech" --id "$id" \
		--input-file "$W/msg" --output-file "$W/$kind.sig" --signature-format openssl ||
		hv_fail "pkcs11-tool --sign with the restored $kind key on B"
	run openssl dgst -sha256 -verify "$W/$kind-pub.pem" -signature "$W/$kind.sig" "$W/msg" ||
		hv_fail "the $kind signature made on B does not verify with A's public key"
	printf 'other message\n' >"$W/msg2"
	if openssl dgst -sha256 -verify "$W/$kind-pub.pem" -signature "$W/$kind.sig" "$W/msg2" >/dev/null; then
		hv_fail "the $kind signature verifies for a different message"
	fi
done

# B now lists the restored keys with A's labels, in hsmvault's view too.
"$HSMVAULT" card status --reader "$RB" --json >"$W/b.json"
python3 -c '
import json, sys
keys = json.load(open(sys.argv[1]))["readers"][0]["card"]["keys"]
labels = sorted(k["label"] for k in keys if not k["device_key"])
assert labels == ["wrap-ec", "wrap-rsa"], labels
' "$W/b.json" || hv_fail "card B does not list the restored keys"

echo "interop-wrap passed"
