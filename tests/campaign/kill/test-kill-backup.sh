#!/bin/bash
# Kill campaign, backup to a vault folder: two cards of one set, three EC
# keys made on card 0; hsmvault backup killed at each of its writes.
. "$HV_FLOWS_LIB"
. "$HV_KILL_LIB"
CARDS="0 1"
write_policy "$WORK/p.yaml" kill-backup 2 alice
sim_insert 0 "$T/card-0.state" --blank --serial HVKBA01
sim_insert 1 "$T/card-1.state" --blank --serial HVKBB01
hv enroll --vault "$T/v" --policy "$WORK/p.yaml" --secrets-fd 3 \
	3< <(printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN") >"$WORK/e.out" 2>&1 ||
	{ cat "$WORK/e.out"; fail "enroll"; }
sim_pull 1
for k in "kb-1 0c01" "kb-2 0c02" "kb-3 0c03"; do
	set -- $k
	pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label "$1" --id "$2" \
		>/dev/null 2>&1 || fail "keypairgen $1"
done
sim_insert 1 "$T/card-1.state"

run_flow() { hv backup --vault "$T/v" --secrets-fd 3 3< <(echo "pin $PIN") >"$1" 2>&1; }
versions_of() { vault_versions "$T/v"; }
result_of() { kill_vault_summary "$T/v"; }
kill_campaign backup-folder
