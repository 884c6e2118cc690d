#!/bin/bash
# Kill campaign, adopt of a classic folder (sc-hsm-tool's two shares and a
# wrap file under a name of its own in a subfolder): hsmvault adopt killed
# at its writes (killshim, tests/campaign/kill/lib-kill.sh). After every
# kill the folder is no vault yet or the adopted vault; adopt run again
# completes it, to the same result as a run without a kill, and the
# original files are byte-identical throughout.
# Every run first spends two share decryptions (sc-hsm-tool's KDF, 1-3 s
# each) before its first write, so killing at all ~46 writes would cost
# 10-20 minutes: the points are the start (open) and the commit (rename)
# of each file adopt writes, and its last write: ~15 points, 2-4 minutes.
. "$HV_FLOWS_LIB"
. "$HV_KILL_LIB"
DATA=$(dirname "$HV_FLOWS_LIB")/../data/sc-hsm-tool
[ -f "$DATA/wrapped.bin" ] || fail "fixture $DATA/wrapped.bin is missing"
CARDS=""
mkdir -p "$T/v/old keys"
cp "$DATA/dkek-share-1.pbe" "$DATA/dkek-share-2.pbe" "$T/v/"
cp "$DATA/wrapped.bin" "$T/v/old keys/private_myfirst_keypair"
echo "made with sc-hsm-tool" >"$T/v/notes.txt"
ORIG=(dkek-share-1.pbe dkek-share-2.pbe "old keys/private_myfirst_keypair" notes.txt)
originals=$(cd "$T/v" && sha256sum "${ORIG[@]}")
write_policy "$WORK/p.yaml" kill-adopt 2 alice bob

run_flow() {
	hv adopt --vault "$T/v" --policy "$WORK/p.yaml" --secrets-fd 3 \
		3< <(printf 'share-1 share1password\nshare-2 share2password\n') >"$1" 2>&1
}
versions_of() { vault_versions "$T/v"; }
result_of() {
	[ "$(cd "$T/v" && sha256sum "${ORIG[@]}")" = "$originals" ] ||
		{ echo "an original file changed"; return 1; }
	local out line
	out=$(kill_vault_summary "$T/v") || { printf '%s\n' "$out"; return 1; }
	# A killed writer's ".NAME.PID.tmp" is removed by the next write into
	# its folder unless PID runs again (pids wrap on a busy machine): such
	# a file is left out; one of a pid that does not run is a failure.
	while IFS= read -r line; do
		if [[ $line =~ ^file\ (.*/)?\.[^/]+\.([0-9]+)\.tmp$ ]] &&
			kill -0 "${BASH_REMATCH[2]}" 2>/dev/null; then
			continue
		fi
		printf '%s\n' "$line"
	done <<<"$out"
}

save_state
v0=$(versions_of) || fail "the classic folder does not read as 'no vault yet'"
shimmed 0 "$WORK/count.log" "$WORK/ref.out" || { cat "$WORK/ref.out"; fail "adopt without a kill"; }
ref=$(result_of) || fail "cannot describe the adopted vault"
v1=$(versions_of) || fail "the adopted vault does not load"
[ "$v1" != "$v0" ] || fail "adopt did not make a vault ($v0)"
w=$(wc -l <"$WORK/count.log")
points=$(awk '$2 == "open" || $2 == "rename" { print $1 } END { print NR }' "$WORK/count.log" | sort -un)
n_points=$(wc -w <<<"$points")
[ "$n_points" -ge 10 ] || { cat "$WORK/count.log"; fail "only $n_points points among $w writes"; }
tried=0 passed=0
for n in $points; do
	tried=$((tried + 1))
	restore_state
	shimmed "$n" "$WORK/kill.log" "$WORK/kill.out"
	rc=$?
	what=$(tail -n 1 "$WORK/kill.log" | sed 's|'"$T"'|$T|')
	[ $rc = 137 ] || { cat "$WORK/kill.out"; fail "point $n ($what): not killed (exit $rc)"; }
	v=$(versions_of 2>&1) || fail "point $n ($what): the folder does not load after the kill: $v"
	[ "$v" = "$v0" ] || [ "$v" = "$v1" ] ||
		fail "point $n ($what): the folder loads as $v, neither as before ($v0) nor adopted ($v1)"
	run_flow "$WORK/rerun.out" || { cat "$WORK/rerun.out"; fail "point $n ($what): the rerun failed"; }
	result_of >"$WORK/got.result" 2>&1 || { cat "$WORK/got.result"; fail "point $n ($what): result"; }
	cmp -s <(printf '%s\n' "$ref") "$WORK/got.result" ||
		{ diff <(printf '%s\n' "$ref") "$WORK/got.result" | head -20; fail "point $n ($what): the rerun's vault differs"; }
	passed=$((passed + 1))
done
ok "kill campaign adopt-folder: $tried of $w writes tried (each file's start and commit, the last), $passed passed"
