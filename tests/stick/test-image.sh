#!/bin/bash
# prepare on image files: LUKS2 header as cryptsetup reads it, passphrase
# accepted by cryptsetup, ext4 clean under e2fsck, marker readable by
# debugfs and by the kernel (loop mount of the decrypted copy), both
# sector sizes, status, passphrase add/remove, header backup.
. "$(dirname "$0")/lib.sh"

for ss in 512 4096; do
	img="$WORK/s$ss.img"
	hv_pass stick prepare "$img" --size 64M --sector-size $ss --label "VAULT$ss" $FAST \
		>"$WORK/prep.out" 2>&1 || { cat "$WORK/prep.out"; fail "prepare $ss"; }
	[ "$(stat -c %a "$img")" = 600 ] || fail "image mode is $(stat -c %a "$img"), want 600"
	cryptsetup luksDump "$img" >"$WORK/dump" || fail "luksDump"
	grep -q '^Version:[[:space:]]*2$' "$WORK/dump" || fail "not LUKS2"
	grep -q "^Label:[[:space:]]*VAULT$ss\$" "$WORK/dump" || fail "label VAULT$ss missing"
	grep -q 'cipher: aes-xts-plain64' "$WORK/dump" || fail "segment cipher"
	grep -q "sector: $ss \[bytes\]" "$WORK/dump" || fail "sector size $ss"
	grep -q 'offset: 16777216 \[bytes\]' "$WORK/dump" || fail "data offset"
	grep -q 'Key:[[:space:]]*512 bits' "$WORK/dump" || fail "512-bit key"
	grep -q 'PBKDF:[[:space:]]*argon2id' "$WORK/dump" || fail "argon2id"
	printf '%s' "$PASS" | cryptsetup open --test-passphrase --key-file=- "$img" \
		|| fail "cryptsetup rejects the passphrase ($ss)"
	printf '%s' "wrong $PASS" | cryptsetup open --test-passphrase --key-file=- "$img" 2>/dev/null \
		&& fail "cryptsetup accepts a wrong passphrase"
	blkid -p "$img" | grep -q "TYPE=\"crypto_LUKS\"" || fail "blkid TYPE"
	blkid -p "$img" | grep -q "LABEL=\"VAULT$ss\"" || fail "blkid LABEL"

	fsck_clean "$img"
	debugfs -R 'cat /HSMVAULT' "$WORK/plain" 2>/dev/null | head -1 | grep -qE '^hsmvault-vault/[0-9]+$' \
		|| fail "debugfs cannot read the HSMVAULT marker ($ss)"
	debugfs -R 'cat /manifest/000001.yaml' "$WORK/plain" 2>/dev/null | grep -q 'version: 1' \
		|| fail "manifest/000001.yaml"
	# the kernel's ext4 reads what libext2fs wrote
	mkdir -p "$WORK/mnt"
	l=$(new_loop "$WORK/plain")
	mount -o ro "$l" "$WORK/mnt" || fail "kernel cannot mount the decrypted ext4 ($ss)"
	MOUNTS="$WORK/mnt"
	head -1 "$WORK/mnt/HSMVAULT" | grep -qE '^hsmvault-vault/[0-9]+$' || fail "kernel read of marker"
	[ "$(stat -c %a "$WORK/mnt/HSMVAULT")" = 600 ] || fail "marker mode"
	umount "$WORK/mnt"; MOUNTS=""
	drop_loop "$l"
	ok "sector size $ss: LUKS2, cryptsetup, e2fsck, debugfs, kernel mount"

	hv stick status "$img" --json >"$WORK/st.json" || fail "status"
	python3 - "$WORK/st.json" "$ss" <<'PY' || fail "status --json"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["format"] == "LUKS2" and s["cipher"] == "aes" and s["mode"] == "xts-plain64", s
