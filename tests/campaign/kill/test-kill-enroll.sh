#!/bin/bash
# Kill campaign, enroll into a new vault folder: one blank card, one share
# (the share's 10,000,000-round key derivation runs in every run: one card
# and one share keep a point at two of them). After a kill the folder is
# no vault yet or a complete one; the rerun, given the card the killed run
# left half done (--wipe), enrolls the set, and verify finds card and vault
# agreeing.
. "$HV_FLOWS_LIB"
. "$HV_KILL_LIB"
CARDS="0"
write_policy "$WORK/p.yaml" kill-enroll 1 alice
sim_insert 0 "$T/card-0.state" --blank --serial HVKEA01

run_flow() {
	hv enroll --vault "$T/v" --policy "$WORK/p.yaml" --wipe HVKEA01 --secrets-fd 3 \
		3< <(printf 'share-1 %s\nso-pin %s\npin %s\ncurrent-so-pin %s\n' \
			"$SHARE1" "$SOPIN" "$PIN" "$SOPIN") >"$1" 2>&1
}
versions_of() { vault_versions "$T/v"; }
result_of() {
	kill_vault_summary "$T/v" || return 1
	hv verify --vault "$T/v" --no-record 2>&1 | sed -E 's/[0-9A-F]{16}/KCV/g'
	echo "verify exit ${PIPESTATUS[0]}"
}
kill_campaign enroll-folder
