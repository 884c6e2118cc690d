# Shared by the OpenSC interop tests: sourced after the harness has started
# pcscd (run-in-pcsc-env.sh). OpenSC's tools are used exactly as an operator
# would use them; hsmvault's side is hv-dkek-tool ($HV_DKEK_TOOL, crypto
# layer only) and the hsmvault binary ($HSMVAULT).
set -eu
. "$HV_HARNESS_DIR/pcsc-env.sh"
hv_require_tool sc-hsm-tool opensc
hv_require_tool pkcs11-tool opensc
hv_require_tool pkcs15-tool opensc
hv_require_tool openssl openssl
hv_require_tool python3 python3
[ -x "${HV_DKEK_TOOL:-}" ] || hv_fail "HV_DKEK_TOOL must name the hv-dkek-tool helper (set by meson)"
[ -d "${HV_TEST_DATA:-}/sc-hsm-tool" ] || hv_fail "HV_TEST_DATA must name tests/data (set by meson)"

# The card family the simulator plays (meson runs every test once per
# profile; sim_insert passes it on). pico-hsm differs where OpenSC's tools
# see it differently: each test asserts that difference, never skips it.
PROFILE=${HV_SIM_PROFILE:-smartcard-hsm}
case $PROFILE in
smartcard-hsm | nitrokey-hsm2 | pico-hsm) ;;
*) hv_fail "HV_SIM_PROFILE '$PROFILE' is not a simulator profile" ;;
esac
is_pico() { [ "$PROFILE" = pico-hsm ]; }

# The PINs of the reference files (tests/data/sc-hsm-tool/README.md).
PIN=648219
SOPIN=3537363231383830
DATA="$HV_TEST_DATA/sc-hsm-tool"
W="$HV_PCSC_WORK"

# Logs every tool call, so a failure shows what ran.
run() {
	echo "+ $*" >&2
	"$@"
}

# init_card IDX [sc-hsm-tool options...]
init_card() {
	local idx="$1"
	shift
	run sc-hsm-tool --reader "$(reader_name "$idx")" --initialize --so-pin "$SOPIN" --pin "$PIN" "$@" ||
		hv_fail "sc-hsm-tool --initialize on reader $idx failed"
}

# import_share IDX FILE PASSWORD: prints sc-hsm-tool's output.
import_share() {
	run sc-hsm-tool --reader "$(reader_name "$1")" --import-dkek-share "$2" --password "$3" ||
		hv_fail "sc-hsm-tool --import-dkek-share $2 on reader $1 failed"
}

# The KCV sc-hsm-tool prints for the card in reader IDX ("" while pending).
card_kcv() {
	run sc-hsm-tool --reader "$(reader_name "$1")" | sed -n 's/^DKEK key check value *: *//p'
}

# The KCV the card in reader IDX shows in one card session after VERIFY
# of the user PIN (opensc-tool sends all three APDUs in one connection):
# what an operator runs on a card that hides its KCV from sc-hsm-tool.
card_kcv_after_pin() {
	local pin_hex out
	pin_hex=$(printf '%s' "$PIN" | od -An -tx1 | tr -d ' \n')
	out=$(run opensc-tool --reader "$(reader_name "$1")" \
		-s 00A404000BE82B0601040181C31F020100 \
		-s "00200081$(printf '%02X' ${#PIN})$pin_hex" \
		-s 8052000000) || hv_fail "opensc-tool could not read the KCV after VERIFY on reader $1"
	echo "$out" >&2
	# The last "Received" block: total, outstanding, 8 KCV bytes, SW.
	python3 -c '
import re, sys
blocks = re.findall(r"Received \(SW1=0x([0-9a-fA-F]{2}), SW2=0x([0-9a-fA-F]{2})\)(?::\s*\n((?:[0-9A-Fa-f]{2} [^\n]*\n?)*))?", sys.stdin.read())
sw1, sw2, data = blocks[-1]
assert (sw1 + sw2).upper() == "9000", (sw1, sw2)
hexbytes = []
for line in (data or "").splitlines():
    for tok in line.split()[:16]:
        if not re.fullmatch(r"[0-9A-Fa-f]{2}", tok):
            break
        hexbytes.append(tok)
assert len(hexbytes) >= 10, data
print("".join(hexbytes[2:10]).upper())
' <<<"$out"
}

# A password file for hv-dkek-tool (passwords stay out of its argv).
pwfile() {
	local f="$W/pw-$RANDOM$RANDOM"
	printf '%s' "$1" >"$f"
	chmod 600 "$f"
	printf '%s\n' "$f"
}
