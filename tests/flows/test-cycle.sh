#!/bin/bash
# The main path end to end, in batch mode: enroll two blank cards, make
# keys with OpenSC's pkcs11-tool, back them up, lose both cards, restore
# onto two factory-blank cards, and check the restored keys with OpenSC.
. "$HV_FLOWS_LIB"
V=$WORK/vault
write_policy "$WORK/p.yaml" cycle 2 alice
insert_blank 0 HVCYA01
insert_blank 1 HVCYB01

secrets() { printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN"; }

hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) \
	>"$WORK/enroll.out" 2>&1 || { cat "$WORK/enroll.out"; fail "enroll"; }
cat "$WORK/enroll.out"
kcv=$(hv show --vault "$V" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"]["dkek"]["kcv"])') ||
	fail "show after enroll"
[ ${#kcv} = 16 ] || fail "no KCV recorded: '$kcv'"
for i in 0 1; do
	hv card status --reader "$(reader_name $i)" --json >"$WORK/st$i.json" || fail "card status $i"
	grep -q "\"$kcv\"" "$WORK/st$i.json" || { cat "$WORK/st$i.json"; fail "card $i does not report KCV $kcv"; }
done
ok "enrolled 2 cards, KCV $kcv on both and in the manifest"

# a second enroll into the same vault is refused and changes nothing
before=$(ls "$V/manifest")
hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) >"$WORK/out" 2>&1
rc=$?
[ $rc = 7 ] || { cat "$WORK/out"; fail "second enroll: exit $rc, expected 7"; }
grep -q "already holds a card set" "$WORK/out" || fail "second enroll message: $(cat "$WORK/out")"
[ "$(ls "$V/manifest")" = "$before" ] || fail "a refused enroll wrote a manifest version"
ok "second enroll refused, vault unchanged"

# keys on card 0, made by OpenSC alone (card 1 out meanwhile)
sim_pull 1
P11="pkcs11-tool --login --pin $PIN"
$P11 --keypairgen --key-type EC:prime256v1 --label cycle-ec --id 0c01 >/dev/null 2>&1 ||
	fail "pkcs11-tool --keypairgen EC"
$P11 --keypairgen --key-type rsa:2048 --label cycle-rsa --id 0c02 >/dev/null 2>&1 ||
	fail "pkcs11-tool --keypairgen RSA"
reinsert 1

hv backup --vault "$V" --secrets-fd 3 3< <(echo "pin $PIN") >"$WORK/b1.out" 2>&1 ||
	{ cat "$WORK/b1.out"; fail "backup"; }
cat "$WORK/b1.out"
n=$(ls "$V/keys/$kcv" | wc -l)
[ "$n" = 2 ] || fail "backup wrote $n wrap files, expected 2"
v1=$(ls "$V/manifest" | wc -l)
hv backup --vault "$V" --secrets-fd 3 3< <(echo "pin $PIN") >"$WORK/b2.out" 2>&1 ||
	{ cat "$WORK/b2.out"; fail "second backup"; }
grep -q "nothing to back up: 2 keys already in the vault" "$WORK/b2.out" ||
	fail "second backup: $(cat "$WORK/b2.out")"
[ "$(ls "$V/manifest" | wc -l)" = "$v1" ] || fail "a backup with nothing new wrote a version"
ok "backup wrapped 2 keys; a second run adds nothing"

# public keys as the card shows them, to check the restored cards against
pkcs15-tool --read-public-key 0c01 >"$WORK/ec.pub" 2>/dev/null; true
sim_pull 0
sim_pull 1

# disaster: both cards gone; two factory-blank cards
sim_insert 0 "$WORK/new-0.state" --blank --serial HVCYC01
sim_insert 1 "$WORK/new-1.state" --blank --serial HVCYD01
hv restore --vault "$V" --secrets-fd 3 3< <(secrets) >"$WORK/r.out" 2>&1 ||
	{ cat "$WORK/r.out"; fail "restore"; }
cat "$WORK/r.out"
for i in 0 1; do
	hv card status --reader "$(reader_name $i)" --json >"$WORK/rs$i.json" || fail "status $i"
	grep -q "\"$kcv\"" "$WORK/rs$i.json" || fail "restored card $i lacks KCV $kcv"
	grep -q '"cycle-ec"' "$WORK/rs$i.json" && grep -q '"cycle-rsa"' "$WORK/rs$i.json" ||
		{ cat "$WORK/rs$i.json"; fail "restored card $i lacks the keys"; }
done
ok "restore rebuilt both cards with both keys"

# OpenSC signs with a restored key; the signature verifies with the key
# the first card had
sim_pull 1
echo "hsmvault restore check" >"$WORK/msg"
pkcs11-tool --login --pin "$PIN" --sign --id 0c01 -m ECDSA-SHA256 --signature-format openssl \
	-i "$WORK/msg" -o "$WORK/sig" >/dev/null 2>&1 || fail "pkcs11-tool --sign with the restored key"
if [ -s "$WORK/ec.pub" ]; then
	openssl dgst -sha256 -verify "$WORK/ec.pub" -signature "$WORK/sig" "$WORK/msg" >/dev/null ||
		fail "the restored key's signature does not verify with the original public key"
	ok "OpenSC signs with the restored key; verifies with the original public key"
else
	fail "could not read the original public key with pkcs15-tool"
fi

# a rerun on the restored set finds everything in place
reinsert_new() { sim_insert 1 "$WORK/new-1.state"; }
reinsert_new
hv restore --vault "$V" --secrets-fd 3 3< <(secrets) >"$WORK/r2.out" 2>&1 ||
	{ cat "$WORK/r2.out"; fail "second restore"; }
grep -q "0 keys restored, 2 already there" "$WORK/r2.out" || fail "rerun: $(cat "$WORK/r2.out")"
ok "rerun of restore keeps the keys it finds"
