# The kill campaign's driver, sourced by each test-kill-*.sh after the
# flows library (tests/flows/lib.sh: harness, hv, secrets, policies).
#
# A test builds a starting state in $T (the vault folder or stick image in
# $T/v, the cards' state files $T/card-<i>.state), then calls
#   kill_campaign NAME
# with these functions defined:
#   run_flow OUT [rerun]  runs the flow once (secrets by fd), output to
#                     OUT; returns hsmvault's exit status. "rerun": the run
#                     after a killed one (or a second run), which may need
#                     what an operator would then give (enroll: the
#                     current SO-PIN of a card the killed run initialized)
#   result_of         prints the result in a form two runs can compare
#                     (the vault and the cards, without dates or random
#                     bytes); runs after the flow and reads only
#   versions_of       prints the manifest versions and journal entries the
#                     vault loads with ("none" when there is no vault yet);
#                     fails when the vault exists but does not load
# and CARDS (reader indexes of the inserted cards). KILL_MIDWAY names the
# one state between old and new that a flow may stop in by design (enroll
# into a new folder: the vault skeleton, version 1, before the set's
# version 2); the rerun must then complete as from the old state.
#
# kill_campaign saves $T and the cards, runs the flow once without a kill
# (W = the writes it made, the reference result, the versions before and
# after), then for every N in 1..W: restores the state by copying files,
# runs the flow with SIGKILL at write N (killshim.c, LD_PRELOAD on that
# hsmvault process only), checks that the vault loads at the old or the new
# version, reruns the flow without a kill and compares the result with the
# reference: left at the old version, the rerun must succeed and give the
# uninterrupted run's result; left at the new one (the killed run's work is
# in), the rerun must do what a second uninterrupted run does (exit status
# and result). It prints
#   kill campaign NAME: N points tried, N passed
# and fails unless every point passed.
[ -n "${KILLSHIM:-}" ] && [ -f "$KILLSHIM" ] ||
	fail "KILLSHIM does not name the killshim library (run through meson test)"
T=$WORK/t
mkdir -p "$T"
CARDS=${CARDS:-}

# Cards: each in reader i with state $T/card-i.state.
cards_out() {
	local i
	for i in $CARDS; do sim_pull "$i"; done
}
cards_in() {
	local i
	for i in $CARDS; do sim_insert "$i" "$T/card-$i.state"; done
}

save_state() {
	cards_out
	rm -rf "$WORK/start"
	cp -a "$T" "$WORK/start" || fail "cannot save the starting state"
	cards_in
}
# Cards whose state file still equals the saved one stay in their reader
# (a flow that only reads a card costs no pull and insert per point).
restore_state() {
	local i moved=
	for i in $CARDS; do
		cmp -s "$T/card-$i.state" "$WORK/start/card-$i.state" || moved="$moved $i"
	done
	for i in $moved; do sim_pull "$i"; done
	find "$T" -mindepth 1 -maxdepth 1 ! -name 'card-*.state' -exec rm -rf {} + &&
		for i in $moved; do cp -a "$WORK/start/card-$i.state" "$T/"; done &&
		(cd "$WORK/start" && find . -mindepth 1 -maxdepth 1 ! -name 'card-*.state' \
			-exec cp -a {} "$T/" \;) ||
		fail "cannot restore the starting state"
	for i in $moved; do sim_insert "$i" "$T/card-$i.state"; done
}

# shimmed AT LOG OUT: the flow with the shim (AT 0 counts only).
shimmed() {
	rm -f "$2"
	LD_PRELOAD=$KILLSHIM KILLSHIM_ROOT=$T KILLSHIM_AT=$1 KILLSHIM_LOG=$2 run_flow "$3"
}

