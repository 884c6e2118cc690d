#!/usr/bin/env bash
# usage: test-interop.sh SECTOR_SIZE (512 or 4096)
#
# Byte compatibility between hsmvault's userspace backend and the kernel's
# dm-crypt + ext4, in one VM boot with three sticks:
#  (a) /dev/vda: prepared and filled on the host by hsmvault (userspace);
#      in the VM plain `cryptsetup open` + `mount` show the same files with
#      the same sha256, and e2fsck -fn is clean;
#  (c) /dev/vda again: the commands of the RECOVERY.md that hsmvault wrote
#      on it (open, check every file's hash, close) run as written;
#  (b) /dev/vdb: prepared by `hsmvault stick prepare --backend kernel` in
#      the VM and filled by the kernel through `hsmvault stick open`;
#      /dev/vdc: made with plain cryptsetup luksFormat + mkfs.ext4 + cp in
#      the VM; on the host, hsmvault's userspace backend reads every file
#      of both with the sha256 the kernel reported.
source "$(dirname "$0")/vmlib.sh"

sector=${1:?usage: test-interop.sh 512|4096}
: "${HSMVAULT_STICK_FILES:?HSMVAULT_STICK_FILES (tests/qemu/stick_files) is not set}"
files=$HSMVAULT_STICK_FILES

# Test-only passphrase; it reaches hsmvault on a descriptor, never in argv.
pass="interop passphrase $sector"
printf '%s\n' "$pass" > "$scratch/pass"
chmod 600 "$scratch/pass"

with_pass() { "$@" 3< "$scratch/pass"; }

# Sorted "sha256  path" lines of a VM report tagged TAG.
vm_list() {
	sed -n "s/^HVTEST $2 //p" "$1" | tr -d '\r' | sort -k 2
}

same_lists() { # what, expected file, actual file
	if ! diff -u "$2" "$3" >&2; then
		fail "$1: the file lists or hashes differ (see the diff above)"
	fi
	[ -s "$2" ] || fail "$1: no files at all"
}

# ---- (a) the host writes stick A through the userspace backend ----
a=$scratch/a.img
with_pass "$HSMVAULT" stick prepare "$a" --size 64M --sector-size "$sector" \
	--insecure-fast-kdf-for-tests --passphrase-fd 3 --batch --confirm-device "$a" ||
	fail "hsmvault stick prepare on the host failed"
# More vault files, through the same userspace vfs hsmvault uses; the big
# one spans many encryption sectors, so the IV rule is checked past sector 0.
mkdir -p "$scratch/payload/keys/0A1B2C3D4E5F6071" "$scratch/payload/shares"
head -c 1000000 /dev/urandom > "$scratch/payload/keys/0A1B2C3D4E5F6071/1.wrap"
head -c 1234 /dev/urandom > "$scratch/payload/shares/dkek-share-1.pbe"
printf 'written by the host\n' > "$scratch/payload/host.txt"
with_pass "$files" put "$a" "$scratch/payload" || fail "writing files into stick A failed"
with_pass "$files" hash "$a" | sort -k 2 > "$scratch/a.host" ||
	fail "reading stick A back on the host failed"
for f in HSMVAULT RECOVERY.md keys/0A1B2C3D4E5F6071/1.wrap host.txt; do
	grep -q "  $f\$" "$scratch/a.host" || fail "stick A lacks $f when read on the host"
done
(cd "$scratch/payload" && sha256sum keys/0A1B2C3D4E5F6071/1.wrap shares/dkek-share-1.pbe host.txt) |
	while read -r h f; do
		grep -qx "$h  $f" "$scratch/a.host" || fail "stick A: $f does not read back as written"
	done
with_pass "$files" cat "$a" RECOVERY.md > "$scratch/RECOVERY.md" ||
	fail "reading RECOVERY.md from stick A failed"
"$qemu_dir/recovery-steps.sh" /dev/vda < "$scratch/RECOVERY.md" > "$scratch/recovery.sh" ||
	fail "no usable open/check/close steps in the RECOVERY.md hsmvault wrote"

