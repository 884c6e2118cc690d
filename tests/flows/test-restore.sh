#!/bin/bash
# hsmvault restore under faults: a wrong share password changes no card;
# a card pulled mid-restore is finished by a rerun without duplicating a
# key; a card holding keys is wiped only when named; the last SO-PIN try
# is never used.
. "$HV_FLOWS_LIB"
V=$WORK/vault
sum() { sha256sum "$1" | cut -d' ' -f1; }
secrets() { printf 'share-1 %s\nso-pin %s\npin %s\n' "${1:-$SHARE1}" "$SOPIN" "$PIN"; }
write_policy "$WORK/p.yaml" restore 2 alice
insert_blank 0 HVREA01
insert_blank 1 HVREB01
hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) >/dev/null 2>&1 ||
	fail "enroll"
sim_pull 1
for k in "EC:prime256v1 r-ec 0f01" "rsa:2048 r-rsa 0f02"; do
	set -- $k
	pkcs11-tool --login --pin "$PIN" --keypairgen --key-type "$1" --label "$2" --id "$3" \
		>/dev/null 2>&1 || fail "keypairgen $2"
done
reinsert 1
hv backup --vault "$V" --secrets-fd 3 3< <(echo "pin $PIN") >/dev/null 2>&1 || fail "backup"
sim_pull 0
sim_pull 1
nkeys() { # reader -> number of keys the card lists (device key aside)
	hv card status --reader "$(reader_name "$1")" --json | python3 -c '
import json,sys; c=json.load(sys.stdin)["readers"][0]["card"]
print(len([k for k in c["keys"] if not k.get("device_key")]))'
}

# 1. a wrong share password: refused before any card is touched
sim_insert 0 "$WORK/c.state" --blank --serial HVREC01
sim_insert 1 "$WORK/d.state" --blank --serial HVRED01
c0=$(sum "$WORK/c.state"); d0=$(sum "$WORK/d.state")
hv restore --vault "$V" --secrets-fd 3 3< <(secrets wrong-password) >"$WORK/out" 2>&1
rc=$?
[ $rc = 3 ] || { cat "$WORK/out"; fail "wrong password: exit $rc, expected 3"; }
grep -q "DKEK share 1 (alice)" "$WORK/out" || fail "message does not name the share: $(cat "$WORK/out")"
[ "$(sum "$WORK/c.state")" = "$c0" ] && [ "$(sum "$WORK/d.state")" = "$d0" ] ||
	fail "a card changed although the password was wrong"
ok "wrong share password: exit 3, no card touched"

# 2. card D is pulled in the middle of the restore...
sim_pull 1
sim_insert 1 "$WORK/d.state" --drop-after 18
hv restore --vault "$V" --secrets-fd 3 3< <(secrets) >"$WORK/out" 2>&1
rc=$?
[ $rc != 0 ] || { cat "$WORK/out"; fail "restore succeeded although card D was pulled"; }
grep -q "removed\|continues where it stopped" "$WORK/out" || { cat "$WORK/out"; fail "no word of the pulled card"; }
sim_wait_gone 1
sim_insert 1 "$WORK/d.state"
part=$(nkeys 1)
echo "card D holds $part keys after the pull"
sim_pull 1
ok "a card pulled mid-restore stops the run (exit $rc) with advice to rerun"
# ... put back, and the rerun finishes without repeating what was done
sim_insert 1 "$WORK/d.state"
hv restore --vault "$V" --secrets-fd 3 3< <(secrets) >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "rerun after the pulled card"; }
grep -q "card HVRED01: KCV .*, $((2 - part)) keys\? restored, $part already there" "$WORK/out" ||
	{ cat "$WORK/out"; fail "the rerun did not continue card D where it stopped (it held $part keys)"; }
cat "$WORK/out"
# pico-hsm shows its KCV only after the PIN: the rerun sees a DKEK and
# continues without initializing (its KCV is checked after the PIN, below)
if [ "${HV_SIM_PROFILE:-}" = pico-hsm ]; then
	grep -q "card HVREC01: DKEK present (KCV shown after PIN), continuing without initializing it" \
		"$WORK/out"
else
	grep -q "card HVREC01: already carries this vault's DKEK" "$WORK/out"
fi || fail "the rerun did not recognize the finished card"
grep -q "card HVREC01: KCV .*, 0 keys restored, 2 already there" "$WORK/out" ||
	fail "the finished card was restored again"
[ "$(nkeys 0)" = 2 ] && [ "$(nkeys 1)" = 2 ] || fail "cards hold $(nkeys 0) and $(nkeys 1) keys, expected 2 each"
ok "rerun completes the pulled card; no key twice on any card"

