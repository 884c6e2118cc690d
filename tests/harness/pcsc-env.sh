# Shell side of the private PC/SC test stack. Sourced (bash) by
# run-in-pcsc-env.sh, which starts pcscd, and by bash tests, which use the
# card functions below. Tests never start pcscd themselves: they run under
#   run-in-pcsc-env.sh TEST [ARGS]
# and find everything in these variables (exported by the wrapper):
#   HV_PCSC_WORK          scratch folder of this run (logs, pids, reader config)
#   HV_READER_COUNT       number of readers
#   HV_READER_<i>_NAME    PC/SC name of reader i (0-based)
#   HV_READER_<i>_PORT    vpcd TCP port of reader i
#   HV_HARNESS_DIR        this folder (to source this file)
#   HV_PCSC_PROBE         the hv-pcsc-probe helper
# and, from meson test(): HSMVAULT, HSMVAULT_SIM, HV_TEST_DATA.
#
# Functions for tests:
#   sim_insert IDX STATEFILE [SIM-ARGS...]  start a simulated card in reader IDX,
#                                           wait until pcscd sees it
#   sim_pull IDX                            stop it, wait until the reader is empty
#   sim_wait_gone IDX [TIMEOUT_S]           the sim ended by itself (--drop-after):
#                                           wait for its exit and the empty reader
#   sim_pid IDX                             pid of the sim in reader IDX (or nothing)
#   reader_name IDX, reader_port IDX
#   hv_require_tool CMD APT-PACKAGE         FAIL (never skip) when CMD is missing
#   hv_fail MESSAGE                         print FAIL and exit 1
#
# Every process the harness starts is recorded in $HV_PCSC_WORK/pids, so the
# wrapper can end it by pid on any exit path, even after a test was killed.

hv_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

hv_note() {
	echo "harness: $*" >&2
}

hv_require_tool() {
	command -v "$1" >/dev/null 2>&1 ||
		hv_fail "'$1' is not installed: install the Debian package '$2' (apt-get install $2)"
}

hv_require_file() {
	[ -e "$1" ] || hv_fail "$1 is missing: install the Debian package '$2' (apt-get install $2)"
}

reader_name() {
	local v="HV_READER_$1_NAME"
	[ -n "${!v:-}" ] || hv_fail "no reader with index $1 (HV_READER_COUNT=${HV_READER_COUNT:-unset})"
	printf '%s\n' "${!v}"
}

reader_port() {
	local v="HV_READER_$1_PORT"
	[ -n "${!v:-}" ] || hv_fail "no reader with index $1 (HV_READER_COUNT=${HV_READER_COUNT:-unset})"
	printf '%s\n' "${!v}"
}

_hv_need_env() {
	[ -n "${HV_PCSC_WORK:-}" ] && [ -d "$HV_PCSC_WORK" ] ||
		hv_fail "not inside the PC/SC harness: run this test through tests/harness/run-in-pcsc-env.sh"
	[ -n "${HV_PCSC_PROBE:-}" ] && [ -x "$HV_PCSC_PROBE" ] ||
		hv_fail "HV_PCSC_PROBE is not set to the hv-pcsc-probe helper (run through meson test)"
}

sim_pid() {
	local f="$HV_PCSC_WORK/pids/sim-$1"
	[ -f "$f" ] && cat "$f"
	return 0
}