# ---- sticks B and C start empty ----
b=$scratch/b.img
c=$scratch/c.img
truncate -s 64M "$b" "$c"

# ---- the VM ----
{
	cat <<EOF
printf '%s\n' '$pass' > /run/pass
list() { (cd "\$1" && find . -type f ! -path './lost+found/*' | sed 's|^\./||' | sort |
	while read -r f; do sha256sum "\$f"; done) | sed "s/^/HVTEST \$2 /"; }

echo "== (a) stick A with plain cryptsetup + mount"
cryptsetup open --readonly /dev/vda a < /run/pass
dmsetup table a | sed 's/^/HVTEST TABLE-A /'
/usr/sbin/e2fsck -fn /dev/mapper/a
echo "HVTEST LABEL-A \$(/usr/sbin/dumpe2fs -h /dev/mapper/a 2>/dev/null | sed -n 's/^Filesystem volume name: *//p')"
mkdir -p /mnt/a
mount -o ro /dev/mapper/a /mnt/a
list /mnt/a A
umount /mnt/a
cryptsetup close a

echo "== (c) RECOVERY.md steps on stick A, as written"
sh -ex /run/recovery.sh < /run/pass
echo "HVTEST RECOVERY-DONE"

echo "== (a) stick A through hsmvault's kernel backend"
hsmvault stick open --backend kernel /dev/vda --passphrase-fd 3 3< /run/pass > /tmp/open-a.out
cat /tmp/open-a.out
mp=\$(sed -n 's/^close it with: hsmvault stick close //p' /tmp/open-a.out)
list "\$mp" AK
hsmvault stick close "\$mp"

echo "== (b) stick B: hsmvault --backend kernel"
hsmvault stick prepare --backend kernel /dev/vdb --sector-size $sector \
	--insecure-fast-kdf-for-tests --passphrase-fd 3 --batch --confirm-device /dev/vdb 3< /run/pass
hsmvault stick open --backend kernel /dev/vdb --passphrase-fd 3 3< /run/pass > /tmp/open.out
cat /tmp/open.out
mp=\$(sed -n 's/^close it with: hsmvault stick close //p' /tmp/open.out)
echo "HVTEST MOUNTED \$mp"
[ -d "\$mp/manifest" ]
mkdir -p "\$mp/keys/0A1B2C3D4E5F6071"
head -c 1000000 /dev/urandom > "\$mp/keys/0A1B2C3D4E5F6071/1.wrap"
echo 'written by the kernel' > "\$mp/kernel.txt"
hsmvault stick close "\$mp"
if grep -q hsmvault /proc/mounts || dmsetup ls | grep -q hsmvault; then
	echo "HVTEST FAIL stick close left a mount or mapping"; exit 1
fi
cryptsetup open --readonly /dev/vdb b < /run/pass
dmsetup table b | sed 's/^/HVTEST TABLE-B /'
/usr/sbin/e2fsck -fn /dev/mapper/b
echo "HVTEST LABEL-B \$(/usr/sbin/dumpe2fs -h /dev/mapper/b 2>/dev/null | sed -n 's/^Filesystem volume name: *//p')"
mkdir -p /mnt/b
mount -o ro /dev/mapper/b /mnt/b
list /mnt/b B
umount /mnt/b
cryptsetup close b

echo "== (b) stick C: plain cryptsetup + mkfs.ext4, files by the kernel"
cryptsetup luksFormat --batch-mode --type luks2 --pbkdf argon2id \
	--pbkdf-force-iterations 4 --pbkdf-memory 32 --pbkdf-parallel 1 \
	--sector-size $sector /dev/vdc < /run/pass
cryptsetup open /dev/vdc c < /run/pass
/usr/sbin/mkfs.ext4 -q -b 4096 /dev/mapper/c
mkdir -p /mnt/c
mount /dev/mapper/c /mnt/c
mkdir -p /mnt/c/manifest /mnt/c/keys/00FF
head -c 777777 /dev/urandom > /mnt/c/keys/00FF/big.wrap
echo 'kernel file' > /mnt/c/manifest/000001.yaml
: > /mnt/c/empty
list /mnt/c C
umount /mnt/c
/usr/sbin/e2fsck -fn /dev/mapper/c
cryptsetup close c
echo "HVTEST ALL-DONE"
EOF
} > "$scratch/vm.sh"