# 3. a card of someone else's, holding a key
sim_pull 0
sim_insert 0 "$WORK/e.state" --blank --serial HVREE01
sc-hsm-tool --reader "$(reader_name 0)" --initialize --so-pin 0102030405060708 --pin 111111 \
	--label foreign >/dev/null 2>&1 || fail "sc-hsm-tool --initialize"
pkcs11-tool --token-label foreign --login --pin 111111 --keypairgen --key-type EC:prime256v1 \
	--label theirs --id 0a0a >/dev/null 2>&1 || fail "keypairgen on the foreign card"
sim_pull 0
sim_insert 0 "$WORK/e.state"
e0=$(sum "$WORK/e.state")
hv restore --vault "$V" --secrets-fd 3 3< <(secrets) >"$WORK/out" 2>&1
rc=$?
[ $rc = 7 ] || { cat "$WORK/out"; fail "card holding a key: exit $rc, expected 7"; }
grep -q "HVREE01 .*holds 1 key.*--wipe HVREE01" "$WORK/out" || fail "$(cat "$WORK/out")"
[ "$(sum "$WORK/e.state")" = "$e0" ] || fail "the foreign card changed without --wipe"
ok "a card holding keys is refused without --wipe, unchanged"

# 4. named for wiping, but only one SO-PIN try left: still refused
sim_pull 0
sed -i -E 's/^(sopin [0-9A-F]+) [0-9]+$/\1 1/' "$WORK/e.state"
grep -q '^sopin [0-9A-F]* 1$' "$WORK/e.state" || fail "could not set the SO-PIN tries"
sim_insert 0 "$WORK/e.state"
e1=$(sum "$WORK/e.state")
hv restore --vault "$V" --wipe HVREE01 --secrets-fd 3 \
	3< <(secrets; echo "current-so-pin 0102030405060708") >"$WORK/out" 2>&1
rc=$?
[ $rc = 7 ] || { cat "$WORK/out"; fail "last SO-PIN try: exit $rc, expected 7"; }
grep -qi "one SO-PIN try" "$WORK/out" || fail "$(cat "$WORK/out")"
[ "$(sum "$WORK/e.state")" = "$e1" ] || fail "the card changed at its last SO-PIN try"
ok "the last SO-PIN try is never used (exit 7, card unchanged)"

# 5. with tries back and --wipe, the card joins the restored set
sim_pull 0
sed -i -E 's/^(sopin [0-9A-F]+) [0-9]+$/\1 15/' "$WORK/e.state"
sim_insert 0 "$WORK/e.state"
hv restore --vault "$V" --wipe HVREE01 --secrets-fd 3 \
	3< <(secrets; echo "current-so-pin 0102030405060708") >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "restore with --wipe"; }
[ "$(nkeys 0)" = 2 ] || fail "the wiped card holds $(nkeys 0) keys, expected 2"
hv card status --reader "$(reader_name 0)" --json | grep -q '"theirs"' &&
	fail "the foreign key survived the wipe"
hv verify --vault "$V" --deep --no-record --secrets-fd 3 3< <(echo "pin $PIN") >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "deep verify of the restored set"; }
ok "with --wipe the card is restored; the set deep-verifies"

# 6. only genuine cards receive the DKEK: a blank card whose device chain
# is forged (one byte of its certificate's signature flipped) is refused
# before anything is asked or written, exit 7, and stays as it was; so is
# the genuine card beside it
sim_pull 0
sim_pull 1
sim_insert 0 "$WORK/f.state" --blank --serial HVREF01 --profile smartcard-hsm --forge-devaut
sim_insert 1 "$WORK/g.state" --blank --serial HVREG01
f0=$(sum "$WORK/f.state"); g0=$(sum "$WORK/g.state")
hv restore --vault "$V" --secrets-fd 3 3< <(secrets) >"$WORK/out" 2>&1
rc=$?
[ $rc = 7 ] || { cat "$WORK/out"; fail "restore onto a forged card: exit $rc, expected 7"; }
grep -q "card HVREF01 in reader .* failed its device authentication check (.*does not verify" \
	"$WORK/out" || { cat "$WORK/out"; fail "no failed-chain message"; }
! grep -q "decrypting" "$WORK/out" || fail "restore unlocked the shares before refusing the card"
[ "$(sum "$WORK/f.state")" = "$f0" ] || fail "the forged card changed"
[ "$(sum "$WORK/g.state")" = "$g0" ] || fail "the other card changed although restore was refused"
ok "restore refuses a card with a forged device chain (exit 7), no card changed"
