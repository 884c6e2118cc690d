#!/bin/bash
# Self-test of the PC/SC harness with a stand-in card (fake-card.py):
# readers named and listed, cards inserted and pulled, a card that leaves by
# itself, teardown on timeout and on a signal, and a FAIL naming the apt
# package when the vpcd driver is missing.
set -eu
. "$HV_HARNESS_DIR/pcsc-env.sh"
hv_require_tool opensc-tool opensc

[ "$HV_READER_COUNT" = 4 ] || hv_fail "expected 4 readers, got $HV_READER_COUNT"
listed=$("$HV_PCSC_PROBE" list)
for i in 0 1 2 3; do
	grep -qxF "$(reader_name "$i")" <<<"$listed" || hv_fail "reader $i not listed: $listed"
done
# Entries are spaced two ports apart; reader 2k+1 is on the entry's port + 1.
[ $(($(reader_port 1) - $(reader_port 0))) = 1 ] || hv_fail "reader 1 port"
[ $(($(reader_port 2) - $(reader_port 0))) = 2 ] || hv_fail "reader 2 port"

work="$HV_PCSC_WORK"
# Alive = exists and is not a zombie (PID 1 of a container may be slow to
# reap orphans, and kill -0 succeeds on zombies).
alive() { kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" | cut -c1)" != Z ]; }
sim_insert 0 "$work/card0.state"
sim_insert 3 "$work/card3.state"
atr=$(opensc-tool --reader "$(reader_name 0)" --atr 2>&1)
grep -qi "3b:fe:18:00:00:81:31:fe:45:80:31:81:54:48:53:4d:31:73:80:21:40:81:07:fa" <<<"$atr" ||
	hv_fail "ATR of the card in reader 0 not seen: $atr"
"$HV_PCSC_PROBE" wait-card "$(reader_name 3)" present 1000 || hv_fail "reader 3 lost its card"
"$HV_PCSC_PROBE" wait-card "$(reader_name 1)" absent 1000 || hv_fail "reader 1 shows a card"

pid0=$(sim_pid 0)
sim_pull 0
! alive "$pid0" || hv_fail "sim $pid0 still running after sim_pull"
[ -z "$(sim_pid 0)" ] || hv_fail "pid file of reader 0 left behind"
"$HV_PCSC_PROBE" wait-card "$(reader_name 3)" present 1000 || hv_fail "pulling reader 0 pulled reader 3"

# A card that leaves in the middle of the first APDU.
sim_insert 1 "$work/card1.state" --drop-after 1
out=$(opensc-tool --reader "$(reader_name 1)" --send-apdu 00A4040000 2>&1) &&
	hv_fail "an APDU to a card that left succeeded: $out"
sim_wait_gone 1 5

# Teardown on timeout: a nested harness whose test hangs.
inner="$work/inner"
mkdir -p "$inner"
cat >"$inner/hang.sh" <<'IN'
#!/bin/bash
. "$HV_HARNESS_DIR/pcsc-env.sh"
sim_insert 0 "$HV_PCSC_WORK/c.state"
cat "$HV_PCSC_WORK/pids/pcscd" >"$OUT/pcscd.pid"
sim_pid 0 >"$OUT/sim.pid"
sleep 300
IN
chmod +x "$inner/hang.sh"
set +e
OUT="$inner" HV_TEST_TIMEOUT=3 env -u HV_PCSC_IN_NS "$HV_WRAPPER" "$inner/hang.sh" 2>"$inner/timeout.err"
rc=$?
set -e
[ "$rc" = 124 ] || { cat "$inner/timeout.err" >&2; hv_fail "timed-out test: status $rc, expected 124"; }
for f in pcscd sim; do
	p=$(cat "$inner/$f.pid")
	[ -n "$p" ] || hv_fail "inner test did not record its $f pid"
	! alive "$p" || hv_fail "$f ($p) still running after the timeout"
done

# Teardown on SIGTERM (what meson sends on its own timeout).
rm -f "$inner"/*.pid
OUT="$inner" env -u HV_PCSC_IN_NS "$HV_WRAPPER" "$inner/hang.sh" 2>"$inner/term.err" &
wpid=$!
for _ in $(seq 1 200); do [ -s "$inner/sim.pid" ] && break; sleep 0.05; done
[ -s "$inner/sim.pid" ] || hv_fail "inner test did not start"
kill -TERM "$wpid"
set +e
wait "$wpid"
rc=$?
set -e
[ "$rc" = 143 ] || { cat "$inner/term.err" >&2; hv_fail "terminated harness: status $rc, expected 143"; }
sleep 0.2
for f in pcscd sim; do
	p=$(cat "$inner/$f.pid")
	! alive "$p" || hv_fail "$f ($p) still running after SIGTERM"
done

# The failed inner runs kept their scratch folders on purpose: remove them.
sed -n 's/^harness: scratch folder kept: //p' "$inner"/*.err | while read -r d; do
	case "$d" in */hv-pcsc.*) rm -rf -- "$d" ;; esac
done

# A missing tool is a FAIL that names the package, never a skip.
set +e
err=$(HV_VPCD_DRIVER=/nonexistent/libifdvpcd.so env -u HV_PCSC_IN_NS "$HV_WRAPPER" /bin/true 2>&1)
rc=$?
set -e
[ "$rc" != 0 ] || hv_fail "a missing vpcd driver did not fail the test"
grep -q "vsmartcard-vpcd" <<<"$err" || hv_fail "missing driver message does not name the package: $err"

echo "harness self-test passed"
