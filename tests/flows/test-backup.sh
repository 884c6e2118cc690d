#!/bin/bash
# hsmvault backup on its own: a key the card will not export is skipped and
# named (the rest still backed up); a second run adds nothing; --json gives
# the counts; a card of another set or another DKEK is refused with nothing
# written. One card, one share: the costly share KDF runs once.
. "$HV_FLOWS_LIB"
V=$WORK/vault
write_policy "$WORK/p.yaml" backup 1 alice
write_policy "$WORK/o.yaml" other 1 alice
insert_blank 0 HVBKA01
secrets() { printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN"; }
pinfd() { echo "pin $PIN"; }
hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) >"$WORK/e.out" 2>&1 ||
	{ cat "$WORK/e.out"; fail "enroll"; }
kcv=$(hv show --vault "$V" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"]["dkek"]["kcv"])') ||
	fail "show after enroll"

P11="pkcs11-tool --login --pin $PIN"
$P11 --keypairgen --key-type EC:prime256v1 --label bk-ok --id 0b01 >/dev/null 2>&1 ||
	fail "pkcs11-tool --keypairgen 0b01"
$P11 --keypairgen --key-type EC:prime256v1 --label bk-locked --id 0b02 >/dev/null 2>&1 ||
	fail "pkcs11-tool --keypairgen 0b02"
# The newest key (highest reference) gets an algorithm list without wrap
# (0x92), as a key generated with a restricted list would have: the card
# then refuses to export it.
sim_pull 0
ref=$(awk '$1 == "key" { r = $2 } END { print r }' "$WORK/card-0.state")
[ -n "$ref" ] || fail "no key in the card state"
sed -i -E "s/^(key $ref ec [0-9]+) - /\1 7073 /" "$WORK/card-0.state"
grep -q "^key $ref ec [0-9]* 7073 " "$WORK/card-0.state" || fail "could not restrict key $ref"
reinsert 0

hv backup --vault "$V" --secrets-fd 3 3< <(pinfd) >"$WORK/b1.out" 2>&1 ||
	{ cat "$WORK/b1.out"; fail "backup"; }
cat "$WORK/b1.out"
grep -q "key 0b02 (bk-locked) cannot be exported, skipped" "$WORK/b1.out" ||
	fail "the unexportable key was not named"
grep -q "key 0b01 (bk-ok, EC P-256) wrapped" "$WORK/b1.out" || fail "0b01 not wrapped"
grep -q "backed up 1 key (manifest version $(ls "$V/manifest" | wc -l));" "$WORK/b1.out" ||
	fail "backup did not name the version it wrote ($(ls "$V/manifest"))"
[ "$(ls "$V/keys/$kcv")" = "0b01.wrap" ] || fail "wrap files: $(ls "$V/keys/$kcv")"
[ "$(stat -c %a "$V/keys/$kcv/0b01.wrap")" = 600 ] || fail "wrap file is not 0600"
hv show --vault "$V" --json | python3 -c '
import json,sys,hashlib
m=json.load(sys.stdin)["manifest"]; ks=m["keys"]
assert [k["id"] for k in ks]==["0b01"], ks
k=ks[0]
assert k["label"]=="bk-ok" and k["algorithm"]=="EC P-256" and k["kcv"]==m["dkek"]["kcv"], k
assert k["public_key"].startswith("3059301306072a8648ce3d0201"), k["public_key"]
d=open(sys.argv[1]+"/"+k["file"],"rb").read()
assert hashlib.sha256(d).hexdigest()==k["sha256"].lower(), "sha256 of the wrap file"' "$V" ||
	fail "manifest key record"
ok "backup wraps the exportable key, skips and names the other"

n=$(ls "$V/manifest" | wc -l)
hv backup --vault "$V" --secrets-fd 3 3< <(pinfd) --json >"$WORK/b2.json" 2>"$WORK/b2.err" ||
	{ cat "$WORK/b2.json" "$WORK/b2.err"; fail "second backup"; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["ok"] and d["wrapped"]==0 and d["already"]==1 and d["skipped"]==1 and d["version"]==0, d' \
	"$WORK/b2.json" || fail "second backup --json: $(cat "$WORK/b2.json")"
[ "$(ls "$V/manifest" | wc -l)" = "$n" ] || fail "a backup with nothing new wrote a version"
hv backup --vault "$V" --secrets-fd 3 3< <(pinfd) >"$WORK/b3.out" 2>&1 || fail "third backup"
grep -q "nothing to back up: 1 key already in the vault, some not exportable" "$WORK/b3.out" ||
	fail "third backup: $(cat "$WORK/b3.out")"
ok "a second run adds nothing and writes no version; --json counts"

# verify names the key that has no blob (it cannot be restored)
hv verify --vault "$V" --no-record >"$WORK/v.out" 2>&1
rc=$?
[ $rc = 1 ] || { cat "$WORK/v.out"; fail "verify: exit $rc, expected 1"; }
grep -q "key 0b02 (bk-locked) has no blob" "$WORK/v.out" || fail "verify: $(cat "$WORK/v.out")"
hv verify --vault "$V" --no-record --json >"$WORK/v.json" 2>"$WORK/v.err"
rc=$?
[ $rc = 1 ] || { cat "$WORK/v.json" "$WORK/v.err"; fail "verify --json: exit $rc, expected 1"; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
assert d["ok"] is False and d["error"]["code"] and d["cards_checked"]==1 and d["keys_checked"]==2, d
diffs=d["differences"]; assert len(diffs)==1 and "0b02" in diffs[0]["what"], diffs' \
	"$WORK/v.json" || fail "verify --json: $(cat "$WORK/v.json")"
ok "verify reports the unexportable key as not in the vault"

# a card of another set in the second reader: refused, nothing written
insert_blank 1 HVBKF01
hv backup --vault "$V" --secrets-fd 3 3< <(pinfd) >"$WORK/f.out" 2>&1
rc=$?
[ $rc = 1 ] || { cat "$WORK/f.out"; fail "backup with a foreign card: exit $rc, expected 1"; }
# (a factory-fresh pico-hsm has no serial until its first INITIALIZE)
foreign="card HVBKF01"
[ "${HV_SIM_PROFILE:-}" = pico-hsm ] && foreign="card (blank, no identity yet)"
grep -qF "$foreign in reader" "$WORK/f.out" &&
	grep -q "is not a card of this vault's set" "$WORK/f.out" ||
	fail "foreign card message: $(cat "$WORK/f.out")"
[ "$(ls "$V/manifest" | wc -l)" = "$n" ] || fail "a refused backup wrote a version"
ok "a card of another set is refused"

# the set's card enrolled into another vault (another DKEK): refused
sim_pull 1
hv enroll --vault "$WORK/other" --policy "$WORK/o.yaml" --wipe HVBKA01 --secrets-fd 3 \
	3< <(printf 'share-1 another-password\nso-pin %s\npin %s\ncurrent-so-pin %s\n' \
		"$SOPIN" "$PIN" "$SOPIN") >"$WORK/o.out" 2>&1 ||
	{ cat "$WORK/o.out"; fail "re-enroll card A elsewhere"; }
hv backup --vault "$V" --secrets-fd 3 3< <(pinfd) >"$WORK/k.out" 2>&1
rc=$?
[ $rc = 1 ] || { cat "$WORK/k.out"; fail "backup after a DKEK change: exit $rc, expected 1"; }
grep -q "card HVBKA01 reports DKEK KCV .*, the vault records $kcv" "$WORK/k.out" ||
	fail "KCV mismatch message: $(cat "$WORK/k.out")"
[ "$(ls "$V/manifest" | wc -l)" = "$n" ] || fail "a refused backup wrote a version"
[ "$(ls "$V/keys/$kcv")" = "0b01.wrap" ] || fail "a refused backup changed the keys"
ok "a card with another DKEK is refused; the vault is unchanged"
