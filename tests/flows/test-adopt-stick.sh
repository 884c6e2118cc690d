#!/bin/bash
# hsmvault adopt on a stick image (userspace LUKS2 + ext4, as 'stick
# prepare' makes it) holding sc-hsm-tool's files: one password share and
# one n-of-m share (its password split 2-of-3, sc-hsm-tool's own file and
# parts). With a wrap file made under another DKEK the shares and the key
# do not belong together: exit 7, the image unchanged to the byte. Without
# it the stick is adopted with two of the three parts, the originals stay
# byte-identical, and the set restores onto a blank card and verifies with
# the shares. (A stick made by cryptsetup luksFormat + mkfs needs
# device-mapper: tests/qemu covers it.)
# Cost: 8 share decryptions (1-3 s each), one restore, one verify: 40-80 s.
. "$HV_FLOWS_LIB"
DATA=$(dirname "$HV_FLOWS_LIB")/../data/sc-hsm-tool
[ -x "${STICK_TESTTOOL:-}" ] || fail "STICK_TESTTOOL is not set (run through meson test)"
PASS=adopt-stick-passphrase
tt() { "$STICK_TESTTOOL" "$@"; }
# put IMAGE PATH FILE: FILE becomes PATH on the stick
put() { { printf '%s\n' "$PASS"; cat "$3"; } | tt write "$1" "$2" || fail "writing $2 into $1"; }
# stick IMAGE: a prepared stick (fast KDF: a test stick)
stick() {
	printf '%s\n' "$PASS" | "$HSMVAULT" stick prepare "$1" --size 48M \
		--insecure-fast-kdf-for-tests --passphrase-fd 3 3<&0 </dev/null >"$WORK/prep.out" 2>&1 ||
		{ cat "$WORK/prep.out"; fail "stick prepare $1"; }
}
# sums IMAGE PATH...: the sha256 of each file on the stick
sums() {
	local img=$1 p
	shift
	for p in "$@"; do
		printf '%s\n' "$PASS" | tt cat "$img" "$p" | sha256sum | cut -c1-64
	done
}
adopt() { # adopt IMAGE SECRETS-FILE [more options]
	local img=$1 sec=$2
	shift 2
	hv adopt --vault "$img" --policy "$WORK/p.yaml" --passphrase-fd 4 --secrets-fd 3 "$@" \
		3<"$sec" 4< <(printf '%s\n' "$PASS") >"$WORK/out" 2>&1
}
python3 - "$DATA/share-nm.shares.json" >"$WORK/parts" <<'PY' || fail "reading the n-of-m parts"
import json, sys
d = json.load(open(sys.argv[1]))
p = {s["id"]: s["value"] for s in d["shares"]}
# holders bob, carol, dave hold parts 1, 2, 3; bob and dave come
print("share-2-bob %s 1 %s" % (d["prime"], p[1]))
print("share-2-dave %s 3 %s" % (d["prime"], p[3]))
PY
{ echo "share-1 share1password"; cat "$WORK/parts"; } >"$WORK/secrets"
write_policy "$WORK/p.yaml" adopted-stick 1 alice bob,carol,dave:2
ORIG=("dkek-share-1.pbe" "from-the-safe/share-nm.pbe" "README.txt")
classic_stick() {
	stick "$1"
	put "$1" dkek-share-1.pbe "$DATA/dkek-share-1.pbe"
	put "$1" from-the-safe/share-nm.pbe "$DATA/share-nm.pbe"
	put "$1" README.txt <(echo "restore: sc-hsm-tool --import-dkek-share ...")
}

# 1. shares of one set, a key of another: 7, the image unchanged
classic_stick "$WORK/mixed.img"
put "$WORK/mixed.img" "keys/private_myfirst_keypair" "$DATA/wrapped.bin"
img0=$(sha256sum <"$WORK/mixed.img")
hv adopt --vault "$WORK/mixed.img" --policy "$WORK/p.yaml" --dry-run --passphrase-fd 4 \
	4< <(printf '%s\n' "$PASS") >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "dry run on a stick"; }
