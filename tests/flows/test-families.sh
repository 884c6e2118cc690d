#!/bin/bash
# A set that mixes card families under one DKEK: a pico-hsm and a card of
# the family HV_SIM_PROFILE names (smartcard-hsm or nitrokey-hsm2). Enroll
# (the pico-hsm cannot prove it is genuine: refused by default, accepted
# when the policy says so), keys made with OpenSC on each card, backup,
# verify, then both cards lost and replaced by factory-fresh cards of the
# other family each; restore, verify (quick, --check-kcv, deep), and OpenSC
# signs with every key on both restored cards.
. "$HV_FLOWS_LIB"
hv_require_tool pkcs11-tool opensc
hv_require_tool pkcs15-tool opensc
hv_require_tool openssl openssl
OTHER=${HV_SIM_PROFILE:-smartcard-hsm}
case $OTHER in
smartcard-hsm | nitrokey-hsm2) ;;
*) fail "test-families pairs pico-hsm with smartcard-hsm or nitrokey-hsm2, not '$OTHER'" ;;
esac
V=$WORK/vault
secrets() { printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN"; }
pinfd() { echo "pin $PIN"; }
write_policy "$WORK/strict.yaml" mixed 2 alice
grep -q 'unattested' "$WORK/strict.yaml" && fail "the default policy already accepts unattested cards"
sed 's/^  count: 2$/&\n  unattested: accept/' "$WORK/strict.yaml" >"$WORK/p.yaml"
grep -q '^  unattested: accept$' "$WORK/p.yaml" || fail "could not write the accepting policy"

sim_insert 0 "$WORK/a.state" --blank --profile pico-hsm --serial HVFMP01
sim_insert 1 "$WORK/b.state" --blank --profile "$OTHER" --serial HVFMS01

# the default policy refuses the pico-hsm (no chain to a trusted root)
# before anything is written to either card
cp "$WORK/a.state" "$WORK/a.before"
cp "$WORK/b.state" "$WORK/b.before"
hv enroll --vault "$WORK/refused" --policy "$WORK/strict.yaml" --secrets-fd 3 3< <(secrets) \
	>"$WORK/out" 2>&1
rc=$?
[ $rc != 0 ] || { cat "$WORK/out"; fail "enroll of a mixed set with a pico-hsm passed a strict policy"; }
grep -q "unattested" "$WORK/out" || { cat "$WORK/out"; fail "the refusal does not say how to accept the card"; }
cmp -s "$WORK/a.state" "$WORK/a.before" && cmp -s "$WORK/b.state" "$WORK/b.before" ||
	fail "a refused enroll changed a card"
ok "a strict policy refuses the pico-hsm (exit $rc) and leaves both cards unchanged"

hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) \
	>"$WORK/enroll.out" 2>&1 || { cat "$WORK/enroll.out"; fail "enroll of pico-hsm + $OTHER"; }
