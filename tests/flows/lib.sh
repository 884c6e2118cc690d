# Shared by the flow tests. Sourced after the harness wrapper started a
# private pcscd (run-in-pcsc-env.sh); HSMVAULT, HSMVAULT_SIM, HV_PCSC_WORK
# and HV_READER_* come from it. Secrets reach hsmvault only through file
# descriptors, as an operator's script would pass them.
. "$HV_HARNESS_DIR/pcsc-env.sh"
set -u
WORK=$HV_PCSC_WORK
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# The simulator's factory cards chain to its own test root, which no
# installation trusts: the tests trust it explicitly, as an operator names
# a root with --trust-dir. hv adds it to every command that checks cards;
# a call that must not trust it runs "$HSMVAULT" itself.
HV_TRUST_DIR=$WORK/trust
mkdir -p "$HV_TRUST_DIR" &&
	"$HSMVAULT_SIM" --print-root >"$HV_TRUST_DIR/hsmvault-sim-root.cvc" &&
	[ -s "$HV_TRUST_DIR/hsmvault-sim-root.cvc" ] ||
	fail "hsmvault-sim --print-root wrote no test root"
hv() {
	case "${1:-}" in
	enroll | restore | verify | backup | reshare)
		local cmd=$1
		shift
		"$HSMVAULT" "$cmd" --trust-dir "$HV_TRUST_DIR" "$@" ;;
	card)
		if [ "${2:-}" = status ]; then
			shift 2
			"$HSMVAULT" card status --trust-dir "$HV_TRUST_DIR" "$@"
		else
			"$HSMVAULT" "$@"
		fi ;;
	*) "$HSMVAULT" "$@" ;;
	esac
}

# write_policy FILE NAME CARDS SHARE-LINES...: a policy with one share per
# line ("alice" = one holder; "bob,carol,dave:2" = split 2-of-3).
write_policy() {
	local f=$1 name=$2 cards=$3; shift 3
	{
		echo "format: hsmvault-policy/1"
		echo "name: $name"
		echo "cards:"
		echo "  count: $cards"
		# pico-hsm cannot prove it is genuine (self-signed device
		# certificate): a run of the suite on that profile accepts it
		[ "${HV_SIM_PROFILE:-}" = pico-hsm ] && echo "  unattested: accept"
		echo "dkek:"
		echo "  shares:"
		local s
		for s in "$@"; do
			case $s in
			*:*) echo "    - holders: [${s%%:*}]"
			     echo "      threshold: ${s##*:}" ;;
			*) echo "    - holder: $s" ;;
			esac
		done
		echo "pin:"
		echo "  retry_counter: 3"
		echo "  so_pin: holders"
		echo "verify:"
		echo "  max_age_days: 90"
	} >"$f"
}

# insert_blank I SERIAL [sim options]: a factory-fresh simulated card in
# reader I, its state in $WORK/card-I.state.
insert_blank() {
	local i=$1 serial=$2
	shift 2
	sim_insert "$i" "$WORK/card-$i.state" --blank --serial "$serial" "$@"
}
# reinsert I [sim options]: the same card again (state kept).
reinsert() {
	local i=$1; shift
	sim_insert "$i" "$WORK/card-$i.state" "$@"
}

# Standard test secrets (a script would keep them in a locked file).
PIN=648219
SOPIN=3537363231383830
SHARE1=share-one-password
SHARE2=share-two-password
