#!/usr/bin/env bash
# Issue 9: the well-known walk-through's backup stick becomes a vault by one
# command, and restore rebuilds the card set from it.
#
# Host (private pcscd, tests/harness): a simulated card is initialized for
# two DKEK shares with sc-hsm-tool, both share files are made and imported
# by sc-hsm-tool, pkcs11-tool generates an EC P-256 and an RSA 2048 key and
# sc-hsm-tool --wrap-key writes them to files named as a user would
# (private_myfirst_keypair, private_mysecond_keypair). Their public keys
# and the card's KCV are kept for the end.
#
# VM (Debian's kernel, dm-crypt; one boot):
#  1. the stick exactly as the walk-through makes it: filled from
#     /dev/urandom, cryptsetup luksFormat --cipher serpent-cbc-essiv:sha256
#     --key-size 256, luksOpen, mkfs.ext4, mount, the files copied in with
#     an unrelated one, umount, luksClose;
#  2. `hsmvault adopt` turns it into a vault; hsmvault's userspace backend
#     has no serpent, so this goes through dm-crypt (the kernel backend);
#  3. pcscd with the vpcd driver and two blank hsmvault-sim cards run in the
#     VM, and `hsmvault restore` from the serpent stick rebuilds the set;
#  4. plain cryptsetup + mount once more: every original file is still
#     there, byte-identical (sha256), so the manual procedure still works;
#  5. the open/check/close steps of the RECOVERY.md that adopt wrote run as
#     written (tests/qemu/recovery-steps.sh picks them out).
# Host again: the restored cards (their simulator state, carried out of the
# VM) show the original KCV and the original public keys, and each signs
# with pkcs11-tool a message that verifies under the original public key.
#
# Secrets here are test data; they reach hsmvault on file descriptors.
# Cost: ~1 min of sc-hsm-tool share derivations on the host, then one VM
# boot of a few minutes under TCG (adopt and restore each derive both
# shares' keys, 10,000,000 MD5 rounds apiece, emulated).
. "$HV_HARNESS_DIR/pcsc-env.sh"
source "$(dirname "$0")/vmlib.sh"

hv_require_tool sc-hsm-tool opensc
hv_require_tool pkcs11-tool opensc
hv_require_tool openssl openssl
hv_require_tool python3 python3
command -v cryptsetup >/dev/null || fail "cryptsetup not found: apt-get install cryptsetup-bin"

PIN=648219
SOPIN=3537363231383830
SHARE1=walk-through-share-one
SHARE2=walk-through-share-two
LUKSPASS="walk-through stick passphrase"
KEYS="myfirst_keypair mysecond_keypair"

run() {
	echo "+ $*" >&2
	"$@"
}

# ---- host: sc-hsm-tool makes the files a walk-through user keeps ----
in=$scratch/in
mkdir -p "$in/stick" "$in/trust"
R0=$(reader_name 0)
sim_insert 0 "$scratch/original.state" --blank --serial HVWALK01
run sc-hsm-tool --reader "$R0" --initialize --so-pin "$SOPIN" --pin "$PIN" \
	--dkek-shares 2 --label walkthrough || fail "sc-hsm-tool --initialize"
run sc-hsm-tool --create-dkek-share "$in/stick/dkek-share-1.pbe" --password "$SHARE1" ||
	fail "sc-hsm-tool --create-dkek-share 1"
run sc-hsm-tool --create-dkek-share "$in/stick/dkek-share-2.pbe" --password "$SHARE2" ||
	fail "sc-hsm-tool --create-dkek-share 2"
run sc-hsm-tool --reader "$R0" --import-dkek-share "$in/stick/dkek-share-1.pbe" --password "$SHARE1" ||
	fail "sc-hsm-tool --import-dkek-share 1"
run sc-hsm-tool --reader "$R0" --import-dkek-share "$in/stick/dkek-share-2.pbe" --password "$SHARE2" ||
	fail "sc-hsm-tool --import-dkek-share 2"
kcv=$(run sc-hsm-tool --reader "$R0" | sed -n 's/^DKEK key check value *: *//p')
[[ $kcv =~ ^[0-9A-F]{16}$ ]] && [ "$kcv" != 0000000000000000 ] ||
	fail "the original card shows no DKEK key check value after both shares: '$kcv'"
note "original card: DKEK of two shares, KCV $kcv"

