#!/bin/bash
# Kill campaign, restore from a vault folder onto a blank card: a one-card
# set with two EC keys backed up, its card replaced by a factory-blank one.
# restore records the rebuilt card in the vault (a manifest version and
# RECOVERY.md); killed at each write, the rerun finishes the card (already
# restored: nothing repeated) and the vault, and verify finds them agreeing.
. "$HV_FLOWS_LIB"
. "$HV_KILL_LIB"
CARDS="0"
write_policy "$WORK/p.yaml" kill-restore 1 alice
sim_insert 0 "$WORK/old-card.state" --blank --serial HVKRA01
hv enroll --vault "$T/v" --policy "$WORK/p.yaml" --secrets-fd 3 \
	3< <(printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN") >"$WORK/e.out" 2>&1 ||
	{ cat "$WORK/e.out"; fail "enroll"; }
for k in "kr-1 0d01" "kr-2 0d02"; do
	set -- $k
	pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label "$1" --id "$2" \
		>/dev/null 2>&1 || fail "keypairgen $1"
done
hv backup --vault "$T/v" --secrets-fd 3 3< <(echo "pin $PIN") >"$WORK/b.out" 2>&1 ||
	{ cat "$WORK/b.out"; fail "backup"; }
sim_pull 0
sim_insert 0 "$T/card-0.state" --blank --serial HVKRB01

run_flow() {
	hv restore --vault "$T/v" --secrets-fd 3 \
		3< <(printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN") >"$1" 2>&1
}
versions_of() { vault_versions "$T/v"; }
result_of() {
	kill_vault_summary "$T/v" || return 1
	hv verify --vault "$T/v" --no-record 2>&1 | sed -E 's/[0-9A-F]{16}/KCV/g'
	echo "verify exit ${PIPESTATUS[0]}"
}
kill_campaign restore-folder
