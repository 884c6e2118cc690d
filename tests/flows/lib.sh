# Shared by the flow tests. Sourced after the harness wrapper started a
# private pcscd (run-in-pcsc-env.sh); HSMVAULT, HSMVAULT_SIM, HV_PCSC_WORK
# and HV_READER_* come from it. Secrets reach hsmvault only through file
# descriptors, as an operator's script would pass them.
. "$HV_HARNESS_DIR/pcsc-env.sh"
set -u
WORK=$HV_PCSC_WORK
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
hv() { "$HSMVAULT" "$@"; }

# write_policy FILE NAME CARDS SHARE-LINES...: a policy with one share per
# line ("alice" = one holder; "bob,carol,dave:2" = split 2-of-3).
write_policy() {
	local f=$1 name=$2 cards=$3; shift 3
	{
		echo "format: hsmvault-policy/1"
		echo "name: $name"
		echo "cards:"
		echo "  count: $cards"
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

# insert_blank I SERIAL: a factory-fresh simulated card in reader I, its
# state in $WORK/card-I.state.
insert_blank() {
	sim_insert "$1" "$WORK/card-$1.state" --blank --serial "$2"
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
