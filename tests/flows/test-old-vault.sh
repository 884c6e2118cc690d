#!/bin/bash
# A vault written before the verification journal (format 1, with four
# verifications recorded as manifest versions, tests/unit/vault/fixtures)
# still opens, checks and restores: its shares and wrap file were made by
# the real sc-hsm-tool, so the restored key is that tool's key.
. "$HV_FLOWS_LIB"
FIX=$(dirname "$HV_FLOWS_LIB")/../unit/vault/fixtures/verified-v1
[ -f "$FIX/HSMVAULT" ] || fail "fixture $FIX is missing"
V=$WORK/old
cp -a "$FIX" "$V"
chmod -R u+w "$V"
grep -q 'hsmvault-vault/1' "$V/HSMVAULT" || fail "the fixture is not a format-1 vault"
before=$(cd "$V" && find manifest shares keys -type f -exec sha256sum {} + | sort)

# 1. it reads: the chain checks, and log shows the old verifications
hv log --vault "$V" --full >"$WORK/log" 2>&1 || { cat "$WORK/log"; fail "log --full of the format-1 vault"; }
grep -q "verification, format 1" "$WORK/log" || { cat "$WORK/log"; fail "log does not show the format-1 verifications"; }
ok "a format-1 vault opens; log shows its verification versions"

# 2. it restores onto two factory-fresh cards (the sc-hsm-tool vectors'
# passwords, PIN and SO-PIN)
insert_blank 0 HVOLD01
insert_blank 1 HVOLD02
printf 'share-1 share1password\nshare-2 share2password\nso-pin %s\npin %s\n' "$SOPIN" "$PIN" \
	>"$WORK/secrets"
hv restore --vault "$V" --secrets-fd 3 3<"$WORK/secrets" >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "restore of the format-1 vault"; }
grep -q "DBFFED54BA9E1D5B" "$WORK/out" || { cat "$WORK/out"; fail "restore does not name the vault's KCV"; }
ok "restore of the format-1 vault onto two blank cards"

# 3. every card now carries sc-hsm-tool's key, proven by a signature
hv verify --vault "$V" --deep --secrets-fd 3 3< <(echo "pin $PIN") >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "deep verify after restoring the format-1 vault"; }
grep -q "verified 2 cards and 2 keys, each proven by a signature: everything matches" "$WORK/out" ||
	{ cat "$WORK/out"; fail "deep verify did not prove the restored key on both cards"; }
ok "deep verify of the restored set passes"

# 4. nothing recorded before was rewritten; the new verification is a
# journal entry, and the vault is format 2 now
after=$(cd "$V" && find manifest shares keys -type f -exec sha256sum {} + | sort | grep -F -f <(printf '%s\n' "$before" | cut -d' ' -f3))
[ "$after" = "$before" ] || fail "a file of the format-1 vault changed"
[ -n "$(ls "$V/journal" 2>/dev/null)" ] || fail "the verification was not written to the journal"
grep -q 'hsmvault-vault/2' "$V/HSMVAULT" || fail "the vault was not marked format 2"
hv log --vault "$V" >"$WORK/log" 2>&1 || { cat "$WORK/log"; fail "log after the migration"; }
ok "old versions kept byte for byte; the vault migrated to format 2 with a journal"