for key in $KEYS; do
	case $key in
	myfirst_keypair) keytype=EC:prime256v1 id=01 ;;
	mysecond_keypair) keytype=rsa:2048 id=02 ;;
	esac
	run pkcs11-tool --token-label walkthrough --login --pin "$PIN" --keypairgen \
		--key-type "$keytype" --label "$key" --id "$id" || fail "pkcs11-tool --keypairgen $key"
	run pkcs11-tool --token-label walkthrough --read-object --type pubkey --id "$id" \
		-o "$scratch/$key.pub.der" || fail "reading the public key of $key"
	openssl pkey -pubin -inform DER -in "$scratch/$key.pub.der" -out "$scratch/$key.pub.pem" ||
		fail "the public key of $key is not a SubjectPublicKeyInfo"
	ref=$("$HSMVAULT" card status --reader "$R0" --json | python3 -c '
import json, sys
keys = json.load(sys.stdin)["readers"][0]["card"]["keys"]
print([k["ref"] for k in keys if k["label"] == sys.argv[1]][0])' "$key") ||
		fail "hsmvault card status does not list $key on the original card"
	run sc-hsm-tool --reader "$R0" --wrap-key "$in/stick/private_$key" --key-reference "$ref" \
		--pin "$PIN" || fail "sc-hsm-tool --wrap-key $key"
done
sim_pull 0
printf 'Backup of the SmartCard-HSM, made by following the walk-through.\n' > "$in/stick/notes.txt"
(cd "$in/stick" && sha256sum -- *) | sort -k 2 > "$scratch/originals.sha256"
[ "$(wc -l < "$scratch/originals.sha256")" = 5 ] || fail "expected five files for the stick"

# The simulator's cards chain to its own test root: restore trusts it by
# --trust-dir, as an operator names a root.
"$HSMVAULT_SIM" --print-root > "$in/trust/hsmvault-sim-root.cvc" && [ -s "$in/trust/hsmvault-sim-root.cvc" ] ||
	fail "hsmvault-sim --print-root wrote no test root"
cat > "$in/policy.yaml" <<EOF
format: hsmvault-policy/1
name: walkthrough
cards:
  count: 2
dkek:
  shares:
    - holder: alice
    - holder: bob
pin:
  retry_counter: 3
  so_pin: holders
verify:
  max_age_days: 90
EOF
printf 'share-1 %s\nshare-2 %s\n' "$SHARE1" "$SHARE2" > "$in/adopt.secrets"
printf 'share-1 %s\nshare-2 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SHARE2" "$SOPIN" "$PIN" \
	> "$in/restore.secrets"
printf '%s\n' "$LUKSPASS" > "$in/pass"
chmod 600 "$in"/*.secrets "$in/pass"
cp "$qemu_dir/recovery-steps.sh" "$in/"

# Disks: vda the stick, vdb the files (a tar), vdc the VM's results (a tar).
stick=$scratch/stick.img
truncate -s 64M "$stick"
tar -cf "$scratch/in.tar" -C "$in" .
truncate -s %4096 "$scratch/in.tar"
outdisk=$scratch/out.img
truncate -s 16M "$outdisk"

# ---- the VM ----
cat > "$scratch/vm.sh" <<'EOF'
mkdir -p /tmp/in /tmp/out
tar -xf /dev/vdb -C /tmp/in
sums() { (cd "$1" && for f in dkek-share-1.pbe dkek-share-2.pbe private_myfirst_keypair \
	private_mysecond_keypair notes.txt; do sha256sum "$f"; done) | sed "s/^/HVTEST $2 /"; }
# Seconds since boot at each step, for the cost of each.
stage() { echo "HVTEST STAGE $1 $(cut -d' ' -f1 /proc/uptime)"; }

echo "== 1. the walk-through's stick"
stage made
# The walk-through's commands; --batch-mode only skips luksFormat's
# "type YES" question, and the passphrase comes on stdin.
dd if=/dev/urandom of=/dev/vda bs=1M count=64 2>/dev/null
cryptsetup luksFormat --batch-mode --cipher serpent-cbc-essiv:sha256 --key-size 256 /dev/vda < /tmp/in/pass
cryptsetup luksOpen /dev/vda backup < /tmp/in/pass
dmsetup table backup | sed 's/^/HVTEST TABLE /'
mkfs.ext4 -q /dev/mapper/backup
mkdir -p /mnt/backup
mount /dev/mapper/backup /mnt/backup
cp /tmp/in/stick/* /mnt/backup/
sums /mnt/backup BEFORE
umount /mnt/backup
cryptsetup luksClose backup
echo "HVTEST MADE"

echo "== 2. one hsmvault command adopts it"
stage adopt
hsmvault adopt --vault /dev/vda --policy /tmp/in/policy.yaml \
	--secrets-fd 3 --passphrase-fd 4 3< /tmp/in/adopt.secrets 4< /tmp/in/pass \
	> /tmp/out/adopt.txt 2>&1 || { cat /tmp/out/adopt.txt; echo "HVTEST ADOPT-FAILED"; exit 1; }
cat /tmp/out/adopt.txt
echo "HVTEST ADOPTED"

echo "== 3. restore onto two blank cards in this VM"
stage restore
ip link set lo up
mkdir -p /run/pcscd /run/reader.conf.d
cat > /run/reader.conf.d/vpcd <<CONF
FRIENDLYNAME "HV Sim 0"
DEVICENAME   /dev/null:0x8C7B
LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so
CHANNELID    0x8C7B
CONF
pcscd -f -c /run/reader.conf.d > /tmp/out/pcscd.log 2>&1 &
hv-pcsc-probe wait-readers 2 30000
hsmvault-sim --port 35963 --state /tmp/out/card-0.state --blank --serial HVRST01 > /tmp/out/sim-0.log 2>&1 &
sim0=$!
hsmvault-sim --port 35964 --state /tmp/out/card-1.state --blank --serial HVRST02 > /tmp/out/sim-1.log 2>&1 &
sim1=$!
hv-pcsc-probe wait-card "HV Sim 0 00 00" present 30000
hv-pcsc-probe wait-card "HV Sim 0 00 01" present 30000
hsmvault restore --vault /dev/vda --trust-dir /tmp/in/trust \
	--secrets-fd 3 --passphrase-fd 4 3< /tmp/in/restore.secrets 4< /tmp/in/pass \
	> /tmp/out/restore.txt 2>&1 || { cat /tmp/out/restore.txt; echo "HVTEST RESTORE-FAILED"; exit 1; }
cat /tmp/out/restore.txt
echo "HVTEST RESTORED"
hsmvault card status --trust-dir /tmp/in/trust --json > /tmp/out/cards.json
kill $sim0 $sim1
wait $sim0 $sim1 || true

echo "== 4. plain cryptsetup + mount, as by hand"
stage by-hand
cryptsetup open --readonly /dev/vda backup < /tmp/in/pass
mount -o ro /dev/mapper/backup /mnt/backup
sums /mnt/backup AFTER
(cd /mnt/backup && find . -type f | sort) > /tmp/out/files.txt
cp /mnt/backup/RECOVERY.md /tmp/out/
umount /mnt/backup
cryptsetup close backup

echo "== 5. RECOVERY.md's open/check/close steps, as written"
stage recovery
sh /tmp/in/recovery-steps.sh /dev/vda < /tmp/out/RECOVERY.md > /tmp/out/recovery.sh
sh -ex /tmp/out/recovery.sh < /tmp/in/pass > /tmp/out/recovery.txt 2>&1 ||
	{ cat /tmp/out/recovery.txt; echo "HVTEST RECOVERY-FAILED"; exit 1; }
cat /tmp/out/recovery.txt
echo "HVTEST RECOVERY-DONE"

stage end
tar -cf /dev/vdc -C /tmp/out .
sync
echo "HVTEST ALL-DONE"
EOF

log=$scratch/console.log
vm_mem_mb=1024
vm_timeout_s=780
run_vm "$scratch/vm.sh" "$log" "$stick" "$scratch/in.tar" "$outdisk"
grep -q '^HVTEST ALL-DONE' "$log" || fail "the VM script did not reach its end"
note "seconds in the VM: $(sed -n 's/^HVTEST STAGE //p' "$log" | tr -d '\r' |
	awk 'NR > 1 { printf "%s %.1f  ", name, $2 - t } { name = $1; t = $2 }')"

# ---- host: what the VM did ----
vm_list() { sed -n "s/^HVTEST $2 //p" "$1" | tr -d '\r' | sort -k 2; }
table=$(vm_value "$log" TABLE)
[[ $table == *" crypt serpent-cbc-essiv:sha256 "* ]] ||
	fail "the stick is not serpent-cbc-essiv:sha256 under dm-crypt: '$table'"
# The key field: 64 hex digits, or ":32:logon:NAME" (32 bytes in the keyring).
key_field=$(awk '{ print $5 }' <<<"$table")
[ "${#key_field}" = 64 ] || [[ $key_field == :32:* ]] ||
	fail "the stick's key is not 256 bits: dm table '$table'"
note "1. stick made by the walk-through's commands: dm table $(cut -d' ' -f3,4 <<<"$table") ..."

vm_list "$log" BEFORE > "$scratch/before.sha256"
diff -u "$scratch/originals.sha256" "$scratch/before.sha256" >&2 ||
	fail "the files copied onto the stick differ from the host's"

mkdir -p "$scratch/out"
tar -xf "$outdisk" -C "$scratch/out" || fail "no results on the VM's output disk"
cat "$scratch/out/adopt.txt"
grep -qi "unrecognized" "$scratch/out/adopt.txt" && grep -q "notes.txt" "$scratch/out/adopt.txt" ||
	fail "adopt did not list notes.txt as unrecognized"
for step in adopt restore; do
	grep -q "serpent-cbc-essiv:sha256.*kernel backend (dm-crypt)" "$scratch/out/$step.txt" ||
		fail "$step did not say it opened the serpent stick with the kernel backend"
done
note "2. adopted by one command, through dm-crypt (the kernel backend, chosen by itself)"

grep -q "$kcv" "$scratch/out/restore.txt" ||
	fail "restore does not name the original KCV $kcv"
python3 - "$scratch/out/cards.json" "$kcv" <<'PY' || fail "the restored cards do not show the original KCV (cards.json above)"
import json, sys
readers = json.load(open(sys.argv[1]))["readers"]
cards = [r["card"] for r in readers if r.get("card")]
kcvs = [c["dkek"]["kcv"] for c in cards]
print("restored cards' KCVs:", kcvs)
assert len(cards) == 2, cards
assert all(k == sys.argv[2] for k in kcvs), kcvs
for c in cards:
    labels = sorted(k["label"] for k in c["keys"] if not k.get("device_key"))
    assert labels == ["myfirst_keypair", "mysecond_keypair"], labels
PY
note "3. restore rebuilt two cards in the VM, both with KCV $kcv and both keys"

vm_list "$log" AFTER > "$scratch/after.sha256"
diff -u "$scratch/originals.sha256" "$scratch/after.sha256" >&2 ||
	fail "an original file changed or vanished after adopt and restore"
for f in ./HSMVAULT ./RECOVERY.md ./policy.yaml ./dkek-share-1.pbe ./private_myfirst_keypair ./notes.txt; do
	grep -qxF "$f" "$scratch/out/files.txt" || fail "the stick, mounted by hand, lacks $f"
done
note "4. by hand (cryptsetup open + mount): the five originals byte-identical, the vault beside them"
grep -q '^HVTEST RECOVERY-DONE' "$log" || fail "5. the RECOVERY.md steps failed in the VM"
nsum=$(sed -n "/<<'SUMS'/,/^SUMS/p" "$scratch/out/recovery.sh" | grep -c '^[0-9a-f]\{64\}  ') || true
nok=$(grep -c ': OK$' "$scratch/out/recovery.txt") || true
[ "$nsum" -ge 5 ] || fail "5. RECOVERY.md lists $nsum file hashes, expected the policy, 2 shares, 2 keys"
[ "$nok" = "$nsum" ] || fail "5. only $nok of $nsum RECOVERY.md hash lines printed OK"
note "5. RECOVERY.md's steps work by hand on the adopted stick ($nsum hashes OK)"

# ---- host: the restored cards hold the original keys ----
for i in 0 1; do
	[ -s "$scratch/out/card-$i.state" ] || fail "no state of restored card $i from the VM"
	sim_insert 0 "$scratch/out/card-$i.state"
	for key in $KEYS; do
		case $key in
		myfirst_keypair) id=01 mech=ECDSA-SHA256 ;;
		mysecond_keypair) id=02 mech=SHA256-RSA-PKCS ;;
		esac
		run pkcs11-tool --read-object --type pubkey --id "$id" -o "$scratch/r$i-$key.der" ||
			fail "restored card $i: no public key $key"
		cmp -s <(openssl pkey -pubin -inform DER -in "$scratch/r$i-$key.der" -outform DER) \
			"$scratch/$key.pub.der" || fail "restored card $i: $key is not the original key"
		printf 'walk-through %s on card %s\n' "$key" "$i" > "$scratch/msg"
		run pkcs11-tool --login --pin "$PIN" --sign --mechanism "$mech" --id "$id" \
			--input-file "$scratch/msg" --output-file "$scratch/sig" --signature-format openssl ||
			fail "restored card $i: pkcs11-tool cannot sign with $key"
		openssl dgst -sha256 -verify "$scratch/$key.pub.pem" -signature "$scratch/sig" "$scratch/msg" ||
			fail "restored card $i: the $key signature does not verify under the original public key"
	done
	sim_pull 0
done
note "the restored cards hold the original keys: public keys equal, signatures verify"
echo PASS