# The recovery steps travel inside the VM script as a file of their own.
{
	echo "cat > /run/recovery.sh <<'HV_RECOVERY_EOF'"
	cat "$scratch/recovery.sh"
	echo "HV_RECOVERY_EOF"
	cat "$scratch/vm.sh"
} > "$scratch/vm-full.sh"

log=$scratch/console.log
run_vm "$scratch/vm-full.sh" "$log" "$a" "$b" "$c"
grep -q '^HVTEST ALL-DONE' "$log" || fail "the VM script did not reach its end"

# The sector size really is the one asked for, on every stick.
for t in TABLE-A TABLE-B; do
	if [ "$sector" = 4096 ]; then
		vm_value "$log" "$t" | grep -q 'sector_size:4096' || fail "$t: no sector_size:4096"
	else
		vm_value "$log" "$t" | grep -q 'sector_size' && fail "$t: not 512-byte sectors"
	fi
done

# Both backends label the ext4 like the LUKS2 volume.
for t in LABEL-A LABEL-B; do
	[ "$(vm_value "$log" $t)" = HSMVAULT ] || fail "$t: the ext4 label is not HSMVAULT"
done

# (a) the kernel sees what the host wrote.
vm_list "$log" A > "$scratch/a.vm"
same_lists "(a) userspace-written stick read by the kernel" "$scratch/a.host" "$scratch/a.vm"
note "(a) $(wc -l < "$scratch/a.vm") files written in userspace read identically through dm-crypt"
vm_list "$log" AK > "$scratch/ak.vm"
same_lists "(a) userspace-written stick opened by hsmvault --backend kernel" "$scratch/a.host" "$scratch/ak.vm"
note "(a) and identically through hsmvault stick open --backend kernel"

# (c) every line of the recovery check printed OK.
grep -q '^HVTEST RECOVERY-DONE' "$log" || fail "(c) the RECOVERY.md steps failed in the VM"
nsum=$(sed -n "/<<'SUMS'/,/^SUMS/p" "$scratch/recovery.sh" | grep -c '^[0-9a-f]\{64\}  ') || true
nok=$(grep -c ': OK' "$log") || true
[ "$nsum" -gt 0 ] || fail "(c) RECOVERY.md lists no file hashes to check"
[ "$nok" -ge "$nsum" ] || fail "(c) only $nok of $nsum RECOVERY.md hash lines printed OK"
note "(c) RECOVERY.md's open/check/close steps work as written ($nsum hashes OK)"

# (b) the host reads what the kernel wrote.
for s in B C; do
	img=$b
	[ $s = C ] && img=$c
	vm_list "$log" $s > "$scratch/$s.vm"
	with_pass "$files" hash "$img" | sort -k 2 > "$scratch/$s.host" ||
		fail "(b) the userspace backend cannot read stick $s"
	same_lists "(b) kernel-written stick $s read in userspace" "$scratch/$s.vm" "$scratch/$s.host"
	note "(b) stick $s: $(wc -l < "$scratch/$s.vm") kernel-written files read identically in userspace"
done
grep -q '  kernel.txt$' "$scratch/B.host" || fail "(b) stick B lacks the kernel's file"
grep -q '  HSMVAULT$' "$scratch/B.host" || fail "(b) stick B has no vault skeleton"
with_pass "$HSMVAULT" stick status "$b" --passphrase-fd 3 > "$scratch/b.status" ||
	fail "(b) hsmvault stick status cannot read the kernel-prepared stick B"
cat "$scratch/b.status"
grep -q "hsmvault-vault/2, manifest version 1 " "$scratch/b.status" ||
	fail "(b) hsmvault does not see the vault the kernel backend made on stick B"
grep -q "$sector-byte sectors" "$scratch/b.status" ||
	fail "(b) stick B was not made with $sector-byte sectors"
echo PASS
