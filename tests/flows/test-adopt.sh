#!/bin/bash
# hsmvault adopt on a folder made the classic way, with the real
# sc-hsm-tool files (tests/data/sc-hsm-tool): two password shares, a wrap
# file under a name its owner chose in a subfolder, and files that are none
# of these. Every original stays byte-identical through a dry run, a wrong
# password (exit 3), a layout path taken by a foreign file (exit 7),
# Ctrl-C and kill -9 during the key derivation, the adoption itself and its
# rerun; an adoption stopped after its copies or after its manifest
# version is finished by running adopt again. Then the adopted vault
# restores onto two blank cards and verifies with its shares; the cards
# in the readers are compared with the shares' KCV; and at a terminal each
# holder is asked by name, a wrong password asked again.
# Cost: about 22 share decryptions of sc-hsm-tool's 10,000,000-round KDF
# (1-3 s each) plus one restore and one deep verify: 80-160 s.
. "$HV_FLOWS_LIB"
DATA=$(dirname "$HV_FLOWS_LIB")/../data/sc-hsm-tool
[ -f "$DATA/wrapped.bin" ] || fail "fixture $DATA/wrapped.bin is missing"
PW1=share1password
PW2=share2password
KCV=DBFFED54BA9E1D5B
KEYID=983b725d0c2b612baf11dd142dee092071cafbe5

# classic FOLDER: the files as a person following the walk-through keeps them
classic() {
	mkdir -p "$1/backup 2026" "$1/docs"
	cp "$DATA/dkek-share-1.pbe" "$DATA/dkek-share-2.pbe" "$1/"
	cp "$DATA/wrapped.bin" "$1/backup 2026/private_myfirst_keypair"
	echo "card set of the CA, made 2026-01-05" >"$1/notes.txt"
	printf 'Salted__%s' "not a share: 32 bytes of text" >"$1/docs/almost-a-share"
}
# tree FOLDER: every path (folders too) with its hash: any change shows
tree() { (cd "$1" && find . -mindepth 1 | sort | while read -r f; do
	if [ -f "$f" ]; then echo "$(sha256sum <"$f" | cut -c1-64) $f"; else echo "dir $f"; fi
done); }
# originals FOLDER: the tree without what hsmvault writes (layout paths)
originals() { tree "$1" | grep -v -E ' \./(shares|keys|manifest|journal|policy\.yaml|RECOVERY\.md|HSMVAULT)($|/)'; }
secrets() { printf 'share-1 %s\nshare-2 %s\n' "${1:-$PW1}" "${2:-$PW2}"; }

V=$WORK/classic
classic "$V"
before=$(tree "$V")
write_policy "$WORK/p.yaml" adopted 2 alice bob

# 1. the dry run lists by content and writes nothing
hv adopt --vault "$V" --policy "$WORK/p.yaml" --dry-run >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "dry run"; }
for want in "DKEK share file  dkek-share-1.pbe" "DKEK share file  dkek-share-2.pbe" \
	"wrap file        backup 2026/private_myfirst_keypair: EC 256, label myfirst_keypair, id $KEYID, DKEK KCV $KCV" \
	"unrecognized     notes.txt" "unrecognized     docs/almost-a-share" \
	"keys/$KCV/$KEYID.wrap  a copy of backup 2026/private_myfirst_keypair" \
	"shares/dkek-share-2.pbe  a copy of the share file bob's password opens" \
	"nothing was written and no secret was asked"; do
	grep -qF -- "$want" "$WORK/out" || { cat "$WORK/out"; fail "dry run does not say: $want"; }
done
[ "$(tree "$V")" = "$before" ] || fail "the dry run changed the folder"
ok "dry run: share files, the wrap file (label, id, KCV) and unrecognized files listed; nothing written"

# 2. a wrong password: exit 3 naming share and holder, nothing written
hv adopt --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets "$PW1" wrong-password) \
	>"$WORK/out" 2>&1
rc=$?
[ $rc = 3 ] || { cat "$WORK/out"; fail "wrong password: exit $rc, expected 3"; }
grep -q "the password of DKEK share 2 (bob) opens none of the share files" "$WORK/out" ||
	{ cat "$WORK/out"; fail "the message does not name share 2 and bob"; }
[ "$(tree "$V")" = "$before" ] || fail "a wrong password changed the folder"
ok "wrong password of share 2 -> 3, nothing written"