# sim_insert IDX STATEFILE [SIM-ARGS...]
sim_insert() {
	_hv_need_env
	local idx="$1" state="$2"
	shift 2
	[ -n "${HSMVAULT_SIM:-}" ] && [ -x "$HSMVAULT_SIM" ] ||
		hv_fail "HSMVAULT_SIM does not name the hsmvault-sim executable (run through meson test)"
	local name port
	name=$(reader_name "$idx") || exit 1
	port=$(reader_port "$idx") || exit 1
	[ -z "$(sim_pid "$idx")" ] || hv_fail "reader $idx already holds a simulated card"
	local log="$HV_PCSC_WORK/sim-$idx.log"
	# A suite run per card family sets HV_SIM_PROFILE for the NEW cards it
	# inserts (no state file yet, or --blank); a caller's own --profile
	# wins, and a card re-inserted from its state file keeps its family.
	local a with_profile=0 new_card=0
	[ -e "$state" ] || new_card=1
	for a in "$@"; do
		case $a in
		--profile | --profile=*) with_profile=1 ;;
		--blank) new_card=1 ;;
		esac
	done
	if [ -n "${HV_SIM_PROFILE:-}" ] && [ "$with_profile" = 0 ] && [ "$new_card" = 1 ]; then
		set -- --profile "$HV_SIM_PROFILE" "$@"
	fi
	# The sim dies with the shell that started it (pdeathsig) even if
	# nothing else gets to clean up; the pid file is for the normal path.
	setpriv --pdeathsig KILL "$HSMVAULT_SIM" --port "$port" --state "$state" "$@" \
		>>"$log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$HV_PCSC_WORK/pids/sim-$idx"
	if ! "$HV_PCSC_PROBE" wait-card "$name" present 10000; then
		hv_note "simulator log ($log):"
		tail -n 20 "$log" >&2
		hv_fail "card in reader $idx ('$name') did not appear"
	fi
}

# Kills a pid: TERM, then KILL after a short grace; reaps it when it is our child.
_hv_kill_pid() {
	local pid="$1" i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 40); do
		kill -0 "$pid" 2>/dev/null || break
		# A zombie child of this shell still answers kill -0: reap it.
		if [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = "Z" ]; then
			break
		fi
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

sim_pull() {
	_hv_need_env
	local idx="$1" pid name
	pid=$(sim_pid "$idx")
	[ -n "$pid" ] || hv_fail "sim_pull: reader $idx holds no simulated card"
	_hv_kill_pid "$pid"
	rm -f "$HV_PCSC_WORK/pids/sim-$idx"
	name=$(reader_name "$idx") || exit 1
	"$HV_PCSC_PROBE" wait-card "$name" absent 10000 ||
		hv_fail "reader $idx ('$name') still shows a card after the simulator was stopped"
}

# sim_wait_gone IDX [TIMEOUT_S]: for a sim that ends by itself.
sim_wait_gone() {
	_hv_need_env
	local idx="$1" t="${2:-10}" pid name i
	pid=$(sim_pid "$idx")
	[ -n "$pid" ] || hv_fail "sim_wait_gone: reader $idx holds no simulated card"
	for i in $(seq 1 $((t * 20))); do
		kill -0 "$pid" 2>/dev/null || break
		[ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" = "Z" ] && break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null && [ "$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)" != "Z" ]; then
		hv_fail "simulator in reader $idx still running after ${t}s"
	fi
	wait "$pid" 2>/dev/null || true
	rm -f "$HV_PCSC_WORK/pids/sim-$idx"
	name=$(reader_name "$idx") || exit 1
	"$HV_PCSC_PROBE" wait-card "$name" absent 10000 ||
		hv_fail "reader $idx ('$name') still shows a card after the simulator ended"
}

# Stops every simulator recorded (by pid). Safe to call more than once.
sim_pull_all() {
	local f
	[ -n "${HV_PCSC_WORK:-}" ] && [ -d "$HV_PCSC_WORK/pids" ] || return 0
	for f in "$HV_PCSC_WORK"/pids/sim-*; do
		[ -f "$f" ] || continue
		_hv_kill_pid "$(cat "$f")"
		rm -f "$f"
	done
}

# ---- used by run-in-pcsc-env.sh only -------------------------------------

_hv_vpcd_driver() {
	printf '%s\n' "${HV_VPCD_DRIVER:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}"
}