cat "$WORK/enroll.out"
kcv=$(hv show --vault "$V" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"]["dkek"]["kcv"])') ||
	fail "show after enroll"
[ ${#kcv} = 16 ] || fail "no KCV recorded: '$kcv'"
ok "pico-hsm + $OTHER enrolled under one DKEK, KCV $kcv"

# keys made by OpenSC on each card (the other card out meanwhile; the
# harness would start a reinserted card as HV_SIM_PROFILE, so the pico-hsm
# is named); public keys exported before the loss
P11="pkcs11-tool --login --pin $PIN"
keygen() { # id label type
	$P11 --keypairgen --key-type "$3" --label "$2" --id "$1" >"$WORK/gen.out" 2>&1 ||
		{ cat "$WORK/gen.out"; fail "pkcs11-tool --keypairgen $3"; }
	pkcs15-tool --read-public-key "$1" >"$WORK/$1.pub" 2>/dev/null &&
		openssl pkey -pubin -in "$WORK/$1.pub" -noout 2>/dev/null ||
		fail "pkcs15-tool --read-public-key $1 gave no public key"
}
sim_pull 1
keygen 0f01 mx-pico-ec EC:prime256v1
keygen 0f02 mx-pico-rsa rsa:2048
sim_pull 0
sim_insert 1 "$WORK/b.state"
keygen 0f03 mx-other-ec EC:secp384r1
keygen 0f04 mx-other-rsa rsa:2048
sim_insert 0 "$WORK/a.state" --profile pico-hsm
ok "OpenSC made 2 keys on the pico-hsm and 2 on the $OTHER"

hv backup --vault "$V" --secrets-fd 3 3< <(pinfd) >"$WORK/b.out" 2>&1 ||
	{ cat "$WORK/b.out"; fail "backup of the mixed set"; }
cat "$WORK/b.out"
n=$(ls "$V/keys/$kcv" | wc -l)
[ "$n" = 4 ] || fail "backup wrote $n wrap files, expected 4"
ok "backup wrapped the keys of both families"

# verify_expect RC PATTERN ARGS...
verify_expect() {
	local want=$1 pat=$2; shift 2
	hv verify --vault "$V" --no-record "$@" >"$WORK/v.out" 2>&1
	local rc=$?
	[ "$rc" = "$want" ] || { cat "$WORK/v.out"; fail "verify $*: exit $rc, expected $want"; }
	grep -q -- "$pat" "$WORK/v.out" || { cat "$WORK/v.out"; fail "verify $*: no '$pat'"; }
}
# the pico-hsm hides its KCV without the PIN: quick verify exits 11 and
# names that card only; --check-kcv and --deep pass
verify_all() { # serial of the pico-hsm, of the other card, keys over both cards
	verify_expect 11 "card $1.* shows its DKEK check value only after the user PIN (pico-hsm)"
	! grep -q "card $2[^ ]* shows its DKEK check value only after" "$WORK/v.out" ||
		{ cat "$WORK/v.out"; fail "the $OTHER card $2 was reported as hiding its KCV"; }
	! grep -q DIFFERENCE "$WORK/v.out" || { cat "$WORK/v.out"; fail "a hidden KCV was a difference"; }
	verify_expect 0 "verified 2 cards and $3 keys: everything matches" --check-kcv \
		--secrets-fd 3 3< <(pinfd)
	verify_expect 0 "each proven by a signature" --deep --secrets-fd 3 3< <(pinfd)
}
verify_all HVFMP01 HVFMS01 4
ok "quick verify exits 11 for the pico-hsm's hidden KCV only; --check-kcv and --deep pass"

# disaster: both lost; the replacements are factory-fresh cards of the
# other family each (the $OTHER's keys land on a pico-hsm and back)
sim_pull 0
sim_pull 1
sim_insert 0 "$WORK/c.state" --blank --profile "$OTHER" --serial HVFMS02
sim_insert 1 "$WORK/d.state" --blank --profile pico-hsm --serial HVFMP02
hv restore --vault "$V" --secrets-fd 3 3< <(secrets) >"$WORK/r.out" 2>&1 ||
	{ cat "$WORK/r.out"; fail "restore onto factory-fresh $OTHER + pico-hsm"; }
cat "$WORK/r.out"
for i in 0 1; do
	hv card status --reader "$(reader_name $i)" --json >"$WORK/rs$i.json" || fail "status $i"
	for l in mx-pico-ec mx-pico-rsa mx-other-ec mx-other-rsa; do
		grep -q "\"$l\"" "$WORK/rs$i.json" || { cat "$WORK/rs$i.json"; fail "restored card $i lacks $l"; }
	done
done
verify_all HVFMP02 HVFMS02 8
ok "restore onto factory-fresh cards of both families; quick, --check-kcv and deep verify pass"

# OpenSC signs with every key on each restored card (one card in at a time)
echo "hsmvault mixed families" >"$WORK/msg"
sign_all() { # which card
	local id mech fmt
	for id in 0f01 0f02 0f03 0f04; do
		case $id in
		0f01 | 0f03) mech=ECDSA-SHA256 fmt=(--signature-format openssl) ;;
		*) mech=SHA256-RSA-PKCS fmt=() ;;
		esac
		rm -f "$WORK/sig"
		$P11 --sign --id "$id" -m "$mech" "${fmt[@]}" -i "$WORK/msg" -o "$WORK/sig" \
			>"$WORK/sign.out" 2>&1 || { cat "$WORK/sign.out"; fail "pkcs11-tool --sign $id on the $1"; }
		openssl dgst -sha256 -verify "$WORK/$id.pub" -signature "$WORK/sig" "$WORK/msg" >/dev/null ||
			fail "key $id on the restored $1: signature does not verify with the original public key"
	done
}
sim_pull 1
sign_all "$OTHER"
sim_pull 0
sim_insert 1 "$WORK/d.state" --profile pico-hsm
sign_all pico-hsm
ok "OpenSC signs with all 4 keys on the restored $OTHER and pico-hsm; original public keys verify"
