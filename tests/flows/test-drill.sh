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

"$HV" drill --workdir "$W/d" --keep --sim "${HSMVAULT_SIM:?}" >"$W/drill.out" 2>&1 ||
	{ cat "$W/drill.out"; fail "the drill failed"; }
cat "$W/drill.out"
for s in "prepare an image-file stick" "start a private pcscd" "enroll:" "generate keys" \
	"backup:" "verify:" "disaster:" "restore:" "deep verify:" "reopen the stick" \
	"drill passed"; do
	grep -q "$s" "$W/drill.out" || fail "the drill printed no step '$s'"
done
grep -q "verified 2 cards and 4 keys, each proven by a signature" "$W/drill.out" ||
	fail "the deep verify did not prove 4 keys"
cryptsetup isLuks "$W/d/stick.img" || fail "the drill's stick is not LUKS2"
! grep -q "share-1\|so-pin" "$W/drill.out" || fail "a secret name leaked into the output"
ok "the drill ran every step and left a LUKS2 stick"

after=$(ls -la /run/pcscd 2>&1; grep pcscd /proc/mounts)
[ "$before" = "$after" ] || fail "the machine's /run/pcscd changed: before '$before' after '$after'"
! pgrep -f -- "--state $W/d/" >/dev/null || fail "a simulator outlived the drill: $(pgrep -af -- "--state $W/d/")"
ok "the machine's /run/pcscd is untouched; no simulator left running"

"$HV" drill --workdir "$W/d" >"$W/out" 2>&1
[ $? = 7 ] && grep -q "already holds a drill" "$W/out" || fail "a used workdir: $(cat "$W/out")"
ok "a work folder that holds a drill is refused"
