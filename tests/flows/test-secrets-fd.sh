#!/bin/bash
# Secrets from --secrets-fd follow the terminal's rules and are checked
# before any card sees them: a PIN line with a trailing space, a NUL byte,
# 5 characters or a CR inside, and an SO-PIN that is not 16 hex digits,
# each exit 2 with one line naming the secret (never its value), and the
# card's PIN tries and state are unchanged.
. "$HV_FLOWS_LIB"
V=$WORK/vault
write_policy "$WORK/p.yaml" secretsfd 1 alice
insert_blank 0 HVSFA01
secrets() { printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN"; }
hv enroll --vault "$V" --policy "$WORK/p.yaml" --secrets-fd 3 3< <(secrets) >/dev/null 2>&1 ||
	fail "enroll"

tries() { # the card's user-PIN and SO-PIN tries as card status shows them
	hv card status 2>&1 | grep -E "[0-9]+ tr(y|ies) left|BLOCKED" ||
		fail "card status shows no PIN tries"
}
state() { sha256sum "$WORK/card-0.state" | cut -d' ' -f1; }
before_tries=$(tries)
before_state=$(state)
vault_sum() { find "$V" -type f -exec sha256sum {} + | sort; }
before_vault=$(vault_sum)

# CASE NAME | printf format of the secrets input | command | message
check() {
	local name=$1 fmt=$2 cmd=$3 msg=$4
	# shellcheck disable=SC2086 # the command splits on purpose
	hv $cmd --vault "$V" --secrets-fd 3 3< <(printf "$fmt") >"$WORK/out" 2>"$WORK/err"
	local rc=$?
	[ "$rc" = 2 ] || { cat "$WORK/out" "$WORK/err"; fail "$name: exit $rc, expected 2"; }
	grep -qF -- "$msg" "$WORK/err" || { cat "$WORK/err"; fail "$name: message lacks '$msg'"; }
	[ "$(wc -l <"$WORK/err")" = 1 ] || { cat "$WORK/err"; fail "$name: more than one line"; }
	grep -qF "$PIN" "$WORK/err" && fail "$name: the message shows the PIN"
	[ "$(tries)" = "$before_tries" ] || { tries; fail "$name: the card's PIN tries changed"; }
	[ "$(state)" = "$before_state" ] || fail "$name: the card's state changed"
	[ "$(vault_sum)" = "$before_vault" ] || fail "$name: the vault changed"
	ok "$name -> 2: $(cat "$WORK/err")"
}
check "backup, PIN with a trailing space" "pin $PIN \n" backup \
	"secret pin starts or ends with a space"
check "backup, PIN with a NUL byte" "pin ${PIN:0:3}\\x00${PIN:3}\n" backup \
	"secret pin holds a NUL byte"
check "backup, PIN of 5 characters" "pin ${PIN:0:5}\n" backup \
	"secret pin must be 6 to 16 characters long, 5 were given"
check "backup, PIN with a CR inside" "pin ${PIN:0:3}\r${PIN:3}\n" backup \
	"secret pin holds a carriage return"
check "verify, PIN with a trailing space" "pin $PIN \n" "verify --check-kcv" \
	"secret pin starts or ends with a space"
check "restore, SO-PIN of 15 hex digits" "pin $PIN\nso-pin ${SOPIN:0:15}\n" restore \
	"secret so-pin must be exactly 16 hex digits"

# the good PIN still works and has all its tries: nothing was spent
hv backup --vault "$V" --secrets-fd 3 3< <(echo "pin $PIN") >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "backup with the right PIN"; }
[ "$(tries)" = "$before_tries" ] || { tries; fail "tries after a good backup"; }
ok "backup with the right PIN passes; tries: $(echo $before_tries)"