grep -qF "DKEK share file  from-the-safe/share-nm.pbe" "$WORK/out" &&
	grep -qF "wrap file        keys/private_myfirst_keypair: EC 256, label myfirst_keypair" "$WORK/out" &&
	grep -qF "unrecognized     README.txt" "$WORK/out" || { cat "$WORK/out"; fail "dry run listing"; }
adopt "$WORK/mixed.img" "$WORK/secrets"
rc=$?
[ $rc = 7 ] || { cat "$WORK/out"; fail "shares and key of different DKEKs: exit $rc, expected 7"; }
grep -q "keys/private_myfirst_keypair is wrapped under the DKEK with KCV DBFFED54BA9E1D5B, the shares give KCV" \
	"$WORK/out" || { cat "$WORK/out"; fail "the message does not name the key file and both KCVs"; }
[ "$(sha256sum <"$WORK/mixed.img")" = "$img0" ] || fail "the refused adopt (or the dry run) changed the image"
ok "dry run and a key under another DKEK (exit 7) leave the stick image unchanged to the byte"

# 2. the password share and the n-of-m share: adopted with two of three parts
classic_stick "$WORK/s.img"
before=$(sums "$WORK/s.img" "${ORIG[@]}")
adopt "$WORK/s.img" "$WORK/secrets" || { cat "$WORK/out"; fail "adopt of the stick"; }
grep -q "share 2 (its holders' parts): from-the-safe/share-nm.pbe" "$WORK/out" ||
	{ cat "$WORK/out"; fail "the n-of-m share was not matched to its file"; }
[ "$(sums "$WORK/s.img" "${ORIG[@]}")" = "$before" ] || fail "an original file on the stick changed"
[ "$(sums "$WORK/s.img" shares/dkek-share-2.pbe)" = "$(sha256sum <"$DATA/share-nm.pbe" | cut -c1-64)" ] ||
	fail "shares/dkek-share-2.pbe is not a copy of the n-of-m share file"
hv show --vault "$WORK/s.img" --json --passphrase-fd 4 4< <(printf '%s\n' "$PASS") \
	>"$WORK/show.json" 2>&1 || { cat "$WORK/show.json"; fail "show of the adopted stick"; }
python3 - "$WORK/show.json" <<'PY' || fail "the manifest does not record the n-of-m share"
import json, sys
d = json.load(open(sys.argv[1]))
m = d.get("manifest", d)
s = m["dkek"]["shares"][1]
assert s["scheme"] == "n-of-m" and s["threshold"] == 2, s
assert s["holders"] == ["bob", "carol", "dave"], s
assert m["keys"] == [], m["keys"]
PY
ok "stick adopted: password share + 2-of-3 share matched by content and parts; originals unchanged"

# 3. restore onto a blank card from the adopted stick; verify with the shares
insert_blank 0 HVADS01
hv restore --vault "$WORK/s.img" --passphrase-fd 4 --secrets-fd 3 \
	3< <(cat "$WORK/secrets"; printf 'so-pin %s\npin %s\n' "$SOPIN" "$PIN") \
	4< <(printf '%s\n' "$PASS") >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "restore from the adopted stick"; }
ws_kcv=()
[ "${HV_SIM_PROFILE:-}" = pico-hsm ] && ws_kcv=(--check-kcv)
hv verify --vault "$WORK/s.img" --with-shares "${ws_kcv[@]}" --passphrase-fd 4 --secrets-fd 3 \
	3< <(cat "$WORK/secrets"; [ ${#ws_kcv[@]} = 0 ] || echo "pin $PIN") \
	4< <(printf '%s\n' "$PASS") >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "verify --with-shares of the restored card"; }
[ "$(sums "$WORK/s.img" "${ORIG[@]}")" = "$before" ] || fail "an original changed after restore and verify"
ok "restore from the adopted stick onto a blank card; verify --with-shares passes"
