#!/usr/bin/env bash
# Every LUKS format the userspace backend has, against the kernel's dm-crypt,
# in one VM boot (issue 9, item 2):
#  kernel -> host: in the VM, cryptsetup luksFormat + mkfs.ext4 make one stick
#    per format and the kernel copies files in; on the host the userspace
#    backend reads every file with the sha256 the VM reported;
#  host -> kernel: on the host, cryptsetup luksFormat (no device-mapper needed)
#    and a plaintext mkfs.ext4 encrypted in by the userspace backend make one
#    stick per format, and hsmvault's userspace backend writes files into it;
#    in the VM, plain cryptsetup open + mount read them with the same sha256
#    and e2fsck -fn is clean;
#  a serpent-xts-plain64 stick made in the VM is opened by hsmvault without
#    --backend: the kernel backend is chosen by itself, read-only for a
#    reading command (the stick is unchanged), and nothing stays mapped.
# Formats: LUKS1 aes-xts-plain64 256/512, LUKS1 aes-cbc-essiv:sha256 128/256,
# LUKS2 aes-xts-plain64 256-bit with 512/4096-byte sectors, LUKS2
# aes-cbc-essiv:sha256 128-bit/512 and 256-bit/4096 (LUKS2 aes-xts-plain64
# 512-bit is test-interop.sh's). Cost: one boot, about 1-2 min under TCG.
source "$(dirname "$0")/vmlib.sh"

: "${HSMVAULT_STICK_FILES:?HSMVAULT_STICK_FILES (tests/qemu/stick_files) is not set}"
: "${STICK_TESTTOOL:?STICK_TESTTOOL (tests/stick/stick_testtool) is not set}"
files=$HSMVAULT_STICK_FILES
command -v mkfs.ext4 >/dev/null || fail "mkfs.ext4 not found: apt-get install e2fsprogs"

pass="formats passphrase"
printf '%s\n' "$pass" > "$scratch/pass"
printf '%s' "$pass" > "$scratch/keyfile"
chmod 600 "$scratch/pass" "$scratch/keyfile"
with_pass() { "$@" 3< "$scratch/pass"; }

# NAME:TYPE:CIPHER:KEYBITS:SECTOR (the cipher may hold a colon: essiv:sha256)
formats=(l1x512:luks1:aes-xts-plain64:512:512 l1x256:luks1:aes-xts-plain64:256:512
	l1e256:luks1:aes-cbc-essiv:sha256:256:512 l1e128:luks1:aes-cbc-essiv:sha256:128:512
	l2x256a:luks2:aes-xts-plain64:256:512 l2x256b:luks2:aes-xts-plain64:256:4096
	l2e128:luks2:aes-cbc-essiv:sha256:128:512 l2e256:luks2:aes-cbc-essiv:sha256:256:4096)
