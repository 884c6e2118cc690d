#!/bin/bash
# hsmvault reshare: a share changes hands (password to password, then to a
# 2-of-3 split) without changing the DKEK; the cards are not needed and the
# old password stops working for the current version.
. "$HV_FLOWS_LIB"
V=$WORK/vault
write_policy "$WORK/p.yaml" reshare 1 alice
insert_blank 0 HVRSA01
hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 \
	3< <(printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN") >/dev/null 2>&1 ||
	fail "enroll"
kcv() { hv show --vault "$V" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"]["dkek"]["kcv"])'; }
k0=$(kcv)
# refusals first: nothing written
n=$(ls "$V/manifest" | wc -l)
hv reshare --vault "$V" --share 2 --holder erin --secrets-fd 3 3< <(echo "share-1 x") >"$WORK/out" 2>&1
[ $? = 2 ] && grep -q "no share 2" "$WORK/out" || fail "unknown share: $(cat "$WORK/out")"
hv reshare --vault "$V" --share 1 --holder erin --secrets-fd 3 \
	3< <(printf 'share-1 wrong-password\nnew-share-1 erin-password\n') >"$WORK/out" 2>&1
[ $? = 3 ] || { cat "$WORK/out"; fail "a wrong old password was not refused with exit 3"; }
[ "$(ls "$V/manifest" | wc -l)" = "$n" ] || fail "a refused reshare wrote a version"
ok "reshare refuses an unknown share and a wrong password, writing nothing"

# Ctrl-C at the terminal while the new holder chooses a password: exit 8,
# no manifest version, no new share file
[ -n "${HV_PTY:-}" ] && [ -x "$HV_PTY" ] || fail "HV_PTY must name hv-pty (run through meson test)"
files=$(ls "$V/shares")
"$HV_PTY" -t 90 -e "Password of DKEK share 1 (alice): " -s "$SHARE1\\n" \
	-e "New password of DKEK share 1 (erin): " -s '\003' -- \
	"$HSMVAULT" reshare --vault "$V" --share 1 --holder erin >"$WORK/tty.out" 2>&1
rc=$?
[ $rc = 8 ] || { cat -A "$WORK/tty.out"; fail "Ctrl-C during reshare: exit $rc, expected 8"; }
grep -q "interrupted: nothing was changed" "$WORK/tty.out" || fail "$(cat -A "$WORK/tty.out")"
[ "$(ls "$V/manifest" | wc -l)" = "$n" ] || fail "an interrupted reshare wrote a version"
[ "$(ls "$V/shares")" = "$files" ] || fail "an interrupted reshare wrote a share file"
ok "Ctrl-C during reshare: exit 8, vault unchanged"

hv reshare --vault "$V" --share 1 --holder erin --json --secrets-fd 3 \
	3< <(printf 'share-1 %s\nnew-share-1 erin-password\n' "$SHARE1") >"$WORK/out" 2>"$WORK/err" ||
	{ cat "$WORK/out" "$WORK/err"; fail "reshare to erin"; }
python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))
assert d["ok"] is True and d["share"]==1 and d["version"]==3, d' "$WORK/out" ||
	fail "reshare --json: $(cat "$WORK/out")"
[ "$(kcv)" = "$k0" ] || fail "the KCV changed"
hv show --vault "$V" --json | python3 -c '
import json,sys; s=json.load(sys.stdin)["manifest"]["dkek"]["shares"][0]
assert s["holders"]==["erin"] and s["scheme"]=="password" and s["file"].endswith("-r3.pbe"), s' ||
	fail "the manifest does not name erin's new file"
# pico-hsm shows its KCV only after the user PIN: verify checks it with
# --check-kcv and the PIN (else it exits 11, "not checked")
if [ "${HV_SIM_PROFILE:-}" = pico-hsm ]; then
	with_pin() { cat; echo "pin $PIN"; }
	CHECK_KCV=--check-kcv
else
	with_pin() { cat; }
	CHECK_KCV=
fi
hv verify --vault "$V" --with-shares --no-record $CHECK_KCV --secrets-fd 3 \
	3< <(echo "share-1 erin-password" | with_pin) \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "erin's password does not unlock the share"; }
hv verify --vault "$V" --with-shares --no-record $CHECK_KCV --secrets-fd 3 \
	3< <(echo "share-1 $SHARE1" | with_pin) \
	>"$WORK/out" 2>&1
[ $? = 3 ] || fail "alice's old password still unlocks the current share file"
ok "share 1 handed from alice to erin; KCV $k0 unchanged; only erin's password works"

hv reshare --vault "$V" --share 1 --holder fred --holder gina --holder hank --threshold 2 \
	--secrets-fd 3 --reveal-fd 4 3< <(echo "share-1 erin-password") 4>"$WORK/parts" \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "reshare to a split"; }
[ "$(kcv)" = "$k0" ] || fail "the KCV changed"
grep -e '^share-1-fred ' -e '^share-1-hank ' "$WORK/parts" | sed 's/^/x/;s/^x//' >"$WORK/two"
[ "$(wc -l <"$WORK/two")" = 2 ] || fail "parts: $(cat "$WORK/parts")"
hv verify --vault "$V" --with-shares --no-record $CHECK_KCV --secrets-fd 3 \
	3< <(with_pin <"$WORK/two") >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "two parts of the new split do not unlock the share"; }
hv log --vault "$V" >/dev/null || fail "the chain does not check after reshares"
ok "share 1 split 2-of-3 among fred, gina, hank; two parts unlock it; chain intact"
