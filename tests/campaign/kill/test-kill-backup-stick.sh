#!/bin/bash
# Kill campaign, backup to a vault on an image-file stick (LUKS2 + ext4 in
# userspace; keyslot with the fast test KDF): every write to the image
# (the XTS layer's block writes, syncs) is a point. One card, two keys.
. "$HV_FLOWS_LIB"
. "$HV_KILL_LIB"
hv_require_tool debugfs e2fsprogs
CARDS="0"
STICK_PASS=kill-campaign-stick
IMG=$T/stick.img
pass() { "$@" --passphrase-fd 4 4<<<"$STICK_PASS"; }
pass hv stick prepare "$IMG" --size 32M --batch --insecure-fast-kdf-for-tests >"$WORK/p.out" 2>&1 ||
	{ cat "$WORK/p.out"; fail "stick prepare"; }
write_policy "$WORK/p.yaml" kill-stick 1 alice
sim_insert 0 "$T/card-0.state" --blank --serial HVKSA01
pass hv enroll --vault "$IMG" --policy "$WORK/p.yaml" --secrets-fd 3 \
	3< <(printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN") >"$WORK/e.out" 2>&1 ||
	{ cat "$WORK/e.out"; fail "enroll"; }
for k in "ks-1 0f01" "ks-2 0f02"; do
	set -- $k
	pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label "$1" --id "$2" \
		>/dev/null 2>&1 || fail "keypairgen $1"
done

run_flow() { pass hv backup --vault "$IMG" --secrets-fd 3 3< <(echo "pin $PIN") >"$1" 2>&1; }
versions_of() { vault_versions "$IMG" --passphrase-fd 3 3<<<"$STICK_PASS"; }
result_of() { kill_stick_summary "$IMG"; }
kill_campaign backup-stick
