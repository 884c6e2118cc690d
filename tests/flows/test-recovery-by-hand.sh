#!/bin/bash
# RECOVERY.md followed literally, on every card family (HV_SIM_PROFILE):
# a vault made by hsmvault (enroll, keys made with OpenSC, backup) is
# restored onto a factory-fresh card with OpenSC's tools alone, running the
# sh blocks of the page's sections 3 (initialize), 4 (import the shares,
# confirm the DKEK) and 5 (unwrap) exactly as written, on a terminal where
# the operator types what the tools ask for. Nothing in the blocks is
# substituted: with one card present they need no --reader, and the
# policy's retry counter is the default 3. The KCV check the page describes
# must pass, and OpenSC must sign with every restored key (checked against
# the public key read from the lost card).
. "$HV_FLOWS_LIB"
[ -n "${HV_PTY:-}" ] && [ -x "$HV_PTY" ] || fail "HV_PTY must name hv-pty (run through meson test)"
for t in sc-hsm-tool opensc-explorer pkcs11-tool; do
	command -v $t >/dev/null || fail "$t missing (Debian package opensc)"
done
command -v openssl >/dev/null || fail "openssl missing (Debian package openssl)"
profile=${HV_SIM_PROFILE:-smartcard-hsm}
V=$WORK/vault
secrets() { printf 'share-1 %s\nshare-2 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SHARE2" "$SOPIN" "$PIN"; }

# 1. the vault: two cards, two password shares, an EC and an RSA key
write_policy "$WORK/p.yaml" byhand 2 alice bob
insert_blank 0 HVBYHAND01
insert_blank 1 HVBYHAND02
hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "enroll"; }
sim_pull 1
keys="EC:prime256v1 byhand-ec 0f01 ECDSA-SHA256
rsa:2048 byhand-rsa 0f02 SHA256-RSA-PKCS"
while read -r type label id mech; do
	pkcs11-tool --login --pin "$PIN" --keypairgen --key-type "$type" --label "$label" --id "$id" \
		>/dev/null 2>&1 || fail "keypairgen $label"
	pkcs11-tool --read-object --type pubkey --id "$id" -o "$WORK/$id.pub.der" >/dev/null 2>&1 &&
		openssl pkey -pubin -inform DER -in "$WORK/$id.pub.der" -out "$WORK/$id.pub.pem" ||
		fail "public key of $label"
done <<<"$keys"
reinsert 1
hv backup --vault "$V" --secrets-fd 3 3< <(echo "pin $PIN") >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "backup"; }
sim_pull 0
sim_pull 1
ok "vault with 2 shares and 2 keys ($profile)"

# 2. the page's blocks
R=$V/RECOVERY.md
[ -s "$R" ] || fail "the vault has no RECOVERY.md"
# block SECTION N: the N-th sh block of section SECTION, as written
block() {
	awk -v want="$1" -v nth="$2" '
		/^## / { sec = $2; sub(/\.$/, "", sec) }
		/^```sh[ \t]*$/ { if (sec == want) { n++; inb = (n == nth) } next }
		/^```[ \t]*$/ { inb = 0; next }
		inb { print }' "$R"
}
for b in "3 1" "4 1" "4 2" "5 1"; do
	block $b >"$WORK/block-${b/ /-}.sh"
	[ -s "$WORK/block-${b/ /-}.sh" ] || fail "RECOVERY.md has no sh block $b (section, number)"
	! grep -q '@' "$WORK/block-${b/ /-}.sh" || fail "block $b keeps a placeholder"
done
grep -q 'sc-hsm-tool --initialize --dkek-shares 2' "$WORK/block-3-1.sh" || fail "section 3: $(cat "$WORK/block-3-1.sh")"
[ "$(grep -c -- '--import-dkek-share' "$WORK/block-4-1.sh")" = 2 ] || fail "section 4 does not import 2 shares"
[ "$(grep -c -- '--unwrap-key' "$WORK/block-5-1.sh")" = 2 ] || fail "section 5 does not unwrap 2 keys"
! grep -q 'opensc-tool -s\|--pin \|--so-pin \|--password' "$WORK"/block-*.sh ||
	fail "a block puts a secret on a command line"
# what the page says the card must show: sc-hsm-tool's KCV (SmartCard-HSM,
# Nitrokey HSM 2) and the DKEK status line read after the PIN (every card)
kcv=$(awk '/it must be$/ { getline; getline; sub(/^ +/, ""); print; exit }' "$R")
status=$(awk '/^`Received \(SW1=0x90, SW2=0x00\):` must begin with$/ { getline; getline; sub(/^ +/, ""); print; exit }' "$R")
man_kcv=$(sed -n 's/^  kcv: "\([0-9A-F]\{16\}\)"$/\1/p' "$(ls "$V"/manifest/*.yaml | tail -n1)" | head -n1)
[ -n "$man_kcv" ] && [ "$kcv" = "$man_kcv" ] || fail "RECOVERY.md's KCV '$kcv' is not the manifest's '$man_kcv'"
[ "$status" = "02 00 $(echo "$man_kcv" | sed 's/../& /g; s/ $//')" ] ||
	fail "RECOVERY.md's DKEK status line '$status' does not match the manifest's KCV $man_kcv"
