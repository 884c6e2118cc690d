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

# A rerun finds the card as the killed run left it: initialized (then the
# operator names it with --wipe and gives its current SO-PIN) or blank.
run_flow() {
	local extra=
	if [ "${2:-}" = rerun ] && ! hv card status | grep -q "blank card: initialize it"; then
		extra=$(printf 'current-so-pin %s' "$SOPIN")
	fi
	hv enroll --vault "$T/v" --policy "$WORK/p.yaml" --wipe HVKEA01 --secrets-fd 3 \
		3< <(printf 'share-1 %s\nso-pin %s\npin %s\n%s\n' "$SHARE1" "$SOPIN" "$PIN" "$extra") \
		>"$1" 2>&1
}
versions_of() { vault_versions "$T/v"; }
result_of() {
	kill_vault_summary "$T/v" || return 1
	hv verify --vault "$T/v" --no-record 2>&1 | sed -E 's/[0-9A-F]{16}/KCV/g'
	echo "verify exit ${PIPESTATUS[0]}"
}
KILL_MIDWAY="1 versions, 0 journal entries"
kill_campaign enroll-folder