# Writes one vpcd entry per reader pair, ports BASE, BASE+2, ...; reader i
# listens on BASE + i (vpcd's second reader uses the entry's PORT+1).
# vpcd keeps its connections in a static array indexed by slot, so two
# entries loading the same driver file overwrite each other's slots (a card
# on one entry's port then shows up in the wrong readers). Each entry
# therefore loads its own copy of the driver: a separate dlopen, separate
# statics.
_hv_write_reader_conf() {
	local dir="$1" entries="$2" base="$3" k port drv copy
	drv=$(_hv_vpcd_driver)
	rm -f "$dir"/*
	mkdir -p "$HV_PCSC_WORK/drivers"
	for ((k = 0; k < entries; k++)); do
		port=$((base + 2 * k))
		copy="$HV_PCSC_WORK/drivers/libifdvpcd-$k.so"
		cp -L "$drv" "$copy" || hv_fail "cannot copy the vpcd driver $drv"
		cat >"$dir/hv-vpcd-$k" <<EOF
FRIENDLYNAME "HV Sim $k"
DEVICENAME   /dev/null:0x$(printf '%04X' "$port")
LIBPATH      $copy
CHANNELID    0x$(printf '%04X' "$port")
EOF
	done
}

# pcsc_env_start ENTRIES: pcscd with 2*ENTRIES readers, variables exported.
pcsc_env_start() {
	local entries="$1" attempt base k i
	local conf="$HV_PCSC_WORK/reader.conf.d"
	mkdir -p "$conf" "$HV_PCSC_WORK/pids"
	for attempt in 1 2 3 4 5; do
		base=$("$HV_PCSC_PROBE" free-ports $((2 * entries))) || hv_fail "no free TCP ports for vpcd"
		_hv_write_reader_conf "$conf" "$entries" "$base"
		# pdeathsig: pcscd must not outlive the wrapper, whatever kills it.
		setpriv --pdeathsig KILL pcscd -f -a -c "$conf" >>"$HV_PCSC_WORK/pcscd.log" 2>&1 </dev/null &
		echo $! >"$HV_PCSC_WORK/pids/pcscd"
		if "$HV_PCSC_PROBE" wait-readers $((2 * entries)) 5000 2>>"$HV_PCSC_WORK/pcscd.log"; then
			break
		fi
		hv_note "pcscd attempt $attempt did not list all readers (ports from $base busy?); retrying"
		_hv_kill_pid "$(cat "$HV_PCSC_WORK/pids/pcscd")"
		rm -f "$HV_PCSC_WORK/pids/pcscd"
		base=""
	done
	if [ -z "$base" ]; then
		tail -n 30 "$HV_PCSC_WORK/pcscd.log" >&2
		hv_fail "pcscd did not come up with $((2 * entries)) vpcd readers (log above)"
	fi
	export HV_READER_COUNT=$((2 * entries))
	for ((k = 0; k < entries; k++)); do
		for i in 0 1; do
			export "HV_READER_$((2 * k + i))_NAME=HV Sim $k 00 0$i"
			export "HV_READER_$((2 * k + i))_PORT=$((base + 2 * k + i))"
		done
	done
	# The names are pcscd's: check they are what the variables say.
	local listed
	listed=$("$HV_PCSC_PROBE" list) || hv_fail "pcscd lists no readers"
	for ((i = 0; i < HV_READER_COUNT; i++)); do
		grep -qxF "$(reader_name "$i")" <<<"$listed" ||
			hv_fail "pcscd did not name a reader '$(reader_name "$i")'; it lists: $listed"
	done
}

# Ends sims and pcscd by pid. Safe to call more than once.
pcsc_env_stop() {
	sim_pull_all
	local f
	[ -n "${HV_PCSC_WORK:-}" ] && [ -d "$HV_PCSC_WORK/pids" ] || return 0
	for f in "$HV_PCSC_WORK"/pids/*; do
		[ -f "$f" ] || continue
		_hv_kill_pid "$(cat "$f")"
		rm -f "$f"
	done
}
