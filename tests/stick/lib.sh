# Shared by the stick suite's shell tests. Meson sets HSMVAULT and
# STICK_TESTTOOL; passphrases always travel through pipes.
set -u
PASS='correct horse battery staple'
FAST=--insecure-fast-kdf-for-tests
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hv-stick-test.XXXXXX")
MOUNTS=""
# loop devices are recorded in a file: new_loop runs in $(...) subshells
: >"$WORK/loops"
cleanup() {
	for m in $MOUNTS; do umount "$m" 2>/dev/null; done
	for l in $(cat "$WORK/loops"); do losetup -d "$l" 2>/dev/null; done
	rm -rf "$WORK"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
need() { for t in "$@"; do command -v "$t" >/dev/null || fail "missing tool $t (see tools/setup-debian.sh)"; done; }
need cryptsetup e2fsck debugfs losetup blkid sha256sum

hv() { "$HSMVAULT" "$@"; }
# hv_pass ARGS...: runs hsmvault with the passphrase on descriptor 3
hv_pass() { printf '%s\n' "$PASS" | "$HSMVAULT" "$@" --passphrase-fd 3 3<&0 </dev/null; }
tt() { printf '%s\n' "$PASS" | "$STICK_TESTTOOL" "$@"; }

new_loop() { # new_loop IMAGE -> prints /dev/loopN and remembers it
	local l
	l=$(losetup -f --show "$1") || fail "losetup on $1"
	echo "$l" >>"$WORK/loops"
	echo "$l"
}
drop_loop() { losetup -d "$1"; grep -vx "$1" "$WORK/loops" >"$WORK/loops.new"; mv "$WORK/loops.new" "$WORK/loops"; }

# fsck_clean STICK: decrypts the data segment and requires e2fsck -fn clean
fsck_clean() {
	tt decrypt "$1" "$WORK/plain" || fail "decrypting $1"
	e2fsck -fn "$WORK/plain" >"$WORK/fsck.out" 2>&1 || { cat "$WORK/fsck.out"; fail "e2fsck -fn on decrypted $1"; }
}
expect_rc() { # expect_rc WANT DESCRIPTION -- command...
	local want=$1 what=$2; shift 3
	"$@" >"$WORK/out" 2>"$WORK/err"; local rc=$?
	[ "$rc" = "$want" ] || { cat "$WORK/out" "$WORK/err"; fail "$what: exit $rc, expected $want"; }
}
