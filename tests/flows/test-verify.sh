#!/bin/bash
# hsmvault verify and record export: a matching set passes (quick, deep,
# from the public record); every kind of difference is found and named;
# the last PIN try is never used.
. "$HV_FLOWS_LIB"
V=$WORK/vault
write_policy "$WORK/p.yaml" verify 2 alice
write_policy "$WORK/one.yaml" other 1 alice
insert_blank 0 HVVEA01
insert_blank 1 HVVEB01
secrets() { printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN"; }
pinfd() { echo "pin $PIN"; }
hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) >/dev/null 2>&1 ||
	fail "enroll"
sim_pull 1
pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label v-ec --id 0d01 \
	>/dev/null 2>&1 || fail "keypairgen"
reinsert 1
hv backup --vault "$V" --secrets-fd 3 3< <(pinfd) >/dev/null 2>&1 || fail "backup"

# expect RC PATTERN ARGS...: verify's exit status and a line of its output
expect() {
	local want=$1 pat=$2; shift 2
	hv verify "$@" >"$WORK/v.out" 2>&1
	local rc=$?
	[ "$rc" = "$want" ] || { cat "$WORK/v.out"; fail "verify $*: exit $rc, expected $want"; }
	grep -q -- "$pat" "$WORK/v.out" || { cat "$WORK/v.out"; fail "verify $*: no '$pat'"; }
}

expect 0 "verified 2 cards and 1 key: everything matches" --vault "$V"
n=$(ls "$V/manifest" | wc -l)
hv show --vault "$V" --json | python3 -c '
import json,sys; m=json.load(sys.stdin)["manifest"]
v=m["verifications"]; assert len(v)==2 and all(x["kind"]=="quick" and x["result"]=="ok" for x in v), v
assert all(c["last_verified"] for c in m["cards"]), m["cards"]' || fail "verification not recorded"
ok "quick verify passes and is recorded in the manifest"
expect 0 "each proven by a signature" --vault "$V" --deep --no-record --secrets-fd 3 3< <(pinfd)
[ "$(ls "$V/manifest" | wc -l)" = "$n" ] || fail "--no-record wrote a version"
ok "deep verify passes; --no-record records nothing"
expect 0 "every blob's MAC checked" --vault "$V" --with-shares --no-record --secrets-fd 3 \
	3< <(echo "share-1 $SHARE1")
ok "blob MACs check under the DKEK from the shares"

hv record export --vault "$V" --out "$WORK/record.yaml" >/dev/null || fail "record export"
[ "$(stat -c %a "$WORK/record.yaml")" = 600 ] || fail "record is not 0600"
! grep -qi "$SHARE1\|$PIN" "$WORK/record.yaml" || fail "a secret is in the record"
hv verify --record "$WORK/record.yaml" --json >"$WORK/r.json" || { cat "$WORK/r.json"; fail "verify --record"; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["ok"] and d["cards_checked"]==2 and d["keys_checked"]==1, d' \
	"$WORK/r.json" || fail "verify --record --json: $(cat "$WORK/r.json")"
ok "record export, and verify from the record alone"

# stale: a record whose last verification is long past
sed -e 's/^# max_age_days: 90/# max_age_days: 1/' -e 's/time: "\?2026-[0-9-]*T/time: 2020-01-01T/' \
	"$WORK/record.yaml" >"$WORK/old.yaml"
sed -i 's/time: 2020-01-01T\([0-9:]*\)Z"/time: 2020-01-01T\1Z/' "$WORK/old.yaml"
expect 0 "warning: the last verification" --record "$WORK/old.yaml"
ok "a stale verification is warned about"

# a key the vault does not have
sim_pull 1
pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label v-new --id 0d02 \
	>/dev/null 2>&1 || fail "keypairgen 2"
reinsert 1
expect 1 "key 0d02 (v-new) has no blob in the vault" --vault "$V" --no-record
ok "a key without a blob is found"
hv backup --vault "$V" --secrets-fd 3 3< <(pinfd) >/dev/null 2>&1 || fail "backup 2"

# a damaged blob
f=$(ls "$V"/keys/*/0d01.wrap)
cp "$f" "$WORK/blob.bak"
printf '\xff' | dd of="$f" bs=1 seek=40 conv=notrunc status=none
expect 1 "0d01.wrap was changed or damaged" --vault "$V" --no-record
cp "$WORK/blob.bak" "$f"
ok "a damaged blob is found"

# a missing blob file
mv "$f" "$WORK/blob.moved"
expect 1 "0d01: its blob .* cannot be read" --vault "$V" --no-record
mv "$WORK/blob.moved" "$f"
ok "a missing blob file is found"

# a card of the set whose DKEK was replaced (enrolled into another vault)
sim_pull 0
hv enroll --vault "$WORK/other" --policy "$WORK/one.yaml" --wipe HVVEB01 --secrets-fd 3 \
	3< <(printf 'share-1 another-password\nso-pin %s\npin %s\ncurrent-so-pin %s\n' \
		"$SOPIN" "$PIN" "$SOPIN") >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "re-enroll card B"; }
reinsert 0
expect 1 "HVVEB01 reports DKEK KCV .*, the vault records" --vault "$V" --no-record
ok "a KCV mismatch is found"

# a card of another set
sim_pull 1
insert_blank 1 HVVEF01
expect 1 "HVVEF01 in reader .* is not a card of this set" --vault "$V" --no-record
ok "a foreign card is found"
sim_pull 1
reinsert 1

# the last PIN try is never used
sim_pull 0
sed -i -E 's/^(userpin [0-9A-F]+ [0-9]+) [0-9]+$/\1 1/' "$WORK/card-0.state"
grep -q '^userpin [0-9A-F]* [0-9]* 1$' "$WORK/card-0.state" || fail "could not set tries to 1"
reinsert 0
expect 7 "only one PIN try left" --vault "$V" --deep --no-record --secrets-fd 3 3< <(pinfd)
hv card status --reader "$(reader_name 0)" >"$WORK/st.out" 2>&1
grep -qi "1 tr" "$WORK/st.out" || { cat "$WORK/st.out"; fail "the card lost its last try"; }
ok "deep verify refuses the last PIN try; the card keeps it"
