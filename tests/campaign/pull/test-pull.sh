#!/bin/bash
# Pull campaign: the card is pulled at every APDU of a flow.
#   test-pull.sh FLOW        FLOW: enroll, backup, restore or reshare
# Runs under tests/harness/run-in-pcsc-env.sh (one pcscd for the whole
# campaign), card family from HV_SIM_PROFILE. A one-card set and a folder
# vault keep each point cheap (no stick KDF); the only costly step left is
# the DKEK share's 10,000,000-round KDF that enroll and restore pay once per
# run.
#  1. the starting state is made and saved (simulator state file + vault
#     folder);
#  2. the flow runs uninterrupted from it; the simulator counts the APDUs
#     the card answered (--stats) and the resulting card and vault are kept;
#  3. for every N in 1..count: the starting state is copied back, the card
#     is inserted with --drop-after N (it disappears when APDU N arrives),
#     the flow runs: it must fail with exit 4 (card) and advice to run it
#     again, or succeed (N past the last APDU it needed: counted and named);
#     the card is put back, the flow runs again and must succeed; then the
#     card and vault must equal those of step 2 (compare.py says exactly
#     what is compared).
# Prints "pull campaign FLOW: N points tried, N passed".
. "$HV_FLOWS_LIB"
FLOW=${1:?usage: test-pull.sh enroll|backup|restore|reshare}
PROFILE=${HV_SIM_PROFILE:-smartcard-hsm}
CAMPAIGN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMPARE="$CAMPAIGN_DIR/compare.py"
hv_require_tool python3 python3
hv_require_tool pkcs11-tool opensc
START=$WORK/start BASE=$WORK/base RUN=$WORK/run AFTER=$WORK/after
mkdir -p "$START" "$BASE" "$RUN" "$AFTER"
SERIAL=HVPUL01
secrets_full() { printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN"; }

# ---- 1. starting state -----------------------------------------------------
write_policy "$WORK/p.yaml" pull 1 alice
state_card() { # serial -> a card made blank (its state file written)
	insert_blank 0 "$1"
	sim_pull 0
}
make_enrolled() {
	state_card "$SERIAL"
	reinsert 0
	hv enroll --vault "$START/vault" --policy "$WORK/p.yaml" --secrets-fd 3 \
		3< <(secrets_full) >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "enroll of the starting state"; }
}
case $FLOW in
enroll)
	state_card "$SERIAL"
	cp "$WORK/card-0.state" "$START/card.state" ;;
backup | restore)
	make_enrolled
	# two keys of different kinds, as an operator makes them with OpenSC
	for k in "EC:prime256v1 pull-ec 0f01" "rsa:2048 pull-rsa 0f02"; do
		set -- $k
		pkcs11-tool --login --pin "$PIN" --keypairgen --key-type "$1" --label "$2" --id "$3" \
			>/dev/null 2>&1 || fail "pkcs11-tool --keypairgen $2"
	done
	sim_pull 0
	cp "$WORK/card-0.state" "$START/card.state"
	if [ "$FLOW" = restore ]; then
		reinsert 0
		hv backup --vault "$START/vault" --secrets-fd 3 3< <(echo "pin $PIN") >"$WORK/out" 2>&1 ||
			{ cat "$WORK/out"; fail "backup of the starting state"; }
		sim_pull 0
		# restore onto a blank card of the same family
		rm -f "$WORK/card-0.state"
		state_card HVPUL02
		cp "$WORK/card-0.state" "$START/card.state"
	fi ;;
reshare)
	make_enrolled
	sim_pull 0
	cp "$WORK/card-0.state" "$START/card.state" ;;
*) fail "unknown flow '$FLOW' (enroll, backup, restore, reshare)" ;;
esac

# ---- the flow, its rerun and what is kept of a run --------------------------
flow_run() { # OUT: runs the flow on $RUN; exit status of hsmvault
	RERUN_NEEDS=""
	case $FLOW in
	enroll)
		local extra=() initialized dkek
		initialized=$(awk '$1 == "initialized" { print $2 }' "$RUN/card.state")
		dkek=$(awk '$1 == "dkek" { print $2 }' "$RUN/card.state")
		# a card the stopped run initialized needs its current SO-PIN (the
		# terminal asks it; a batch line here); one that already holds the
		# new DKEK is refused without --wipe, and the refusal must say so
		if [ "$dkek" != none ]; then
			hv enroll --vault "$RUN/vault" --policy "$WORK/p.yaml" --secrets-fd 3 \
				3< <(secrets_full; echo "current-so-pin $SOPIN") >"$1" 2>&1
			local rc7=$?
			[ $rc7 = 7 ] && grep -q -- "--wipe $SERIAL" "$1" || {
				cat "$1"
				fail "enroll onto a card holding the stopped run's DKEK: exit $rc7, expected 7 naming --wipe $SERIAL"
			}
			extra=(--wipe "$SERIAL")
			RERUN_NEEDS+=" --wipe"
		fi
		[ "$initialized" = 1 ] && RERUN_NEEDS+=" current-so-pin"
		hv enroll --vault "$RUN/vault" --policy "$WORK/p.yaml" "${extra[@]}" --secrets-fd 3 \
			3< <(secrets_full; [ "$initialized" = 1 ] && echo "current-so-pin $SOPIN") \
			>"$1" 2>&1 ;;
	backup)
		hv backup --vault "$RUN/vault" --secrets-fd 3 3< <(echo "pin $PIN") >"$1" 2>&1 ;;
	restore)
		hv restore --vault "$RUN/vault" --secrets-fd 3 3< <(secrets_full) >"$1" 2>&1 ;;
	reshare)
		hv reshare --vault "$RUN/vault" --share 1 --holder erin --secrets-fd 3 \
			3< <(printf 'share-1 %s\nnew-share-1 %s\n' "$SHARE1" "$SHARE2") >"$1" 2>&1 ;;
	esac
}
load_start() {
	rm -rf "$RUN/vault" "$RUN/card.state" "$RUN/stats"
	cp "$START/card.state" "$RUN/card.state"
	[ -d "$START/vault" ] && cp -a "$START/vault" "$RUN/vault"
	return 0
}
# keep DIR: the card's state file (card pulled), its status and the vault
keep() {
	hv card status --reader "$(reader_name 0)" --json >"$1/status.json" ||
		fail "card status after the run"
	sim_pull 0
	cp "$RUN/card.state" "$1/card.state"
	hv show --vault "$RUN/vault" --json >"$1/show.json" || fail "hsmvault show after the run"
	hv log --vault "$RUN/vault" >/dev/null || fail "the vault's chain does not check after the run"
}
apdus() { sed -n 's/^apdus=//p' "$RUN/stats"; }