ok "RECOVERY.md: blocks of sections 3, 4, 5; KCV $kcv, status line '$status'"

# 3. followed on a factory-fresh card, in the vault's folder (the stick's
# mount point), each block run by bash on a terminal
sim_insert 0 "$WORK/fresh.state" --blank --serial HVBYHAND03
# The operator's typing: OpenSC's prompts turn the echo off with a flush
# of the terminal's input, so text typed at a prompt's first sight can be
# lost. The answers come through a pipe instead (stdin; stdout and stderr
# stay on a terminal, which the prompts need), each line written only once
# its prompt was shown, so every command reads exactly its own answers.
feed() { # OUT PROMPT ANSWER...: each ANSWER once OUT shows PROMPT once more
	local out=$1 n t
	shift
	local -A seen=()
	while [ $# -ge 2 ]; do
		seen[$1]=$((${seen[$1]:-0} + 1))
		t=0
		until n=$(grep -o -F -- "$1" "$out" 2>/dev/null | wc -l) && [ "$n" -ge "${seen[$1]}" ]; do
			t=$((t + 1))
			[ $t -lt 1500 ] || { echo "feed: no prompt '$1' (number ${seen[$1]})" >&2; return 1; }
			sleep 0.2
		done
		printf '%s\n' "$2"
		shift 2
	done
}
run_block() { # NAME PROMPT ANSWER...: runs block NAME, output in $WORK/NAME.out
	local name=$1 out=$WORK/$1.out fifo=$WORK/$1.fifo
	shift
	: >"$out"
	rm -f "$fifo" && mkfifo "$fifo" || fail "mkfifo"
	feed "$out" "$@" >"$fifo" &
	local feeder=$!
	(cd "$V" && "$HV_PTY" -t 240 -- bash -c 'exec bash -e "$1" <"$2"' block "$WORK/block-$name.sh" "$fifo") \
		>"$out" 2>&1
	local rc=$?
	wait $feeder || rc=1
	[ $rc = 0 ] || { cat "$out"; fail "RECOVERY.md block $name failed"; }
}
run_block 3-1 "Enter SO-PIN" "$SOPIN" "Enter initial User-PIN" "$PIN"
ok "section 3: card initialized by sc-hsm-tool"
run_block 4-1 "Enter password to decrypt DKEK share" "$SHARE1" \
	"Enter password to decrypt DKEK share" "$SHARE2"
printed=$(sed -n 's/.*DKEK key check value *: *\([0-9A-Fa-f]*\).*/\1/p' "$WORK/4-1.out" | tail -n1 | tr a-f A-F)
case $profile in
pico-hsm)
	[ "$printed" = 0000000000000000 ] ||
		{ cat "$WORK/4-1.out"; fail "pico-hsm: sc-hsm-tool printed KCV '$printed', RECOVERY.md says zeros"; } ;;
*)
	[ "$printed" = "$kcv" ] ||
		{ cat "$WORK/4-1.out"; fail "sc-hsm-tool printed KCV '$printed', RECOVERY.md says $kcv"; } ;;
esac
ok "section 4: shares imported; sc-hsm-tool shows '$printed' as the page says for $profile"
run_block 4-2 "Please enter PIN:" "$PIN"
grep -q "Code correct" "$WORK/4-2.out" || { cat "$WORK/4-2.out"; fail "the confirmation did not verify the PIN"; }
grep -q "$PIN" "$WORK/4-2.out" && fail "the PIN was echoed by the confirmation"
got=$(grep -A1 'Received (SW1=0x90, SW2=0x00)' "$WORK/4-2.out" | tail -n1 | tr -d '\r')
case $got in "$status "*) ;; *) false ;; esac || { cat "$WORK/4-2.out"; fail "DKEK status '$got', RECOVERY.md wants '$status'"; }
ok "section 4: the DKEK confirmed by hand in one session: $got"
run_block 5-1 "Enter User PIN" "$PIN" "Enter User PIN" "$PIN"
[ "$(grep -c "Key successfully imported" "$WORK/5-1.out")" = 2 ] ||
	{ cat "$WORK/5-1.out"; fail "section 5 did not import both keys"; }
ok "section 5: both keys unwrapped"

# 4. OpenSC signs with each restored key; the signature verifies under the
# public key read from the lost card
printf 'restored by hand on %s\n' "$profile" >"$WORK/data"
while read -r type label id mech; do
	rm -f "$WORK/sig"
	pkcs11-tool --login --pin "$PIN" --sign --id "$id" -m "$mech" --signature-format openssl \
		-i "$WORK/data" -o "$WORK/sig" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "OpenSC cannot sign with $label"; }
	openssl dgst -sha256 -verify "$WORK/$id.pub.pem" -signature "$WORK/sig" "$WORK/data" >/dev/null ||
		fail "the signature of restored $label does not verify under the original public key"
	# and a signature that could fail: another key's public key refuses it
done <<<"$keys"
openssl dgst -sha256 -verify "$WORK/0f01.pub.pem" -signature "$WORK/sig" "$WORK/data" >/dev/null 2>&1 &&
	fail "the RSA signature verified under the EC key: the check proves nothing"
ok "OpenSC signs with both restored keys; signatures verify under the lost card's public keys"
