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

# A password file for hv-dkek-tool (passwords stay out of its argv).
pwfile() {
	local f="$W/pw-$RANDOM$RANDOM"
	printf '%s' "$1" >"$f"
	chmod 600 "$f"
	printf '%s\n' "$f"
}
