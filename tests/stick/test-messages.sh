#!/bin/bash
# Messages for sticks that are not what they should be, as a table: each
# case asserts the exit code (2 usage: a wrong kind of path; 3 secret;
# 5 integrity: damage; 6 I/O), one line on stderr naming the problem, no
# advice to prepare a device that holds data (that advice erases a backup),
# no raw libcryptsetup or libext2fs line, and the file unchanged.
. "$(dirname "$0")/lib.sh"

sum() { [ -f "$1" ] && sha256sum "$1" | cut -d' ' -f1 || echo none; }
good="$WORK/good.img"
hv_pass stick prepare "$good" --size 64M $FAST >/dev/null 2>&1 || fail "prepare"
damage() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

mk() { # mk NAME: makes the case's path, prints it
	local p="$WORK/$1"
	case $1 in
	luks1.img)
		truncate -s 20M "$p"
		printf '%s' "$PASS" | cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 \
			--key-file - "$p" || fail "luksFormat luks1" ;;
	both.img) cp "$good" "$p"; damage "$p" 5000 X; damage "$p" 21384 X ;;
	random.img) head -c 20M /dev/urandom >"$p" ;;
	zeros.img) truncate -s 20M "$p" ;;
	empty.img) : >"$p" ;;
	cut-header.img) head -c 10M "$good" >"$p" ;;
	cut-fs.img) head -c 40M "$good" >"$p" ;;
	folder) mkdir -p "$p" ;;
	missing.img) rm -f "$p" ;;
	esac
	echo "$p"
}

