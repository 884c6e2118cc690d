#!/bin/bash
# Kill campaign, verify recording its journal entry, and record export:
# a one-card set with one key backed up. verify writes one journal entry;
# record export writes the public record (outside the vault) atomically.
. "$HV_FLOWS_LIB"
. "$HV_KILL_LIB"
CARDS="0"
write_policy "$WORK/p.yaml" kill-verify 1 alice
sim_insert 0 "$T/card-0.state" --blank --serial HVKVA01
hv enroll --vault "$T/v" --policy "$WORK/p.yaml" --secrets-fd 3 \
	3< <(printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN") >"$WORK/e.out" 2>&1 ||
	{ cat "$WORK/e.out"; fail "enroll"; }
pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label kv-1 --id 0e01 \
	>/dev/null 2>&1 || fail "keypairgen"
hv backup --vault "$T/v" --secrets-fd 3 3< <(echo "pin $PIN") >"$WORK/b.out" 2>&1 ||
	{ cat "$WORK/b.out"; fail "backup"; }

run_flow() { hv verify --vault "$T/v" >"$1" 2>&1; }
versions_of() { vault_versions "$T/v"; }
result_of() { kill_vault_summary "$T/v"; }
kill_campaign verify-journal

# record export: the vault is only read; the record file is the old one
# (none here) or the whole new one, never a part.
run_flow() { hv record export --vault "$T/v" --out "$T/record.yaml" >"$1" 2>&1; }
versions_of() {
	[ -e "$T/record.yaml" ] || { echo "no record"; return 0; }
	local out
	out=$(hv verify --record "$T/record.yaml" 2>&1) || { printf '%s\n' "$out"; return 1; }
	echo "record"
}
result_of() {
	kill_vault_summary "$T/v" || return 1
	# A run killed before its rename leaves its temporary file beside the
	# record (util/fileio.c; outside the vault, so no sweep removes it):
	# tolerated here, by its exact name, and reported.
	(cd "$T" && find . -type f ! -name 'card-*' ! -name '.record.yaml.[0-9]*.tmp' | LC_ALL=C sort)
	sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z/T/g' "$T/record.yaml"
}
kill_campaign record-export
