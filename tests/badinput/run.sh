#!/bin/bash
# The bad-input table's runner (see meson.build and the head of table.txt).
# Fixtures are made once; a case that damages something works on its own
# copy in $C. For every row: the exit code, exactly one line on stderr
# that matches the row's message (an extended regex), no raw libcryptsetup
# or libext2fs line, no sanitizer report, and the sha256 of every fixture
# file, of every file the case made and of the simulated card's state
# unchanged. Prints "N cases, N passed"; any failure fails the test.
# shellcheck source=../flows/lib.sh
. "$HV_FLOWS_LIB"
F=$WORK/fx       # fixtures, made once
C=$WORK/case     # the current case's own files, made by its setup
mkdir -p "$F"
need() { for t in "$@"; do command -v "$t" >/dev/null ||
	fail "missing tool $t: install the Debian package that has it (tools/setup-debian.sh)"; done; }
need cryptsetup pkcs11-tool sha256sum python3

# --- fixtures --------------------------------------------------------------
PASS='correct horse battery staple'
FAST=--insecure-fast-kdf-for-tests
V=$F/vault POL=$F/p.yaml REC=$F/record IMG=$F/stick.img
write_policy "$POL" badinput 1 alice
insert_blank 0 HVBAD01
secrets() { printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN"; }
hv enroll --vault "$V" --policy "$POL" --secrets-fd 3 3< <(secrets) >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "fixture: enroll"; }
pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label bad-ec --id 0e01 \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "fixture: keypairgen"; }
hv backup --vault "$V" --secrets-fd 3 3< <(echo "pin $PIN") >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "fixture: backup"; }
hv verify --vault "$V" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "fixture: verify"; }
hv record export --vault "$V" --out "$REC" >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "fixture: record export"; }
printf '%s\n' "$PASS" | hv stick prepare "$IMG" --size 32M $FAST --passphrase-fd 3 3<&0 </dev/null \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "fixture: stick prepare"; }
# the state every case must leave as it found it: the sha256 of every
# file; the 32 MB image is hashed when the command names it ($IMG), and
# otherwise its change time (which any write moves) is compared
state() {
	find "$F" "$C" -type f ! -path "$IMG" -print0 | sort -z | xargs -0 -r sha256sum
	sha256sum "$WORK"/card-*.state
	stat -c '%n %s %Y %Z' "$IMG"
	case $cmd in *'$IMG'*) sha256sum "$IMG" ;; esac
}

echo "fixtures made in $SECONDS s"
KCV=$(ls "$V/keys")
[ -n "$KCV" ] && [ -f "$V/shares/dkek-share-1.pbe" ] && [ -f "$V/journal/000001.yaml" ] ||
	fail "fixture: the vault lacks keys/KCV, a share or a journal entry"

# --- what setups and commands use -----------------------------------------
mkdir -p "$C"
pp() { printf '%s\n' "$PASS"; }                  # the stick's passphrase
vcopy() { cp -a "$V" "$C/v"; }                   # a vault of the case's own
polsed() { sed -e "$1" "$POL" >"$C/p.yaml"; }    # a policy edited by sed
recsed() { sed -e "$1" "$REC" >"$C/r"; }         # a record edited by sed
flip() { # flip FILE OFFSET: one byte changed, the length kept
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "$(printf '\\%03o' $(((b ^ 1) & 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
cut_half() { head -c $(($(stat -c %s "$1") / 2)) "$1" >"$1.cut" && mv "$1.cut" "$1"; }
# shellcheck disable=SC2034 # used by the table's commands (eval)
LONG=$WORK/$(head -c 100000 /dev/zero | tr '\0' a)   # a 100 KB path

# --- the table ---------------------------------------------------------------
n=0 passed=0 failed=0
shopt -s extglob
while IFS='|' read -r area name setup want msg cmd; do
	for f in area name setup want msg cmd; do   # trimmed without a subshell
		printf -v "$f" '%s' "${!f##+([[:space:]])}"
		printf -v "$f" '%s' "${!f%%+([[:space:]])}"
	done
	[ -n "$area" ] || continue
	case $area in '#'*) continue ;; esac
	n=$((n + 1))
	rm -rf "$C" && mkdir -p "$C"
	if [ "$setup" != - ]; then
		eval "$setup" >"$WORK/setup.out" 2>&1 ||
			{ cat "$WORK/setup.out"; fail "$area/$name: setup failed: $setup"; }
	fi
	before=$(state)
	eval "$cmd" >"$WORK/out" 2>"$WORK/err" </dev/null
	rc=$?
	why=""
	lines=$(wc -l <"$WORK/err")
	if [ "$rc" != "$want" ]; then
		why="exit $rc, expected $want"
	elif [ "$msg" = - ]; then
		[ -s "$WORK/err" ] && why="stderr should be empty"
		[ "$want" != 0 ] || [ -s "$WORK/out" ] || why="nothing on stdout"
	elif [ "$lines" != 1 ] || [ "$(wc -c <"$WORK/err")" -le 1 ]; then
		why="$lines lines on stderr, expected exactly one"
	elif ! grep -qE -- "${msg% out~ *}" "$WORK/err"; then
		why="message does not match /${msg% out~ *}/"
	elif [ "${msg#* out~ }" != "$msg" ] && ! grep -qE -- "${msg#* out~ }" "$WORK/out"; then
		why="stdout does not match /${msg#* out~ }/"
	fi
	if grep -qE "AddressSanitizer|LeakSanitizer|runtime error:|not compatible|Block device required|bitmap|Device .* (is|does)|^ext2fs|^libcryptsetup" \
		"$WORK/err"; then
		why="${why:+$why; }a raw library line or a sanitizer report"
	fi
	after=$(state)
	if [ "$after" != "$before" ]; then
		why="${why:+$why; }changed: $(diff <(echo "$before") <(echo "$after") | grep '^>' | head -3 | tr '\n' ' ')"
	fi
	if [ -n "${HV_BADINPUT_DISCOVER:-}" ]; then
		echo "== $area/$name -> $rc ${why:+[$why]} ($SECONDS s)"
		head -c 700 "$WORK/err"; echo
		[ "$rc" = 1 ] && head -c 700 "$WORK/out"
		continue
	fi
	if [ -z "$why" ]; then
		passed=$((passed + 1))
		echo "ok $n $area/$name -> $rc: $(head -c 200 "$WORK/err")"
	else
		failed=$((failed + 1))
		echo "FAIL $n $area/$name: $why"
		echo "   command: $cmd"
		sed 's/^/   stderr: /' "$WORK/err" | head -c 1500
		sed 's/^/   stdout: /' "$WORK/out" | head -c 1500
		echo
	fi
done <"$HV_BADINPUT_TABLE"

for a in policy stick vault secrets records cli; do
	echo "$a: $(grep -cE "^${a}[[:space:]]*\|" "$HV_BADINPUT_TABLE") cases"
done
echo "$n cases, $passed passed"
[ "$n" -ge 80 ] || fail "the table has $n cases; it must keep at least 80"
[ "$failed" = 0 ] && [ "$passed" = "$n" ] || fail "$failed of $n cases failed"