# NAME | exit | message (fixed string) | command (@ = the path; P: the
# passphrase on descriptor 3)
while IFS='|' read -r name want msg cmd; do
	name=$(echo $name); want=$(echo $want); cmd=$(echo $cmd)
	msg="${msg#"${msg%%[![:space:]]*}"}"; msg="${msg%"${msg##*[![:space:]]}"}"
	[ -n "$name" ] || continue
	case $name in '#'*) continue ;; esac
	if [ "$name" = /dev/null ]; then p=/dev/null; else p=$(mk "$name"); fi
	line=${cmd//@/$p}
	before=$(sum "$p")
	if [ "${line#T:}" != "$line" ]; then
		# T:FORMAT: COMMAND: printf FORMAT "$PASS" on descriptor 3
		fmt=${line#T:}; fmt=${fmt%%: *}
		# shellcheck disable=SC2059,SC2086 # the format is the case's input
		printf "$fmt" "$PASS" | "$HSMVAULT" ${line#*: } --passphrase-fd 3 3<&0 </dev/null \
			>"$WORK/out" 2>"$WORK/err"
	elif [ "${line#D: }" != "$line" ]; then
		# D: COMMAND: descriptor 3 is a directory
		# shellcheck disable=SC2086
		"$HSMVAULT" ${line#D: } --passphrase-fd 3 3<"$WORK" </dev/null >"$WORK/out" 2>"$WORK/err"
	elif [ "${line#P: }" != "$line" ]; then
		# shellcheck disable=SC2086 # the command line splits on purpose
		printf '%s\n' "$PASS" | "$HSMVAULT" ${line#P: } --passphrase-fd 3 3<&0 </dev/null \
			>"$WORK/out" 2>"$WORK/err"
	else
		# shellcheck disable=SC2086
		"$HSMVAULT" $line </dev/null >"$WORK/out" 2>"$WORK/err"
	fi
	rc=$?
	what="$name: $line"
	[ "$rc" = "$want" ] || { cat "$WORK/out" "$WORK/err"; fail "$what: exit $rc, expected $want"; }
	grep -qF -- "$msg" "$WORK/err" || { cat "$WORK/err"; fail "$what: message lacks '$msg'"; }
	[ "$(wc -l <"$WORK/err")" = 1 ] || { cat "$WORK/err"; fail "$what: more than one line on stderr"; }
	case $name in random.img | both.img | luks1.img | cut-*)
		grep -q "stick prepare" "$WORK/err" && { cat "$WORK/err"; fail "$what: advises prepare on a device holding data"; } ;;
	esac
	grep -qE "not compatible|Block device required|bitmap|Device .* (is|does)" "$WORK/err" \
		&& { cat "$WORK/err"; fail "$what: a raw library message"; }
	[ "$(sum "$p")" = "$before" ] || fail "$what: changed $p"
	ok "$what -> $rc: $(head -c 160 "$WORK/err")"
done <<'TABLE'
# LUKS1 is read (formats the userspace backend lacks: tests/stick/test-formats.sh)
luks1.img      | 5 | no ext4 filesystem inside                           | P: log --vault @
both.img       | 5 | both LUKS2 header copies of                         | stick status @
both.img       | 5 | restore a header backup                             | P: show --vault @
both.img       | 5 | both LUKS2 header copies of                         | stick repair @
random.img     | 2 | holds no LUKS2 header but holds data                | stick status @
random.img     | 2 | holds no LUKS2 header but holds data                | P: log --vault @
zeros.img      | 2 | holds no LUKS2 header (its start is all zeros)     | stick status @
empty.img      | 2 | is empty: it holds no vault                         | stick status @
cut-header.img | 5 | is shorter than its LUKS2 header says (10485760 of 16777216 bytes): it was cut off | stick status @
cut-header.img | 5 | it was cut off                                      | P: log --vault @
cut-fs.img     | 5 | is shorter than its file system says (25165824 of 50331648 bytes | P: log --vault @
cut-fs.img     | 5 | it was cut off                                      | P: stick open @
folder         | 2 | is a folder, not a stick                            | stick status @
folder         | 2 | is a folder, not a stick                            | stick header-backup @ @.hdr
/dev/null      | 2 | is neither a block device nor an image file         | stick status @
/dev/null      | 2 | is neither a block device nor an image file         | P: log --vault @
missing.img    | 2 | does not exist: name the stick's device             | stick status @
missing.img    | 2 | does not exist                                      | stick repair @
good.img       | 2 | the file exists; choose a new name                  | stick header-backup @ @
# --passphrase-fd: a new passphrase follows the terminal's rules (at least
# 8 characters; an optional confirmation line must repeat it)
missing.img    | 2 | the new passphrase and its confirmation line on file descriptor 3 differ | T:%s\nother passphrase\n: stick prepare @ --size 64M
missing.img    | 2 | the new passphrase on file descriptor 3 is too short: at least 8 characters | T:abc\n: stick prepare @ --size 64M
good.img       | 2 | the new passphrase and its confirmation line on file descriptor 3 differ | T:%s\nnew passphrase 2\nnew passphrase 3\n: stick passphrase add @
good.img       | 2 | the new passphrase on file descriptor 3 is too short | T:%s\nabc\n: stick passphrase add @
good.img       | 2 | file descriptor 3 is a directory                    | D: log --vault @
good.img       | 2 | file descriptor 3 is a directory                    | D: stick passphrase add @
good.img       | 2 | file descriptor 57 is not open                      | log --vault @ --passphrase-fd 57
good.img       | 2 | file descriptor 57 is not open                      | stick status @ --passphrase-fd 57
TABLE

# a wrong passphrase: exit 3, image unchanged
before=$(sum "$good")
printf 'not the passphrase\n' | "$HSMVAULT" log --vault "$good" --passphrase-fd 0 >/dev/null 2>"$WORK/err"
[ $? = 3 ] || { cat "$WORK/err"; fail "wrong passphrase: expected exit 3"; }
grep -q "wrong passphrase for" "$WORK/err" || fail "wrong passphrase: message"
[ "$(sum "$good")" = "$before" ] || fail "a wrong passphrase changed the image"
ok "wrong passphrase -> 3"