# 3. a layout path taken by another file: exit 7 before any secret
echo "my own policy notes" >"$V/policy.yaml"
before7=$(tree "$V")
hv adopt --vault "$V" --policy "$WORK/p.yaml" --batch >"$WORK/out" 2>&1
rc=$?
[ $rc = 7 ] || { cat "$WORK/out"; fail "foreign policy.yaml: exit $rc, expected 7"; }
grep -q "policy.yaml is taken by a file or folder adopt did not write" "$WORK/out" ||
	{ cat "$WORK/out"; fail "the message does not name policy.yaml"; }
[ "$(tree "$V")" = "$before7" ] || fail "adopt changed the folder although it refused"
rm "$V/policy.yaml"
ok "a foreign file at a layout path -> 7, nothing overwritten"

# 4. Ctrl-C and kill -9 while the passwords are tried: nothing written
for sig in INT KILL; do
	# (hsmvault itself, not the hv function: the signal must reach it)
	"$HSMVAULT" adopt --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) \
		>"$WORK/out" 2>&1 &
	pid=$!
	# the two share decryptions take 2 s or more: 1 s in, adopt is in the first
	sleep 1
	kill -0 $pid 2>/dev/null || { cat "$WORK/out"; fail "adopt ended within 1 s: no point to stop it at"; }
	kill -s $sig $pid
	wait $pid
	rc=$?
	if [ $sig = INT ]; then
		[ $rc = 8 ] || { cat "$WORK/out"; fail "Ctrl-C: exit $rc, expected 8"; }
		grep -q "nothing was written" "$WORK/out" || { cat "$WORK/out"; fail "Ctrl-C message"; }
	else
		[ $rc = 137 ] || { cat "$WORK/out"; fail "kill -9: exit $rc, expected 137"; }
	fi
	[ "$(tree "$V")" = "$before" ] || fail "SIG$sig during the key derivation left files"
done
ok "Ctrl-C (exit 8) and kill -9 while passwords are tried leave the folder as it was"

# 5. the adoption: originals byte-identical, the vault loads, rerun is a no-op
hv adopt --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "adopt"; }
grep -q "adopted: 2 shares and 1 key recorded in manifest version 1 (DKEK KCV $KCV)" "$WORK/out" ||
	{ cat "$WORK/out"; fail "adopt's summary"; }
[ "$(originals "$V")" = "$before" ] || { diff <(echo "$before") <(originals "$V"); fail "an original changed"; }
cmp "$V/shares/dkek-share-2.pbe" "$DATA/dkek-share-2.pbe" || fail "shares/dkek-share-2.pbe is not share 2"
cmp "$V/keys/$KCV/$KEYID.wrap" "$DATA/wrapped.bin" || fail "the wrap file's copy differs"
hv show --vault "$V" --json >"$WORK/show.json" 2>&1 || { cat "$WORK/show.json"; fail "show"; }
python3 - "$WORK/show.json" <<PY || fail "the manifest does not record the adopted set"
import json, sys
d = json.load(open(sys.argv[1]))
m = d.get("manifest", d)
assert m["dkek"]["kcv"] == "$KCV", m["dkek"]
sh = m["dkek"]["shares"]
assert [s["holders"] for s in sh] == [["alice"], ["bob"]], sh
assert all(s["check"] for s in sh), sh
k = m["keys"][0]
assert (k["id"], k["label"], k["algorithm"]) == ("$KEYID", "myfirst_keypair", "EC P-256"), k
assert k["public_key"].startswith("3059"), k
PY
after=$(tree "$V")
hv adopt --vault "$V" --policy "$WORK/p.yaml" --batch >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "adopt of an adopted vault"; }
grep -q "was adopted already" "$WORK/out" || { cat "$WORK/out"; fail "rerun message"; }
[ "$(tree "$V")" = "$after" ] || fail "adopting again changed the vault"
ok "adopted: originals unchanged, copies at layout paths, key recorded (EC P-256, label, id, public key); rerun changes nothing"

# 6. stopped after the manifest version (no marker yet): rerun finishes
# without any secret; stopped after the copies (no manifest): rerun adopts
cp -a "$V" "$WORK/half1"
rm "$WORK/half1/HSMVAULT" "$WORK/half1/RECOVERY.md"
hv adopt --vault "$WORK/half1" --policy "$WORK/p.yaml" --batch >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "finishing an adoption stopped before its marker"; }
grep -q "finished the interrupted adoption" "$WORK/out" || { cat "$WORK/out"; fail "finish message"; }
[ "$(tree "$WORK/half1")" = "$after" ] || fail "the finished vault differs from an uninterrupted one"
cp -a "$V" "$WORK/half2"
rm -r "$WORK/half2/HSMVAULT" "$WORK/half2/RECOVERY.md" "$WORK/half2/manifest"
hv adopt --vault "$WORK/half2" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "adopting over the copies of a stopped run"; }
[ "$(originals "$WORK/half2")" = "$before" ] || fail "an original changed in the rerun"
hv log --vault "$WORK/half2" >/dev/null 2>&1 || fail "the rerun's vault does not load"
ok "an adoption stopped before its marker or before its manifest is completed by a rerun"

