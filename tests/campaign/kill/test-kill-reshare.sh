#!/bin/bash
# Kill campaign, reshare: share 1 of a one-card set handed from alice to
# erin (the old share decrypted, the new one encrypted: two key derivations
# per run). Killed before its version, the rerun hands the share over;
# killed after it, the share is erin's and a rerun with alice's password
# is refused as a second run would be, the vault unchanged.
. "$HV_FLOWS_LIB"
. "$HV_KILL_LIB"
CARDS="0"
write_policy "$WORK/p.yaml" kill-reshare 1 alice
sim_insert 0 "$T/card-0.state" --blank --serial HVKHA01
hv enroll --vault "$T/v" --policy "$WORK/p.yaml" --secrets-fd 3 \
	3< <(printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN") >"$WORK/e.out" 2>&1 ||
	{ cat "$WORK/e.out"; fail "enroll"; }

run_flow() {
	hv reshare --vault "$T/v" --share 1 --holder erin --secrets-fd 3 \
		3< <(printf 'share-1 %s\nnew-share-1 %s\n' "$SHARE1" erin-password) >"$1" 2>&1
}
versions_of() { vault_versions "$T/v"; }
result_of() { kill_vault_summary "$T/v"; }
kill_campaign reshare-folder