assert s["key_bits"] == 512 and s["sector_size"] == int(sys.argv[2]), s
assert s["data_offset"] == 16 << 20 and s["data_size"] == 48 << 20, s
assert [k["slot"] for k in s["keyslots"]] == [0] and s["keyslots"][0]["pbkdf"] == "argon2id", s
assert s["keyslots"][0]["iterations"] == 4 and s["keyslots"][0]["memory_kb"] == 32, s
assert "vault" not in s, "status without a passphrase must not read the vault"
PY
	hv_pass stick open "$img" >"$WORK/open.out" 2>&1 || { cat "$WORK/open.out"; fail "open"; }
	grep -q 'manifest version 1' "$WORK/open.out" || fail "open summary: $(cat "$WORK/open.out")"
	# log and show read a stick's passphrase from --passphrase-fd too
	hv_pass log --vault "$img" >"$WORK/log.out" 2>&1 || { cat "$WORK/log.out"; fail "log --vault IMAGE"; }
	grep -qE '^ +1 .* vault created$' "$WORK/log.out" || fail "log: $(cat "$WORK/log.out")"
	hv_pass show --vault "$img" --json >"$WORK/show.json" 2>&1 || fail "show --vault IMAGE"
	grep -q '"version":1' "$WORK/show.json" || fail "show --json: $(cat "$WORK/show.json")"
done

img="$WORK/s4096.img"
# wrong passphrase: exit 3 (secret)
printf 'nope\n' | "$HSMVAULT" stick open "$img" --passphrase-fd 0 >/dev/null 2>"$WORK/err"
[ $? = 3 ] || fail "wrong passphrase should exit 3: $(cat "$WORK/err")"

# passphrase add (existing, then new, one per line) and remove
printf '%s\nsecond passphrase\n' "$PASS" | "$HSMVAULT" stick passphrase add "$img" --passphrase-fd 0 $FAST \
	>/dev/null || fail "passphrase add"
printf 'second passphrase' | cryptsetup open --test-passphrase --key-file=- "$img" || fail "new passphrase"
printf '%s\n' "$PASS" | "$HSMVAULT" stick passphrase remove "$img" --passphrase-fd 0 >/dev/null \
	|| fail "passphrase remove"
printf '%s' "$PASS" | cryptsetup open --test-passphrase --key-file=- "$img" 2>/dev/null \
	&& fail "removed passphrase still opens"
printf 'second passphrase\n' | "$HSMVAULT" stick passphrase remove "$img" --passphrase-fd 0 \
	>/dev/null 2>"$WORK/err"
[ $? = 7 ] || fail "removing the last passphrase must be refused (7): $(cat "$WORK/err")"
printf 'second passphrase' | cryptsetup open --test-passphrase --key-file=- "$img" || fail "last passphrase gone"
ok "passphrase add/remove, last one kept"

hv stick header-backup "$img" "$WORK/hdr" >/dev/null || fail "header-backup"
cryptsetup luksDump "$WORK/hdr" | grep -q "^Label:[[:space:]]*VAULT4096$" || fail "backup is not the header"
hv stick header-backup "$img" "$WORK/hdr" >/dev/null 2>&1 && fail "header-backup overwrote a file"
ok "header backup"

# a missing image needs --size; nothing is left behind on refusal
printf '%s\n' "$PASS" | "$HSMVAULT" stick prepare "$WORK/nosize.img" --passphrase-fd 0 $FAST 2>/dev/null
[ $? = 2 ] || fail "prepare without --size"
[ -e "$WORK/nosize.img" ] && fail "refused prepare left a file"
ok "image creation rules"

# --wipe: encrypted zeros over the whole data segment, with progress
hv_pass stick prepare "$WORK/wiped.img" --size 48M --wipe $FAST >"$WORK/out" 2>"$WORK/err" \
	|| { cat "$WORK/err"; fail "prepare --wipe"; }
grep -q 'wiping: 32 of 32 MiB (100%)' "$WORK/err" || { cat "$WORK/err"; fail "no wipe progress line"; }
[ "$(du -k "$WORK/wiped.img" | cut -f1)" -ge $((48 * 1024)) ] || fail "--wipe left holes"
fsck_clean "$WORK/wiped.img"
ok "--wipe"