# 7. restore onto two blank cards, then verify with the shares (deep)
insert_blank 0 HVADA01
insert_blank 1 HVADB01
hv restore --vault "$V" --secrets-fd 3 3< <(secrets; printf 'so-pin %s\npin %s\n' "$SOPIN" "$PIN") \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "restore of the adopted vault"; }
grep -q "$KCV" "$WORK/out" || { cat "$WORK/out"; fail "restore does not name the KCV"; }
hv verify --vault "$V" --with-shares --deep --secrets-fd 3 \
	3< <(secrets; echo "pin $PIN") >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "verify --with-shares --deep of the restored set"; }
grep -q "verified 2 cards and 2 keys, each proven by a signature" "$WORK/out" ||
	{ cat "$WORK/out"; fail "deep verify did not prove the adopted key on both cards"; }
[ "$(originals "$V")" = "$before" ] || fail "an original changed after restore and verify"
ok "restore from the adopted vault onto blank cards; verify --with-shares --deep passes"

# 8. the cards in the readers are compared with the shares' KCV: the
# restored set's cards agree; shares of another set are refused (exit 1)
classic "$WORK/again"
hv adopt --vault "$WORK/again" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "adopt with the set's cards present"; }
grep -q "card HVADA01 in reader .* carries DKEK KCV $KCV: a card of this set" "$WORK/out" ||
	{ cat "$WORK/out"; fail "the card present was not compared"; }
mkdir -p "$WORK/other"
cp "$DATA/dkek-share-1.pbe" "$DATA/share-nm.pbe" "$WORK/other/"
before_other=$(tree "$WORK/other")
write_policy "$WORK/p2.yaml" other 2 alice bob,carol,dave:2
python3 - "$DATA/share-nm.shares.json" >"$WORK/other.secrets" <<'PY' || fail "parts"
import json, sys
d = json.load(open(sys.argv[1]))
print("share-1 share1password")
for holder, s in (("bob", d["shares"][0]), ("carol", d["shares"][1])):
    print("share-2-%s %s %d %s" % (holder, d["prime"], s["id"], s["value"]))
PY
hv adopt --vault "$WORK/other" --policy "$WORK/p2.yaml" --secrets-fd 3 3<"$WORK/other.secrets" \
	>"$WORK/out" 2>&1
rc=$?
[ $rc = 1 ] || { cat "$WORK/out"; fail "shares of another set with this set's cards present: exit $rc, expected 1"; }
grep -q "carries the DKEK with KCV $KCV, the shares give" "$WORK/out" ||
	{ cat "$WORK/out"; fail "the message does not name the card's KCV"; }
[ "$(tree "$WORK/other")" = "$before_other" ] || fail "a refused adopt wrote files"
ok "cards present are compared with the shares' KCV: the set's own pass, another set's shares -> 1"

# 9. at a terminal (hv-pty types): each holder asked by name, nothing
# echoed, a wrong password asked again
PTY=${HV_PTY:?HV_PTY must name hv-pty (set by meson test)}
classic "$WORK/tty"
"$PTY" -t 120 \
	-e "Password of DKEK share 1 (alice): " -s 'not-alices-password\n' \
	-e "opens none of the share files; try again" \
	-e "Password of DKEK share 1 (alice): " -s "$PW1\\n" \
	-e "Password of DKEK share 2 (bob): " -s "$PW2\\n" \
	-- "$HSMVAULT" adopt --vault "$WORK/tty" --policy "$WORK/p.yaml" --reader "$(reader_name 0)" \
	>"$WORK/t9" 2>&1 || { cat -A "$WORK/t9"; fail "adopt at the terminal"; }
tr -d '\r' <"$WORK/t9" >"$WORK/t9.txt"
grep -q "adopted: 2 shares and 1 key" "$WORK/t9.txt" || { cat "$WORK/t9.txt"; fail "adopt at the terminal did not finish"; }
! grep -q -e "$PW1" -e "not-alices-password" "$WORK/t9.txt" || fail "a typed password was echoed"
ok "at the terminal: holders asked by name, a wrong password asked again, nothing echoed"
