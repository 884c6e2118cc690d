#!/bin/bash
# verify --vault V --record R: the vault's newest manifest version against
# the one the public record was exported from. Same: exit 0 and said. The
# vault ahead of the record (a backup since), behind it (an older copy),
# or holding the record's version with other bytes (the newest version
# edited by hand, which the hash chain alone cannot show: verify without
# the record passes): exit 1, each named. A record whose manifest does not
# hash to its own source line: exit 5. One card family (the comparison
# does not involve the card): about 15 s.
. "$HV_FLOWS_LIB"
V=$WORK/vault
write_policy "$WORK/p.yaml" record 1 alice
insert_blank 0 HVVRA01
secrets() { printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN"; }
pinfd() { echo "pin $PIN"; }
hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) >/dev/null 2>&1 ||
	fail "enroll"
# expect RC PATTERN ARGS...: verify's exit status and a line of its output
expect() {
	local want=$1 pat=$2; shift 2
	hv verify --no-record "$@" >"$WORK/v.out" 2>&1
	local rc=$?
	[ "$rc" = "$want" ] || { cat "$WORK/v.out"; fail "verify $*: exit $rc, expected $want"; }
	grep -q -- "$pat" "$WORK/v.out" || { cat "$WORK/v.out"; fail "verify $*: no '$pat'"; }
}
n=$(ls "$V/manifest" | wc -l)
hv record export --vault "$V" --out "$WORK/r1" >/dev/null || fail "record export"
expect 0 "newest version $n is the record's" --vault "$V" --record "$WORK/r1"
ok "vault and record at version $n: same, exit 0"

# a backup makes version n+1; the old copy stays behind
cp -a "$V" "$WORK/old"
pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label r-ec --id 0e01 \
	>/dev/null 2>&1 || fail "keypairgen"
hv backup --vault "$V" --secrets-fd 3 3< <(pinfd) >/dev/null 2>&1 || fail "backup"
m=$(ls "$V/manifest" | wc -l)
[ "$m" = $((n + 1)) ] || fail "backup made $((m - n)) versions, expected 1"
expect 1 "the vault is 1 version ahead of the record (record: version $n; vault: version $m)" \
	--vault "$V" --record "$WORK/r1"
hv record export --vault "$V" --out "$WORK/r2" >/dev/null || fail "record export"
expect 0 "newest version $m is the record's" --vault "$V" --record "$WORK/r2"
expect 1 "the vault is behind the record: it ends at version $n, the record was exported from version $m" \
	--vault "$WORK/old" --record "$WORK/r2"
ok "vault ahead of an older record and an old copy behind a newer one: exit 1, each named"

# the newest version edited by hand: nothing names its hash, so the chain
# holds and verify alone passes; the record shows it
cp -a "$V" "$WORK/edited"
f=$(printf '%s/manifest/%06d.yaml' "$WORK/edited" "$m")
sed -i 's/^change: .*/change: "edited by hand"/' "$f"
cmp -s "$f" "$V/manifest/$(basename "$f")" && fail "the edit changed nothing"
expect 0 "everything matches" --vault "$WORK/edited"
expect 1 "the vault's version $m is not the one the record was exported from" \
	--vault "$WORK/edited" --record "$WORK/r2"
grep -q "the newest version was changed after the record was made" "$WORK/v.out" ||
	{ cat "$WORK/v.out"; fail "no word on the changed newest version"; }
# the older record names version n, which the edited copy still holds intact
expect 1 "1 version ahead of the record" --vault "$WORK/edited" --record "$WORK/r1"
ok "a hand-edited newest version: verify alone passes, against the record exit 1 and named"

# a record that does not hash to its own source line is not used
sed 's/^change: .*/change: "a forged record"/' "$WORK/r2" >"$WORK/r3"
expect 5 "the record was edited or damaged" --vault "$V" --record "$WORK/r3"
ok "an edited record: exit 5, named"
