#!/bin/bash
# hv-pty tests itself: typing after a question, signals, exit statuses,
# timeouts, inherited descriptors, and the private-devpts fallback for
# machines whose /dev/ptmx cannot be used (needs root and unshare).
set -u
P=${HV_PTY:?HV_PTY must name hv-pty (set by meson test)}
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
W=$(mktemp -d "${TMPDIR:-/tmp}/hv-pty-test.XXXXXX") || fail "mktemp"
trap 'rm -rf "$W"' EXIT
# run WANT-RC DESCRIPTION hv-pty-args...: output in $W/out
run() {
	local want=$1 what=$2; shift 2
	"$P" "$@" >"$W/out" 2>&1
	local rc=$?
	[ "$rc" = "$want" ] || { cat -A "$W/out" >&2; fail "$what: exit $rc, expected $want"; }
}

run 3 "answer after the question" -e "name? " -s 'bob\n' -- \
	bash -c 'read -r -p "name? " n; echo "hi <$n>"; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && exit 3'
grep -q "hi <bob>" "$W/out" || fail "typed answer not received: $(cat "$W/out")"
ok "question, answer, exit status"

run 0 "controlling terminal" -- bash -c 'exec 4<>/dev/tty && [ "$(ps -o sid= -p $$)" -eq $$ ]'
ok "/dev/tty is the pty, command leads its session"

run 0 "inherited descriptor" -e "secret" -- bash -c 'cat <&3' 3<<<"the secret"
ok "descriptor 3 passed through"

run 0 "escapes" -e "go" -s 'a\tb\\c\x41\101\n' -- \
	bash -c 'echo go; IFS= read -r l; [ "$l" = "$(printf "a\tb\\\\cAA")" ]'
ok "escapes \\t \\\\ \\xHH \\NNN"

run 130 "Ctrl-C" -e "waiting" -s '\003' -- bash -c 'echo waiting; sleep 20'
run 9 "-k INT" -e "ready" -k INT -- bash -c 'trap "exit 9" INT; echo ready; sleep 20 & wait'
run 143 "-k TERM" -e "ready" -k TERM -- bash -c 'echo ready; exec sleep 20'
ok "Ctrl-C, -k INT, -k TERM"

start=$(date +%s)
run 124 "timeout" -t 1 -e "never printed" -- sleep 20
grep -q "timed out after 1 s waiting for 'never printed'" "$W/out" || fail "timeout line: $(cat "$W/out")"
[ $(( $(date +%s) - start )) -lt 10 ] || fail "the timeout did not stop the command"
ok "timeout names the awaited text"

run 125 "steps left" -e "nope" -- echo hello
grep -q "ended (exit status 0) before the step waiting for 'nope'" "$W/out" ||
	fail "steps-left line: $(cat "$W/out")"
run 125 "bad escape" -s 'x\q' -- true
run 127 "missing command" -- /nonexistent/command
ok "steps left, bad escape, missing command"

# /dev/ptmx unusable (as on a CI machine): hv-pty falls back on a devpts of its own.
command -v unshare >/dev/null || fail "unshare missing (util-linux)"
unshare -m --propagation private bash -c \
	'mount --bind /dev/null /dev/ptmx && exec "$0" -e "name? " -s "ann\n" -- bash -c "read -r -p \"name? \" n; echo \"hi <\$n>\""' \
	"$P" >"$W/out" 2>&1 || { cat -A "$W/out" >&2; fail "fallback: exit $?"; }
grep -q "trying a private devpts instance" "$W/out" || fail "fallback not taken: $(cat "$W/out")"
grep -q "hi <ann>" "$W/out" || fail "fallback pty did not work: $(cat "$W/out")"
ok "private devpts fallback"