# ---- 2. the uninterrupted run -----------------------------------------------
load_start
sim_insert 0 "$RUN/card.state" --stats "$RUN/stats"
t0=$(date +%s%N)
flow_run "$WORK/out" || { cat "$WORK/out"; fail "uninterrupted $FLOW"; }
t1=$(date +%s%N)
COUNT=$(apdus)
[ -n "$COUNT" ] || fail "the simulator wrote no APDU count"
keep "$BASE"
echo "uninterrupted $FLOW ($PROFILE): $COUNT APDUs, $(((t1 - t0) / 1000000)) ms"

if [ "$FLOW" = reshare ]; then
	# reshare changes no card: with the card present it must send nothing,
	# so there is no APDU to pull the card at
	[ "$COUNT" = 0 ] || fail "reshare sent $COUNT APDUs to the card; it must not touch cards"
	echo "pull campaign reshare: 0 points tried, 0 passed (reshare sent no APDU to the card present)"
	exit 0
fi
[ "$COUNT" -gt 0 ] || fail "the uninterrupted $FLOW sent no APDU"

# ---- 3. every point ---------------------------------------------------------
passed=0 tried=0 completed_anyway=""
for ((n = 1; n <= COUNT; n++)); do
	tried=$((tried + 1))
	load_start
	sim_insert 0 "$RUN/card.state" --drop-after "$n" --stats "$RUN/stats"
	flow_run "$WORK/out"
	rc=$?
	pid=$(sim_pid 0)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" | cut -c1)" != Z ]; then
		# APDU n never arrived: only possible when the flow did not need it
		[ $rc = 0 ] || { cat "$WORK/out"; fail "point $n: exit $rc, yet the card was never pulled"; }
		sim_pull 0
	else
		sim_wait_gone 0
	fi
	if [ $rc = 0 ]; then
		completed_anyway="$completed_anyway $n"
	else
		[ $rc = 4 ] || { cat "$WORK/out"; fail "point $n: exit $rc after the card was pulled, expected 4 (card)"; }
		grep -qi "again\|rerun\|continues where" "$WORK/out" ||
			{ cat "$WORK/out"; fail "point $n: no advice to run $FLOW again"; }
	fi
	cp "$WORK/out" "$WORK/out-pulled"
	sim_insert 0 "$RUN/card.state"
	flow_run "$WORK/out" || {
		echo "---- run with the card pulled at APDU $n (exit $rc):"; cat "$WORK/out-pulled"
		echo "---- rerun:"; cat "$WORK/out"
		fail "point $n: the rerun of $FLOW did not complete"
	}
	keep "$AFTER"
	if python3 "$COMPARE" "$FLOW" "$PROFILE" "$BASE" "$AFTER" "$RUN/vault"; then
		passed=$((passed + 1))
		# what the rerun found left by the stopped run, in its own words
		found=$(grep -o -e "half restored by an interrupted run: finished" \
			-e "[0-9]* keys\? restored, [0-9]* already there" \
			-e "DKEK import was interrupted" -e "already carries this vault's DKEK" \
			-e "DKEK present (KCV shown after PIN)" -e "[0-9]* already in the vault" \
			"$WORK/out" | paste -sd ';' -)
		echo "point $n/$COUNT: pulled run exit $rc, rerun${RERUN_NEEDS:+ (with$RERUN_NEEDS)} completed${found:+ ($found)}, card and vault as uninterrupted"
	else
		echo "---- run with the card pulled at APDU $n (exit $rc):"; cat "$WORK/out-pulled"
		echo "---- rerun:"; cat "$WORK/out"
		echo "FAIL: point $n: the card or vault after the rerun differs from the uninterrupted run (above)" >&2
	fi
done
[ -z "$completed_anyway" ] ||
	echo "$FLOW completed although the card was pulled at APDU$completed_anyway (not needed to finish)"
echo "pull campaign $FLOW ($PROFILE): $tried points tried, $passed passed"
[ "$passed" = "$tried" ] && [ "$tried" = "$COUNT" ] || fail "pull campaign $FLOW: $((tried - passed)) of $tried points failed"
