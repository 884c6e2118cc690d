# Shared by the qemu tests (sourced, bash). Boots Debian's kernel under
# software emulation (TCG) with the initramfs from mkinitramfs.sh and runs a
# test script inside; anything that keeps the VM from booting is a FAILURE
# with the reason, never a skip.
#
# Environment (set by tests/qemu/meson.build):
#   HSMVAULT            the hsmvault binary of this build
#   HSMVAULT_SRC        the source tree
#   HSMVAULT_QEMU_WORK  a folder for the cached initramfs (build tree)
#   HSMVAULT_VM_EXTRA   optional: more binaries for the VM's /usr/bin
#                       (':'-separated; test programs of this build)
# A test may set before run_vm:
#   vm_mem_mb           the VM's memory (default 512)
#   vm_timeout_s        wall-time limit of one boot (default 400)

set -euo pipefail

qemu_dir=$HSMVAULT_SRC/tests/qemu
: "${HSMVAULT:?HSMVAULT (the hsmvault binary) is not set}"
: "${HSMVAULT_QEMU_WORK:=${TMPDIR:-/tmp}}"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

note() {
	echo "# $*"
}

# A scratch folder for this test, removed on exit.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/hsmvault-qemu.XXXXXX")
# host_luks_images PASSPHRASE: two 64 MiB LUKS2 images made by plain
# cryptsetup on the host (512- and 4096-byte sectors, the cheapest PBKDF),
# listed in the array disks for run_vm.
host_luks_images() {
	disks=()
	local sector img
	for sector in 512 4096; do
		img=$scratch/stick-$sector.img
		truncate -s 64M "$img"
		printf '%s' "$1" | cryptsetup luksFormat --batch-mode --type luks2 \
			--pbkdf argon2id --pbkdf-force-iterations 4 --pbkdf-memory 32 \
			--pbkdf-parallel 1 --sector-size "$sector" --key-file - "$img" ||
			fail "cryptsetup luksFormat on the host failed"
		disks+=("$img")
	done
}

cleanup_scratch() { [ -n "${HSMVAULT_KEEP_SCRATCH:-}" ] || rm -rf "$scratch"; }
trap cleanup_scratch EXIT

# The unpacked kernel tree; fetch-kernel.sh downloads it once.
kernel_tree() {
	local out
	out=$("$qemu_dir/fetch-kernel.sh") ||
		fail "cannot get Debian's kernel (tests/qemu/fetch-kernel.sh failed; needs apt access once)"
	printf '%s\n' "$out" | tail -n 1
}

# Builds the initramfs unless a newer one exists; prints its path.
initramfs() {
	local tree=$1 out=$HSMVAULT_QEMU_WORK/initramfs.cpio.gz f stale=0 extra=()
	[ -n "${HSMVAULT_VM_EXTRA:-}" ] && IFS=: read -r -a extra <<< "$HSMVAULT_VM_EXTRA"
	if [ ! -f "$out" ]; then
		stale=1
	else
		for f in "$HSMVAULT" "$qemu_dir/init" "$qemu_dir/mkinitramfs.sh" "${extra[@]}"; do
			[ "$f" -nt "$out" ] && stale=1
		done
	fi
	if [ $stale = 1 ]; then
		"$qemu_dir/mkinitramfs.sh" "$tree" "$HSMVAULT" "$out" "${extra[@]}" >&2 ||
			fail "cannot build the VM's initramfs (see above)"
	fi
	echo "$out"
}

# run_vm SCRIPT LOG DISK...: boots with DISK... as /dev/vda... and the
# script as the next disk (named to /init on the kernel command line), writes the serial console to LOG, and fails
# unless the VM booted and the script exited 0.
run_vm() {
	local script=$1 log=$2
	shift 2
	local tree kernel initrd sdisk drives=() d start end rc status
	command -v qemu-system-x86_64 >/dev/null ||
		fail "qemu-system-x86_64 not found: apt-get install qemu-system-x86"
	tree=$(kernel_tree)
	kernel=$(ls "$tree"/boot/vmlinuz-* | head -n 1)
	initrd=$(initramfs "$tree")

	# The script disk: the text, then NUL padding to a whole number of 4 KiB.
	sdisk=$scratch/script.disk.$RANDOM
	{ echo "# hvtest script"; cat "$script"; } > "$sdisk"
	printf '\0' >> "$sdisk"
	truncate -s %4096 "$sdisk"

	for d in "$@" "$sdisk"; do
		drives+=(-drive "file=$d,format=raw,if=virtio,cache=unsafe")
	done
	# virtio disks are named in order: vda, vdb, ...; the script is last.
	local letters=abcdefghijklmnopqrstuvwxyz
	local sname=vd${letters:$#:1}
	start=$(date +%s.%N)
	rc=0
	local limit=${vm_timeout_s:-400}
	timeout "$limit" qemu-system-x86_64 -machine q35 -accel tcg -smp 2 -m "${vm_mem_mb:-512}" \
		-nodefaults -no-user-config -display none -no-reboot \
		-kernel "$kernel" -initrd "$initrd" \
		-append "console=ttyS0 panic=-1 quiet loglevel=3 hvtest.script=$sname" \
		-serial "file:$log" "${drives[@]}" </dev/null || rc=$?
	end=$(date +%s.%N)
	note "VM ran $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s wall time (qemu status $rc)"
	sed 's/^/  vm| /' "$log"
	[ $rc = 124 ] && fail "the VM did not finish within $limit s"
	[ $rc = 0 ] || fail "qemu-system-x86_64 failed with status $rc (see the console above)"
	grep -q '^HVTEST BOOTED' "$log" ||
		fail "the VM did not boot: no 'HVTEST BOOTED' on its console (see above)"
	status=$(sed -n 's/^HVTEST EXIT \([0-9]*\).*/\1/p' "$log" | tail -n 1)
	[ -n "$status" ] || fail "the VM's test script did not finish (see the console above)"
	[ "$status" = 0 ] || fail "the test script in the VM failed with status $status (see above)"
}

# Value of "HVTEST KEY value" lines the VM printed.
vm_value() {
	sed -n "s/^HVTEST $2 //p" "$1" | tr -d '\r' | tail -n 1
}