kill_campaign() {
	local name=$1 n rc rc2 w tried=0 passed=0 v0 v1 v what
	local t0=$SECONDS
	save_state
	v0=$(versions_of) || fail "$name: the starting vault does not load: $v0"
	shimmed 0 "$WORK/count.log" "$WORK/ref.out"
	rc=$?
	[ $rc = 0 ] || { cat "$WORK/ref.out"; fail "$name: the run without a kill exited $rc"; }
	w=$(wc -l <"$WORK/count.log")
	[ "$w" -gt 0 ] || fail "$name: the shim counted no write (is $T where the flow writes?)"
	v1=$(versions_of) || fail "$name: the vault after the run without a kill does not load: $v1"
	[ "$v1" != "$v0" ] || fail "$name: the run without a kill left the vault at $v0"
	result_of >"$WORK/ref.result" 2>&1 || { cat "$WORK/ref.result"; fail "$name: no reference result"; }
	# A killed run that got its new version in has done its work: the rerun
	# is then a second run, as after an uninterrupted one (a backup finds
	# nothing new, an enroll finds the set enrolled, a verify adds an entry).
	run_flow "$WORK/ref2.out" rerun
	rc2=$?
	result_of >"$WORK/ref2.result" 2>&1 || { cat "$WORK/ref2.result"; fail "$name: no result of a second run"; }
	echo "$name: $w writes, versions $v0 -> $v1; a second run exits $rc2; the writes:"
	sed 's/^/  /; s|'"$T"'|$T|' "$WORK/count.log"
	# The same flow twice from the same state makes the same writes: the
	# points below are the points of the reference run.
	restore_state
	shimmed 0 "$WORK/count2.log" "$WORK/ref2.out" || fail "$name: second run without a kill failed"
	[ "$(wc -l <"$WORK/count2.log")" = "$w" ] ||
		fail "$name: two runs from one state made $w and $(wc -l <"$WORK/count2.log") writes"
	for ((n = 1; n <= w; n++)); do
		tried=$((tried + 1))
		restore_state
		shimmed "$n" "$WORK/kill.log" "$WORK/kill.out"
		rc=$?
		what=$(tail -n 1 "$WORK/kill.log" 2>/dev/null | sed 's|'"$T"'|$T|')
		if [ $rc != 137 ]; then
			echo "point $n ($what): the run was not killed (exit $rc)"
			sed 's/^/    /' "$WORK/kill.out"
			continue
		fi
		if ! v=$(versions_of 2>&1); then
			echo "point $n ($what): the vault does not load after the kill: $v"
			continue
		fi
		local want_rc=0 want=$WORK/ref.result
		if [ "$v" = "$v1" ]; then
			want_rc=$rc2 want=$WORK/ref2.result
		elif [ "$v" != "$v0" ] && [ "$v" != "${KILL_MIDWAY:-$v0}" ]; then
			echo "point $n ($what): the vault loads at $v, neither the old ($v0) nor the new ($v1)"
			continue
		fi
		run_flow "$WORK/rerun.out" rerun
		rc=$?
		if [ $rc != "$want_rc" ]; then
			echo "point $n ($what): left at $v; the rerun exited $rc, not $want_rc:"
			sed 's/^/    /' "$WORK/rerun.out"
			continue
		fi
		if ! result_of >"$WORK/got.result" 2>&1 || ! cmp -s "$want" "$WORK/got.result"; then
			echo "point $n ($what): left at $v; after the rerun the result differs from the run without a kill:"
			diff "$want" "$WORK/got.result" | grep '^>' | head -n 10 | sed 's/^/    /'
			diff "$want" "$WORK/got.result" | grep '^<' | head -n 10 | sed 's/^/    /'
			continue
		fi
		passed=$((passed + 1))
	done
	echo "kill campaign $name: $tried points tried, $passed passed ($((SECONDS - t0)) s)"
	[ "$passed" = "$tried" ] || fail "kill campaign $name: $((tried - passed)) of $tried points failed"
}

# Helpers for versions_of / result_of.
# vault_versions VAULT [ARGS]: versions of a vault (log --json), "none" when VAULT
# is not a vault yet; any other failure to load is a failure.
vault_versions() {
	local out rc v=$1
	shift
	out=$("$HSMVAULT" log --vault "$v" --json "$@" 2>&1)
	rc=$?
	if [ $rc != 0 ]; then
		case $out in
		*"is not an hsmvault vault (no HSMVAULT marker)"* | *"no vault at "*)
			echo none; return 0 ;;
		esac
		printf '%s\n' "$out"
		return 1
	fi
	echo "$(grep -o '"version": *[0-9]*' <<<"$out" | wc -l) versions," \
		"$(grep -o '"entry": *[0-9]*' <<<"$out" | wc -l) journal entries"
}

# kill_vault_summary VAULT: what a vault holds, without what differs
# between two runs by design (dates, the random salt of a share file, the
# random padding of a wrapped key, a new DKEK's KCV): the files (names: no
# temporary file left), `show --json` and `log --json`, and RECOVERY.md,
# which must describe the current version and whose sha256sum list must
# hold for the files as they are. Shell and sed only: a python start costs
# a second on a loaded machine, and this runs twice per point.
kill_vault_summary() {
	local out
	{
		(cd "$1" && find . -type f | LC_ALL=C sort | sed 's/^/file /')
		out=$("$HSMVAULT" show --vault "$1" --json 2>&1) || { echo "show: $out"; return 1; }
		printf '%s\n' "$out"
		out=$("$HSMVAULT" log --vault "$1" --json 2>&1) || { echo "log: $out"; return 1; }
		printf '%s\n' "$out"
		cat "$1/RECOVERY.md"
		sed -n "/^sha256sum -c <<'SUMS'/,/^SUMS/p" "$1/RECOVERY.md" | sed '1d;$d' >"$WORK/sums"
		[ -s "$WORK/sums" ] && (cd "$1" && sha256sum -c "$WORK/sums" 2>&1)
	} | sed -E 's/[0-9a-f]{64}/H/g; s/[0-9A-F]{2}( [0-9A-F]{2}){7,}/KCVBYTES/g; s/[0-9A-F]{16}/KCV/g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z/T/g'
}

# kill_stick_summary IMAGE: kill_vault_summary of the vault on an
# image-file stick (passphrase $STICK_PASS): the ext4 volume decrypted by
# stick_testtool (the userspace backend) and its tree copied out by
# debugfs, then summed up as a folder. One decryption instead of one stick
# open per file keeps the point cheap.
kill_stick_summary() {
	rm -rf "$WORK/plain" "$WORK/dump" && mkdir "$WORK/dump" || return 1
	printf '%s\n' "$STICK_PASS" | "$STICK_TESTTOOL" decrypt "$1" "$WORK/plain" ||
		{ echo "cannot decrypt $1"; return 1; }
	# -c: bitmaps are not read. A kill inside the flush of the allocation
	# bitmaps can leave a block bitmap whose checksum does not match (only
	# blocks marked used that nothing uses; tests/stick/test-crash.sh holds
	# e2fsck to that), which a rerun with nothing to write leaves as it is
	# and which plain debugfs refuses; the files are what is compared here.
	debugfs -c -R "rdump / $WORK/dump" "$WORK/plain" >"$WORK/debugfs.out" 2>&1 ||
		{ cat "$WORK/debugfs.out"; return 1; }
	rmdir "$WORK/dump/lost+found" 2>/dev/null
	kill_vault_summary "$WORK/dump"
}
