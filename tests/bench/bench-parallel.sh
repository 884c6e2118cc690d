#!/bin/bash
# One card against eight: enroll, restore and deep verify of a set of 1
# and of 8 simulated cards (each card in its own virtual reader). The
# flows work cards in different readers in parallel threads, so eight
# cards should take little longer than one. Run by tests/bench/run.sh (as
# root, under tests/harness/run-in-pcsc-env.sh with 8 readers).
. "$HV_HARNESS_DIR/pcsc-env.sh"
set -u
W=$HV_PCSC_WORK
fail() { echo "bench-parallel: $*" >&2; exit 1; }
# The simulated cards chain to the simulator's test root: trust it, as an
# operator names a root with --trust-dir (restore and enroll check it).
mkdir -p "$W/trust" && "$HSMVAULT_SIM" --print-root >"$W/trust/sim-root.cvc" ||
	fail "hsmvault-sim --print-root"
hv() {
	case $1 in
	enroll | restore | verify) local c=$1; shift; "$HSMVAULT" "$c" --trust-dir "$W/trust" "$@" ;;
	*) "$HSMVAULT" "$@" ;;
	esac
}
PIN=648219
SOPIN=3537363231383830
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.2f\", $* }"; }
[ "${HV_READER_COUNT:-0}" -ge 8 ] || fail "needs 8 readers (HV_PCSC_ENTRIES=4)"
secrets() { printf 'share-1 bench-share-one\nso-pin %s\npin %s\n' "$SOPIN" "$PIN"; }
policy() { # FILE COUNT
	printf 'format: hsmvault-policy/1\nname: bench-%s\ncards:\n  count: %s\ndkek:\n  shares:\n    - holder: alice\n' \
		"$2" "$2" >"$1"
}
insert_blanks() { # COUNT TAG
	local i
	for ((i = 0; i < $1; i++)); do
		sim_insert "$i" "$W/$2-$i.state" --blank --serial "BP$2$i"
	done
}
pull_all() { local i; for ((i = 0; i < 8; i++)); do [ -f "$HV_PCSC_WORK/pids/sim-$i" ] && sim_pull "$i"; done; true; }
timed() { # VAR command...: seconds into VAR
	local var=$1; shift
	local t0; t0=$(now)
	"$@" >"$W/out" 2>&1 || { cat "$W/out" >&2; fail "$* failed"; }
	printf -v "$var" '%s' "$(calc "$(now) - $t0")"
}
declare -A S
for n in 1 8; do
	policy "$W/p$n.yaml" "$n"
	insert_blanks "$n" "E$n"
	timed "S[enroll$n]" hv enroll --vault "$W/v$n" --policy "$W/p$n.yaml" --secrets-fd 3 \
		3< <(secrets)
	# two keys on the first card, backed up. OpenSC's PKCS#11 module shows
	# only some of 8 readers (here "HV Sim 2 ..."): the card visits reader 4.
	pull_all
	sim_insert 4 "$W/E$n-0.state"
	for id in 01 02; do
		pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
			--label "bp-$id" --id "0a$id" >"$W/kg.out" 2>&1 ||
			{ cat "$W/kg.out" >&2; pkcs11-tool -L >&2; fail "keypairgen"; }
	done
	sim_pull 4
	for ((i = 0; i < n; i++)); do sim_insert "$i" "$W/E$n-$i.state"; done
	hv backup --vault "$W/v$n" --secrets-fd 3 3< <(echo "pin $PIN") >/dev/null || fail "backup"
	pull_all
	insert_blanks "$n" "R$n"
	timed "S[restore$n]" hv restore --vault "$W/v$n" --secrets-fd 3 3< <(secrets)
	timed "S[verify$n]" hv verify --vault "$W/v$n" --deep --no-record --secrets-fd 3 \
		3< <(echo "pin $PIN")
	pull_all
done
out=${BENCH_OUT:-$W/bench-parallel.md}
{
	echo "One card against eight (each in its own virtual reader), $(nproc) cores; enroll and"
	echo "restore include one share's 10,000,000-round key derivation, restore unwraps 2 EC keys"
	echo "into every card, deep verify has every key sign a challenge:"
	echo
	echo "| command | 1 card s | 8 cards s | 8 cards / 1 card |"
	echo "| --- | ---: | ---: | ---: |"
	for c in enroll restore verify; do
		printf '| %s | %.2f | %.2f | %.1fx |\n' "$c" "${S[${c}1]}" "${S[${c}8]}" \
			"$(calc "${S[${c}8]} / ${S[${c}1]}")"
	done
	echo
	echo "Eight cards done one after another would take about 8x as long."
} | tee "$out"
