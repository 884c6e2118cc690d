#!/bin/bash
# Every common LUKS format in the userspace backend, on images made by
# cryptsetup (no device-mapper needed): LUKS1 and LUKS2, aes-xts-plain64 with
# 256/512-bit keys and 512/4096-byte sectors, aes-cbc-essiv:sha256 with
# 128/256-bit keys. For each: `stick status` names the format; a vault (made
# by `stick prepare` elsewhere, decrypted, with one more file put in by
# debugfs) is encrypted into the image; sectors are checked against an
# independent model of dm-crypt (sector-oracle.py: IVs and XTS tweaks from
# their definitions, AES by the openssl command); hsmvault reads the vault and
# the foreign file, writes a new manifest version, and e2fsck, debugfs and
# the model agree with what it wrote. Then the refusals: a LUKS2 segment with
# integrity and a serpent volume (LUKS1 and the walk-through's LUKS2
# serpent-cbc-essiv:sha256, 256-bit) get one line naming the format and what
# to do, exit 2, the image unchanged; on a host with device-mapper the kernel
# backend is chosen instead, and said so.
# Cost: about 25 s on one core (10 formats, 40 MiB sparse images).
. "$(dirname "$0")/lib.sh"
need openssl python3 mkfs.ext4
HERE=$(dirname "$0")
ORACLE="$HERE/sector-oracle.py"
EDIT="$HERE/luks-edit.py"
printf '%s' "$PASS" >"$WORK/pass"
sum() { sha256sum "$1" | cut -d' ' -f1; }

head -c 300000 /dev/urandom >"$WORK/foreign.bin"   # a file put in by e2fsprogs
head -c 200000 /dev/urandom >"$WORK/written.bin"   # a file hsmvault writes

# luks_format IMAGE TYPE CIPHER KEYBITS SECTOR: a 40 MiB image with a known
# volume key ($IMAGE.key), pbkdf2 at its minimum (tests only)
luks_format() {
	local img=$1 type=$2 cipher=$3 bits=$4 ss=$5 extra=()
	rm -f "$img"; truncate -s 40M "$img"
	head -c $((bits / 8)) /dev/urandom >"$img.key"
	[ "$type" = luks2 ] && extra=(--sector-size "$ss")
	cryptsetup luksFormat -q --type "$type" --cipher "$cipher" --key-size "$bits" "${extra[@]}" \
		--volume-key-file "$img.key" --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
		--key-file "$WORK/pass" "$img" >"$WORK/fmt.out" 2>&1 \
		|| { cat "$WORK/fmt.out"; fail "cryptsetup luksFormat $type $cipher $bits $ss"; }
}