split() { # split FORMAT: sets name type cipher bits ss
	local r=${1#*:}
	name=${1%%:*}; type=${r%%:*}; r=${r#*:}; ss=${r##*:}; r=${r%:*}; bits=${r##*:}; cipher=${r%:*}
}
fmt_args() { # cryptsetup arguments of a format
	local a="--type $type --cipher $cipher --key-size $bits --pbkdf pbkdf2 --pbkdf-force-iterations 1000"
	[ "$type" = luks2 ] && a="$a --sector-size $ss"
	echo "$a"
}

letters=abcdefghijklmnopqrstuvwxyz
vdev() { echo "/dev/vd${letters:$(($1 - 1)):1}"; } # the VM's name of the Nth disk
vm_list() { sed -n "s/^HVTEST $2 //p" "$1" | tr -d '\r' | sort -k 2; }
same_lists() { # what, expected file, actual file
	diff -u "$2" "$3" >&2 || fail "$1: the file lists or hashes differ (see the diff above)"
	[ -s "$2" ] || fail "$1: no files at all"
}

# ---- host -> kernel: sticks made and written on the host ----
mkdir -p "$scratch/payload/keys/0A1B"
head -c 1500000 /dev/urandom > "$scratch/payload/keys/0A1B/big.wrap"
printf 'written by the host\n' > "$scratch/payload/host.txt"
disks=() vmcmds=""
for f in "${formats[@]}"; do
	split "$f"
	h=$scratch/host-$name.img
	truncate -s 40M "$h"
	# shellcheck disable=SC2046 # the arguments split on purpose
	cryptsetup luksFormat -q $(fmt_args) --key-file "$scratch/keyfile" "$h" ||
		fail "$name: cryptsetup luksFormat on the host"
	"$HSMVAULT" stick status "$h" --json > "$scratch/st.json" || fail "$name: stick status"
	off=$(sed -n 's/.*"data_offset":\([0-9]*\).*/\1/p' "$scratch/st.json")
	size=$(sed -n 's/.*"data_size":\([0-9]*\).*/\1/p' "$scratch/st.json")
	grep -qF "\"format\":\"${type^^}\"" "$scratch/st.json" || fail "$name: status format"
	rm -f "$scratch/plain"
	truncate -s "$size" "$scratch/plain"
	mkfs.ext4 -q -F -b 4096 -L "H$name" "$scratch/plain" || fail "$name: mkfs.ext4"
	"$STICK_TESTTOOL" encrypt "$h" "$scratch/plain" < "$scratch/pass" ||
		fail "$name: encrypting the plaintext ext4 in (userspace)"
	with_pass "$files" put "$h" "$scratch/payload" || fail "$name: writing files (userspace)"
	with_pass "$files" hash "$h" | sort -k 2 > "$scratch/H-$name.host" ||
		fail "$name: reading back on the host"
	note "$name: host stick written ($type $cipher $bits-bit, $ss-byte sectors, data at $off)"
	disks+=("$h")
	vmcmds+="check_host $(vdev ${#disks[@]}) H-$name
"
done

# ---- kernel -> host: empty sticks the VM formats ----
for f in "${formats[@]}"; do
	split "$f"
	k=$scratch/kernel-$name.img
	truncate -s 40M "$k"
	disks+=("$k")
	vmcmds+="make_kernel $(vdev ${#disks[@]}) K-$name '$(fmt_args)'
"
done
serpent=$scratch/serpent.img
truncate -s 40M "$serpent"
disks+=("$serpent")
sdev=$(vdev ${#disks[@]})

cat > "$scratch/vm.sh" <<EOF
printf '%s\n' '$pass' > /run/pass
printf '%s' '$pass' > /run/keyfile
list() { (cd "\$1" && find . -type f ! -path './lost+found/*' | sed 's|^\./||' | sort |
	while read -r f; do sha256sum "\$f"; done) | sed "s/^/HVTEST \$2 /"; }
check_host() { # DEV TAG: a host-written stick through dm-crypt
	cryptsetup open --readonly "\$1" h < /run/pass
	/usr/sbin/e2fsck -fn /dev/mapper/h
	mkdir -p /mnt/h
	mount -o ro /dev/mapper/h /mnt/h
	list /mnt/h "\$2"
	umount /mnt/h
	cryptsetup close h
	echo "HVTEST DONE \$2"
}
make_kernel() { # DEV TAG ARGS: luksFormat, mkfs, files by the kernel
	cryptsetup luksFormat -q \$3 --key-file /run/keyfile "\$1"
	cryptsetup open --key-file /run/keyfile "\$1" k
	dmsetup table k | sed "s/^/HVTEST TABLE-\$2 /"
	/usr/sbin/mkfs.ext4 -q -b 4096 /dev/mapper/k
	mkdir -p /mnt/k
	mount /dev/mapper/k /mnt/k
	mkdir -p /mnt/k/keys/00FF
	head -c 777777 /dev/urandom > /mnt/k/keys/00FF/big.wrap
	echo "kernel file \$2" > /mnt/k/kernel.txt
	list /mnt/k "\$2"
	umount /mnt/k
	/usr/sbin/e2fsck -fn /dev/mapper/k
	cryptsetup close k
	echo "HVTEST DONE \$2"
}
$vmcmds
echo "== serpent-xts-plain64: hsmvault picks the kernel backend"
cryptsetup luksFormat -q --type luks2 --cipher serpent-xts-plain64 --key-size 512 \
	--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file /run/keyfile $sdev
cryptsetup open --key-file /run/keyfile $sdev s
/usr/sbin/mkfs.ext4 -q -b 4096 /dev/mapper/s
cryptsetup close s
before=\$(sha256sum < $sdev)
hsmvault stick status $sdev --passphrase-fd 3 3< /run/pass > /tmp/s.out 2> /tmp/s.err || true
[ "\$(sha256sum < $sdev)" = "\$before" ] || echo "HVTEST SERPENT-CHANGED yes"
sed 's/^/HVTEST SERPENT-OUT /' /tmp/s.out
sed 's/^/HVTEST SERPENT-ERR /' /tmp/s.err
if grep -q hsmvault /proc/mounts || dmsetup ls | grep -q hsmvault; then
	echo "HVTEST SERPENT-LEFTOVER yes"
fi
echo "HVTEST ALL-DONE"
EOF

log=$scratch/console.log
vm_timeout_s=500
run_vm "$scratch/vm.sh" "$log" "${disks[@]}"
grep -q '^HVTEST ALL-DONE' "$log" || fail "the VM script did not reach its end"

for f in "${formats[@]}"; do
	split "$f"
	# host -> kernel
	grep -q "^HVTEST DONE H-$name" "$log" || fail "$name: the VM did not check the host's stick"
	vm_list "$log" "H-$name" > "$scratch/H-$name.vm"
	same_lists "$name: host-written stick read by dm-crypt" "$scratch/H-$name.host" "$scratch/H-$name.vm"
	# kernel -> host
	grep -q "^HVTEST DONE K-$name" "$log" || fail "$name: the VM did not make its stick"
	table=$(vm_value "$log" "TABLE-K-$name")
	case $table in *" $cipher "*) ;; *) fail "$name: dm table '$table' does not use $cipher" ;; esac
	if [ "$ss" = 4096 ]; then
		case $table in *sector_size:4096*) ;; *) fail "$name: dm table without sector_size:4096" ;; esac
	fi
	vm_list "$log" "K-$name" > "$scratch/K-$name.vm"
	k=$scratch/kernel-$name.img
	"$HSMVAULT" stick status "$k" --json > "$scratch/st.json" || fail "$name: status of the VM's stick"
	grep -qF "\"format\":\"${type^^}\",\"label\":\"\"" "$scratch/st.json" &&
		grep -qF "\"key_bits\":$bits,\"sector_size\":$ss," "$scratch/st.json" &&
		grep -qF '"backend":"userspace"' "$scratch/st.json" ||
		{ cat "$scratch/st.json"; fail "$name: stick status of the VM's stick"; }
	with_pass "$files" hash "$k" | sort -k 2 > "$scratch/K-$name.host" ||
		fail "$name: the userspace backend cannot read the VM's stick"
	same_lists "$name: kernel-written stick read in userspace" "$scratch/K-$name.vm" "$scratch/K-$name.host"
	note "$name ($type $cipher $bits-bit, $ss-byte sectors): both directions identical"
done

grep -q '^HVTEST SERPENT-ERR note: .*opening it with the kernel backend' "$log" ||
	fail "serpent: hsmvault did not say it chose the kernel backend"
grep -q '^HVTEST SERPENT-OUT LUKS2: ' "$log" && grep -q '^HVTEST SERPENT-OUT cipher: *serpent-xts-plain64' "$log" ||
	fail "serpent: stick status does not show the format"
# the ext4 was mounted (no vault in it: the marker is what is missing)
grep -q '^HVTEST SERPENT-OUT vault: *NOT READABLE' "$log" ||
	fail "serpent: the kernel backend did not reach the file system"
grep -q '^HVTEST SERPENT-LEFTOVER' "$log" && fail "serpent: a mount or mapping was left behind"
grep -q '^HVTEST SERPENT-CHANGED' "$log" && fail "serpent: stick status (a reading command) changed the stick"
note "serpent-xts-plain64: the kernel backend was chosen by itself and cleaned up"
echo PASS
