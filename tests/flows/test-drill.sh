#!/bin/bash
# README's first command: hsmvault drill runs the whole cycle on its own
# (its own pcscd in a private mount namespace, simulated cards, an image
# stick) and leaves the machine as it found it.
set -u
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
HV=${HSMVAULT:?}
[ "$(id -u)" = 0 ] || fail "the drill test runs as root (the drill needs a mount namespace)"
W=$(mktemp -d /tmp/hv-drill-test.XXXXXX)
trap 'rm -rf "$W"' EXIT
before=$(ls -la /run/pcscd 2>&1; grep pcscd /proc/mounts)

"$HV" drill --help | grep -q "usage: hsmvault drill" || fail "drill --help"
"$HV" drill --no-such-option >"$W/out" 2>&1
[ $? = 2 ] || fail "a bad option did not exit 2: $(cat "$W/out")"
grep -q "unknown or incomplete option --no-such-option" "$W/out" || fail "$(cat "$W/out")"
ok "drill --help, and a bad option exits 2"

"$HV" drill --profile no-such-family >"$W/out" 2>&1
[ $? = 2 ] && grep -q "not a card family" "$W/out" || fail "an unknown --profile: $(cat "$W/out")"
ok "an unknown --profile exits 2"

# The drill on each card family: HV_SIM_PROFILE when the suite runs per
# profile, else SmartCard-HSM and pico-hsm (which cannot prove it is genuine:
# the drill's policy accepts it, and says so).
profiles=${HV_SIM_PROFILE:-smartcard-hsm pico-hsm}
for prof in $profiles; do
	d=$W/d-$prof
	"$HV" drill --workdir "$d" --keep --sim "${HSMVAULT_SIM:?}" --profile "$prof" \
		>"$W/drill.out" 2>&1 || { cat "$W/drill.out"; fail "the drill failed ($prof)"; }
	cat "$W/drill.out"
	for s in "prepare an image-file stick" "start a private pcscd" "enroll:" "generate keys" \
		"backup:" "verify:" "disaster:" "restore:" "deep verify:" "reopen the stick" \
		"drill passed" "simulated $prof cards" "trusting the simulator's test root"; do
		grep -q "$s" "$W/drill.out" || fail "the drill printed no '$s' ($prof)"
	done
	[ -s "$d/trust/hsmvault-sim-root.cvc" ] && cmp -s "$d/trust/hsmvault-sim-root.cvc" \
		<("$HSMVAULT_SIM" --print-root) || fail "the drill did not trust the simulator's root"
	case $prof in
	pico-hsm)
		grep -q "in reader .*: not attested: no device certificate until first" \
			"$W/drill.out" && grep -q ": not attested: self-signed device certificate" \
			"$W/drill.out" || fail "the pico-hsm cards were not shown as not attested"
		grep -q "verify: both cards against the vault (with the PIN" "$W/drill.out" ||
			fail "the pico-hsm drill did not check the KCV with the PIN" ;;
	*)
		grep -q "DRILLA01 in reader .*: genuine (DRILLA0100000 <- .* <- UTHVSIMROOT001)" \
			"$W/drill.out" || fail "the $prof cards were not shown as genuine" ;;
	esac
	grep -q "verified 2 cards and 4 keys, each proven by a signature" "$W/drill.out" ||
		fail "the deep verify did not prove 4 keys ($prof)"
	cryptsetup isLuks "$d/stick.img" || fail "the drill's stick is not LUKS2 ($prof)"
	# --keep leaves the random passphrase beside the image it keeps
	[ "$(stat -c %a "$d/stick.passphrase")" = 600 ] ||
		fail "the kept stick's passphrase file is missing or not 0600 ($prof)"
	grep -q "stick passphrase (test data) kept in $d/stick.passphrase" "$W/drill.out" ||
		fail "the drill did not say where the kept stick's passphrase is ($prof)"
	"$HV" log --vault "$d/stick.img" --passphrase-fd 3 3<"$d/stick.passphrase" >"$W/log" 2>&1 ||
		{ cat "$W/log"; fail "the kept stick does not open with the kept passphrase ($prof)"; }
	! grep -q "share-1\|so-pin" "$W/drill.out" || fail "a secret name leaked into the output"
	ok "the drill on $prof cards ran every step, trusting only its own test root explicitly"
done

after=$(ls -la /run/pcscd 2>&1; grep pcscd /proc/mounts)
[ "$before" = "$after" ] || fail "the machine's /run/pcscd changed: before '$before' after '$after'"
! pgrep -f -- "--state $W/d-" >/dev/null || fail "a simulator outlived the drill: $(pgrep -af -- "--state $W/d-")"
ok "the machine's /run/pcscd is untouched; no simulator left running"

"$HV" drill --workdir "$d" >"$W/out" 2>&1
[ $? = 7 ] && grep -q "already holds a drill" "$W/out" || fail "a used workdir: $(cat "$W/out")"
ok "a work folder that holds a drill is refused"