for fmt in luks1:aes-xts-plain64:512:512 luks1:aes-xts-plain64:256:512 \
	luks1:aes-cbc-essiv:sha256:256:512 luks1:aes-cbc-essiv:sha256:128:512 \
	luks2:aes-xts-plain64:512:512 luks2:aes-xts-plain64:512:4096 \
	luks2:aes-xts-plain64:256:512 luks2:aes-xts-plain64:256:4096 \
	luks2:aes-cbc-essiv:sha256:128:512 luks2:aes-cbc-essiv:sha256:256:4096; do
	type=${fmt%%:*}; rest=${fmt#*:}; ss=${rest##*:}; rest=${rest%:*}; bits=${rest##*:}
	cipher=${rest%:*}; mode=${cipher#aes-}
	what="$type $cipher ${bits}-bit ${ss}-byte sectors"
	img="$WORK/$type-$mode-$bits-$ss.img"; img=${img//:/_}
	luks_format "$img" "$type" "$cipher" "$bits" "$ss"

	# status: the format as cryptsetup made it
	hv stick status "$img" --json >"$WORK/st.json" || fail "$what: stick status"
	# (python starts once per format: it prints the segment's offset and size)
	read -r off size < <(python3 - "$WORK/st.json" "$type" "$mode" "$bits" "$ss" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
want = (sys.argv[2].upper(), "aes", sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
got = (s["format"], s["cipher"], s["mode"], s["key_bits"], s["sector_size"])
assert got == want and s["backend"] == "userspace" and s["integrity"] is None, (got, want, s)
print(s["data_offset"], s["data_size"])
PY
)
	[ -n "$size" ] || fail "$what: status --json"
	hv stick status "$img" >"$WORK/st.txt" || fail "$what: stick status (text)"
	grep -q "^${type^^}: " "$WORK/st.txt" && grep -q "cipher: *$cipher, $bits-bit key, $ss-byte sectors" \
		"$WORK/st.txt" || { cat "$WORK/st.txt"; fail "$what: status text"; }

	# a vault made by hsmvault elsewhere, as plaintext ext4 of the segment's
	# size (made once per size)
	if [ ! -f "$WORK/vault-$size" ]; then
		ref="$WORK/ref.img"; rm -f "$ref"
		hv_pass stick prepare "$ref" --size $((size + 16 * 1048576)) $FAST >/dev/null 2>&1 \
			|| fail "$what: prepare the reference vault"
		tt decrypt "$ref" "$WORK/vault-$size" || fail "$what: decrypt the reference vault"
		rm -f "$ref"
	fi
	cp --sparse=always "$WORK/vault-$size" "$WORK/plain"
	[ "$(stat -c %s "$WORK/plain")" = "$size" ] || fail "$what: plaintext size"
	debugfs -w -R "write $WORK/foreign.bin foreign.bin" "$WORK/plain" >/dev/null 2>&1 \
		|| fail "$what: debugfs write"
	tt encrypt "$img" "$WORK/plain" || fail "$what: encrypt into the image"

	# hsmvault reads the foreign file and the vault
	tt cat "$img" foreign.bin >"$WORK/got" || fail "$what: read foreign.bin"
	[ "$(sum "$WORK/got")" = "$(sum "$WORK/foreign.bin")" ] || fail "$what: foreign.bin differs"
	hv_pass log --vault "$img" >"$WORK/log.out" 2>&1 || { cat "$WORK/log.out"; fail "$what: log"; }
	grep -qE '^ +1 .* vault created$' "$WORK/log.out" || { cat "$WORK/log.out"; fail "$what: log"; }

	# ... and writes: a file, and a new manifest version through the vault layer
	{ printf '%s\n' "$PASS"; cat "$WORK/written.bin"; } | "$STICK_TESTTOOL" write "$img" written.bin \
		|| fail "$what: write"
	tt update "$img" 1 || fail "$what: vault update"
	[ "$(tt current "$img" -)" = 2 ] || fail "$what: manifest version after the update"
	hv_pass log --vault "$img" >"$WORK/log.out" 2>&1 && grep -qE '^ +2 ' "$WORK/log.out" \
		|| { cat "$WORK/log.out"; fail "$what: log after the update"; }
	tt cat "$img" written.bin >"$WORK/got" && cmp -s "$WORK/got" "$WORK/written.bin" \
		|| fail "$what: written.bin read back"
	fsck_clean "$img"
	debugfs -R "dump /written.bin $WORK/dumped" "$WORK/plain" >/dev/null 2>&1
	cmp -s "$WORK/dumped" "$WORK/written.bin" || fail "$what: debugfs reads another written.bin"
	blocks=$(debugfs -R "blocks /written.bin" "$WORK/plain" 2>/dev/null)
	first=${blocks%% *}; lastb=$(echo "$blocks" | awk '{print $NF}')
	[ -n "$first" ] || fail "$what: no blocks for written.bin"
	# the model on sectors near the start (IV 8n, not n, matters from sector
	# 1 of a 4096-byte-sector volume on), far out, the last one, and those
	# holding what hsmvault wrote, against the decrypted state after the writes
	python3 "$ORACLE" "$img" "$off" "$ss" "$cipher" "$img.key" "$WORK/plain" 0 1 2 7 8 9 1000 \
		$((size / ss - 1)) $((first * 4096 / ss)) $(((lastb * 4096 + 4095) / ss)) >"$WORK/oracle.out" \
		|| { cat "$WORK/oracle.out"; fail "$what: sectors differ from the dm-crypt model"; }
	ok "$what: status, dm-crypt model, read, write, e2fsck"
	if [ "$bits" = 256 ] && [ "$ss" = 512 ]; then
		# header work on this format: a second passphrase (pbkdf2 on
		# LUKS1, argon2id on LUKS2) that cryptsetup accepts; a header backup
		printf '%s\nanother passphrase\n' "$PASS" | "$HSMVAULT" stick passphrase add "$img" \
			--passphrase-fd 3 $FAST 3<&0 </dev/null >/dev/null 2>"$WORK/err" \
			|| { cat "$WORK/err"; fail "$what: passphrase add"; }
		printf 'another passphrase' | cryptsetup open --test-passphrase --key-file=- "$img" \
			|| fail "$what: cryptsetup rejects the added passphrase"
		want_kdf=argon2id; [ "$type" = luks1 ] && want_kdf=pbkdf2
		hv stick status "$img" --json >"$WORK/st.json"
		python3 -c "import json,sys; k=json.load(open(sys.argv[1]))['keyslots']; \
assert [x['pbkdf'] for x in k] == ['pbkdf2', sys.argv[2]], k" "$WORK/st.json" "$want_kdf" \
			|| fail "$what: keyslots after passphrase add"
		hv stick header-backup "$img" "$WORK/hdr" >/dev/null || fail "$what: header-backup"
		cryptsetup luksDump "$WORK/hdr" | grep -q "^Version:[[:space:]]*${type#luks}$" \
			|| fail "$what: the header backup is not $type"
		rm -f "$WORK/hdr"
		ok "$what: passphrase add ($want_kdf), header backup"
	fi
	rm -f "$img" "$WORK/plain"
done

# ---- formats the userspace backend lacks ----
has_dm=0
dmsetup version >/dev/null 2>&1 && has_dm=1
refused() { # refused IMAGE WORDS...: one line naming the format, exit 2, unchanged
	local img=$1; shift
	local before; before=$(sum "$img")
	printf '%s\n' "$PASS" | "$HSMVAULT" log --vault "$img" --passphrase-fd 3 3<&0 </dev/null \
		>"$WORK/out" 2>"$WORK/err"
	local rc=$?
	[ "$(sum "$img")" = "$before" ] || fail "$img changed"
	if [ $has_dm = 1 ]; then
		grep -q "opening it with the kernel backend" "$WORK/err" \
			|| { cat "$WORK/err"; fail "$img: the kernel backend was not chosen (device-mapper is here)"; }
		ok "$(basename "$img"): kernel backend chosen (device-mapper present), exit $rc"
		return
	fi
	[ $rc = 2 ] || { cat "$WORK/err"; fail "$img: exit $rc, expected 2"; }
	[ "$(wc -l <"$WORK/err")" = 1 ] || { cat "$WORK/err"; fail "$img: more than one line"; }
	for w in "$@" "the kernel backend" "cryptsetup open"; do
		grep -qF -- "$w" "$WORK/err" || { cat "$WORK/err"; fail "$img: message lacks '$w'"; }
	done
	grep -q "prepare" "$WORK/err" && { cat "$WORK/err"; fail "$img: advice that erases"; }
	ok "$(basename "$img") -> 2: $(head -c 200 "$WORK/err")"
}

img="$WORK/integrity.img"
luks_format "$img" luks2 aes-xts-plain64 512 4096
python3 "$EDIT" "$img" integrity 'hmac(sha256)' || fail "adding integrity to the header"
hv stick status "$img" --json >"$WORK/st.json" || fail "status of an integrity volume"
grep -qF '"integrity":"hmac(sha256)"' "$WORK/st.json" && grep -qF '"backend":"kernel"' "$WORK/st.json" \
	|| { cat "$WORK/st.json"; fail "status: integrity"; }
refused "$img" "LUKS2 aes-xts-plain64" "integrity hmac(sha256)"

# the walk-through's stick: serpent-cbc-essiv:sha256, 256-bit key (cryptsetup
# cannot make serpent here: its header is edited from an aes one)
for type in luks2 luks1; do
	img="$WORK/serpent-$type.img"
	luks_format "$img" $type aes-cbc-essiv:sha256 256 512
	python3 "$EDIT" "$img" cipher serpent-cbc-essiv:sha256 || fail "editing the cipher"
	hv stick status "$img" >"$WORK/st.txt" || fail "status of a serpent volume"
	grep -q "cipher: *serpent-cbc-essiv:sha256, 256-bit key" "$WORK/st.txt" \
		&& grep -q "backend: *kernel only" "$WORK/st.txt" || { cat "$WORK/st.txt"; fail "serpent status"; }
	refused "$img" "${type^^} serpent-cbc-essiv:sha256, 256-bit key" "serpent is not a cipher"
done
