#!/bin/bash
# `hsmvault stick prepare` of a 4 GiB image against what an operator would
# type by hand: `cryptsetup luksFormat` of the same image plus `mkfs.ext4`
# of a plain file as large as the data segment (without device-mapper the
# two cannot be stacked; the hand-made side therefore skips the encryption
# of the file system, which favours it). Both sides use the same forced
# argon2id settings (no benchmark on either side), so the difference is
# what hsmvault adds. Goal: hsmvault <= 1.2x. Run by tests/bench/run.sh,
# never as a meson test (timing on a shared machine is noise).
#   HSMVAULT=build/src/cli/hsmvault tests/bench/bench-prepare.sh
# BENCH_SIZE (default 4G), BENCH_ROUNDS (3), BENCH_PBKDF_MEMORY (KiB,
# 1048576: libcryptsetup's default), BENCH_PBKDF_ITERATIONS (4),
# BENCH_PBKDF_THREADS (4); BENCH_OUT: also write the table there.
set -u
fail() { echo "bench-prepare: $*" >&2; exit 1; }
for t in cryptsetup mkfs.ext4 truncate awk; do
	command -v "$t" >/dev/null || fail "missing $t (Debian packages cryptsetup-bin, e2fsprogs, coreutils, mawk; see tools/setup-debian.sh)"
done
[ -x "${HSMVAULT:-}" ] || fail "HSMVAULT must name the hsmvault binary"
SIZE=${BENCH_SIZE:-4G}
ROUNDS=${BENCH_ROUNDS:-3}
MEM=${BENCH_PBKDF_MEMORY:-1048576}
ITER=${BENCH_PBKDF_ITERATIONS:-4}
THREADS=${BENCH_PBKDF_THREADS:-4}
W=$(mktemp -d "${TMPDIR:-/tmp}/hv-bench-prepare.XXXXXX") || fail "mktemp"
trap 'rm -rf "$W"' EXIT
PASS='bench passphrase, not a secret'
bytes=$(numfmt --from=iec "$SIZE") || fail "BENCH_SIZE $SIZE"
data_mib=$(( bytes / 1048576 - 16 ))
now() { echo "$EPOCHREALTIME"; }
calc() { awk "BEGIN { printf \"%.2f\\n\", $* }"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

hv_round() {
	rm -f "$W/hv.img"
	local t0; t0=$(now)
	# hsmvault has no --pbkdf-parallel: it keeps libcryptsetup's default
	# thread count (4), which the hand-made side is given explicitly
	printf '%s\n' "$PASS" | "$HSMVAULT" stick prepare "$W/hv.img" --size "$SIZE" \
		--passphrase-fd 0 --pbkdf-force-iterations "$ITER" --pbkdf-memory "$MEM" \
		>"$W/hv.out" 2>&1 || { cat "$W/hv.out" >&2; fail "hsmvault stick prepare"; }
	calc "$(now) - $t0"
}
hand_round() {
	rm -f "$W/c.img" "$W/p.img"
	local t0 t1 t2
	t0=$(now)
	truncate -s "$SIZE" "$W/c.img"
	printf '%s' "$PASS" | cryptsetup luksFormat -q --type luks2 --cipher aes-xts-plain64 \
		--key-size 512 --sector-size 4096 --pbkdf argon2id --pbkdf-force-iterations "$ITER" \
		--pbkdf-memory "$MEM" --pbkdf-parallel "$THREADS" --label HSMVAULT --key-file - \
		"$W/c.img" || fail "cryptsetup luksFormat"
	t1=$(now)
	truncate -s "${data_mib}M" "$W/p.img"
	mkfs.ext4 -q -F -b 4096 -i 65536 -L HSMVAULT -E lazy_itable_init=0,lazy_journal_init=0 \
		"$W/p.img" || fail "mkfs.ext4"
	sync -f "$W/p.img"
	t2=$(now)
	echo "$(calc "$t1 - $t0") $(calc "$t2 - $t1") $(calc "$t2 - $t0")"
}

echo "stick prepare, $SIZE image, argon2id $ITER iterations, $MEM KiB, $THREADS threads;" \
	"$ROUNDS rounds, medians" >&2
: >"$W/hv.t"; : >"$W/lf.t"; : >"$W/mk.t"; : >"$W/hand.t"
for r in $(seq "$ROUNDS"); do
	hv_round >>"$W/hv.t"
	read -r lf mk all < <(hand_round)
	echo "$lf" >>"$W/lf.t"; echo "$mk" >>"$W/mk.t"; echo "$all" >>"$W/hand.t"
	echo "round $r: hsmvault $(tail -1 "$W/hv.t") s, luksFormat $lf s + mkfs.ext4 $mk s" >&2
done
grep -q "iterations forced" "$W/hv.out" || { cat "$W/hv.out" >&2; fail "hsmvault did not report the forced KDF"; }
hv=$(median <"$W/hv.t"); lf=$(median <"$W/lf.t"); mk=$(median <"$W/mk.t"); hand=$(median <"$W/hand.t")
ratio=$(calc "$hv / $hand")
goal=$(awk "BEGIN { print ($ratio <= 1.2) ? \"met\" : \"NOT met\" }")
{
	echo "| $SIZE image, argon2id $ITER it. / $((MEM / 1024)) MiB / $THREADS threads | seconds (median of $ROUNDS) |"
	echo "| --- | ---: |"
	echo "| cryptsetup luksFormat | $lf |"
	echo "| mkfs.ext4 (plain file, $data_mib MiB) | $mk |"
	echo "| **by hand, total** | **$hand** |"
	echo "| **hsmvault stick prepare** (LUKS2 + encrypted ext4 + vault) | **$hv** |"
	echo "| ratio (goal <= 1.2) | $ratio ($goal) |"
} | tee "${BENCH_OUT:-/dev/null}"
[ "$goal" = met ]
