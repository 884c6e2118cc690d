#!/bin/bash
# Restoring a 2-card set (2 DKEK shares, 10 EC P-256 keys; BENCH_KEYS=N for
# another count): OpenSC's tools, step by step as an
# operator types them, against `hsmvault restore`, on the same simulated
# cards behind the same private pcscd. Wall time and card commands (APDUs,
# counted by hsmvault-sim --stats). Run by tests/bench/run.sh (as root,
# under tests/harness/run-in-pcsc-env.sh), never as a meson test.
. "$HV_HARNESS_DIR/pcsc-env.sh"
set -u
W=$HV_PCSC_WORK
fail() { echo "bench-restore: $*" >&2; exit 1; }
# The simulated cards chain to the simulator's test root: trust it, as an
# operator names a root with --trust-dir (restore and enroll check it).
mkdir -p "$W/trust" && "$HSMVAULT_SIM" --print-root >"$W/trust/sim-root.cvc" ||
	fail "hsmvault-sim --print-root"
hv() {
	case $1 in
	enroll | restore | verify) local c=$1; shift; "$HSMVAULT" "$c" --trust-dir "$W/trust" "$@" ;;
	*) "$HSMVAULT" "$@" ;;
	esac
}
PIN=648219
SOPIN=3537363231383830
PW1=bench-share-one
PW2=bench-share-two
R0=$(reader_name 0)
R1=$(reader_name 1)
NKEYS=${BENCH_KEYS:-10}
case $NKEYS in [1-9] | [1-9][0-9]) ;; *) fail "BENCH_KEYS must be 1..99" ;; esac
kid() { printf 'b0%02x' "$1"; } # key id of key N, hex
now() { echo "$EPOCHREALTIME"; }
calc() { awk "BEGIN { printf \"%.3f\", $* }"; }
apdus() { # total APDUs of the stats files given
	local n=0 f v
	for f in "$@"; do
		v=$(sed -n 's/^apdus=//p' "$f" 2>/dev/null)
		n=$((n + ${v:-0}))
	done
	echo "$n"
}

# ---- the vault to restore from (not measured) ----
cat >"$W/p.yaml" <<'P'
format: hsmvault-policy/1
name: bench
cards:
  count: 2
dkek:
  shares:
    - holder: alice
    - holder: bob
P
secrets() { printf 'share-1 %s\nshare-2 %s\nso-pin %s\npin %s\n' "$PW1" "$PW2" "$SOPIN" "$PIN"; }
sim_insert 0 "$W/a.state" --blank --serial BENCHA01
sim_insert 1 "$W/b.state" --blank --serial BENCHB01
echo "preparing: enroll, $NKEYS keys, backup (not measured)..." >&2
hv enroll --vault "$W/vault" --policy "$W/p.yaml" --secrets-fd 3 3< <(secrets) >/dev/null ||
	fail "enroll"
sim_pull 1
for i in $(seq "$NKEYS"); do
	pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label "bench-$i" \
		--id "$(kid "$i")" >/dev/null 2>&1 || fail "keypairgen of key $i"
done
sim_insert 1 "$W/b.state"
hv backup --vault "$W/vault" --secrets-fd 3 3< <(echo "pin $PIN") >/dev/null || fail "backup"
cp "$W/vault/shares/dkek-share-1.pbe" "$W/vault/shares/dkek-share-2.pbe" "$W/"
wraps=("$W"/vault/keys/*/*.wrap)
[ ${#wraps[@]} = "$NKEYS" ] || fail "expected $NKEYS wrap files, got ${#wraps[@]}"
sim_pull 0
sim_pull 1

# ---- OpenSC: the same restore by hand ----
sim_insert 0 "$W/c.state" --blank --serial BENCHC01 --stats "$W/c.stats"
sim_insert 1 "$W/d.state" --blank --serial BENCHD01 --stats "$W/d.stats"
declare -A T N
phase() { # name command...: runs the command for both cards, timing it
	local name=$1; shift
	local a0 t0
	a0=$(apdus "$W/c.stats" "$W/d.stats"); t0=$(now)
	"$@" || fail "OpenSC step '$name' failed"
	T[$name]=$(calc "$(now) - $t0")
	N[$name]=$(( $(apdus "$W/c.stats" "$W/d.stats") - a0 ))
}
o_init() {
	local r l
	for r in "$R0:benchc" "$R1:benchd"; do
		l=${r##*:}
		sc-hsm-tool --reader "${r%:*}" --initialize --so-pin "$SOPIN" --pin "$PIN" \
			--dkek-shares 2 --label "$l" >/dev/null 2>&1 || return 1
	done
}
o_import() {
	local r
	for r in "$R0" "$R1"; do
		sc-hsm-tool --reader "$r" --import-dkek-share "$W/dkek-share-1.pbe" --password "$PW1" \
			>/dev/null 2>&1 || return 1
		sc-hsm-tool --reader "$r" --import-dkek-share "$W/dkek-share-2.pbe" --password "$PW2" \
			>/dev/null 2>&1 || return 1
	done
}
o_unwrap() {
	local r n f
	for r in "$R0" "$R1"; do
		n=0
		for f in "${wraps[@]}"; do
			n=$((n + 1))
			sc-hsm-tool --reader "$r" --unwrap-key "$f" --key-reference "$n" --pin "$PIN" \
				>/dev/null 2>&1 || return 1
		done
	done
}
o_sign() {
	local l i
	echo "bench" >"$W/msg"
	for l in benchc benchd; do
		for i in $(seq "$NKEYS"); do
			pkcs11-tool --token-label "$l" --login --pin "$PIN" --sign --id "$(kid "$i")" \
				-m ECDSA-SHA256 -i "$W/msg" -o "$W/sig" >/dev/null 2>&1 || return 1
		done
	done
}
STEPS=(init import unwrap prove record)
declare -A TITLE=(
	[init]="initialize 2 cards"
	[import]="decrypt 2 DKEK shares, import them into 2 cards"
	[unwrap]="unwrap $NKEYS keys into 2 cards"
	[prove]="prove $((2 * NKEYS)) restored keys by a signature"
	[record]="record the restore in the vault"
)
t_all=$(now)
phase init o_init
phase import o_import
phase unwrap o_unwrap
phase prove o_sign
o_total=$(calc "$(now) - $t_all")
o_apdus=$(apdus "$W/c.stats" "$W/d.stats")
sim_pull 0
sim_pull 1

# ---- hsmvault: one command ----
# Its steps are read off its progress lines, each stamped with the time and
# the APDU count when it appears (the simulators rewrite their counters
# before every answer, and flow_say flushes each line). The cards are worked
# in parallel, so a step ends with its last card's line. Decrypting the
# shares happens before any card is touched; it counts in the import row,
# as sc-hsm-tool decrypts inside --import-dkek-share.
sim_insert 0 "$W/e.state" --blank --serial BENCHE01 --stats "$W/e.stats"
sim_insert 1 "$W/f.state" --blank --serial BENCHF01 --stats "$W/f.stats"
stamp() { # prefixes each line with: seconds-since-T0 apdus. Builtins only:
	# a forked awk or sed per line would lag behind the command and stamp
	# its last steps after it has finished.
	local line f k v n
	while IFS= read -r line; do
		n=0
		for f in "$W/e.stats" "$W/f.stats"; do
			[ -f "$f" ] || continue
			while IFS='=' read -r k v; do
				[ "$k" = apdus ] && n=$((n + v))
			done <"$f"
		done
		printf '%s %s %s\n' "$EPOCHREALTIME" "$n" "$line"
	done
}
T0=$EPOCHREALTIME
set -o pipefail
hv restore --vault "$W/vault" --secrets-fd 3 3< <(secrets) 2>&1 | stamp >"$W/restore.out" ||
	{ cat "$W/restore.out" >&2; fail "hsmvault restore"; }
set +o pipefail
h_total=$(calc "$EPOCHREALTIME - $T0")
h_apdus=$(apdus "$W/e.stats" "$W/f.stats")
grep -q "restored 2 cards" "$W/restore.out" || fail "hsmvault restore did not finish"
mark() { # PATTERN: "seconds apdus" at the last line matching it
	local m
	m=$(grep -E "$1" "$W/restore.out" | tail -n 1 | cut -d' ' -f1,2)
	[ -n "$m" ] || fail "no hsmvault progress line matches '$1'"
	echo "$(calc "${m% *} - $T0") ${m#* }"
}
read -r s_kcv a_kcv < <(mark '^[^ ]+ [0-9]+ DKEK KCV .* matches the vault')
read -r s_init a_init < <(mark ': initialized$')
read -r s_imp a_imp < <(mark ': [0-9]+ shares? imported')
read -r s_unw a_unw < <(mark ' restored at reference ')
read -r s_prv a_prv < <(mark 'every key proven by a signature')
declare -A HT HN
HT[init]=$(calc "$s_init - $s_kcv")
HN[init]=$((a_init - a_kcv))
HT[import]=$(calc "$s_kcv + $s_imp - $s_init")
HN[import]=$((a_kcv + a_imp - a_init))
HT[unwrap]=$(calc "$s_unw - $s_imp")
HN[unwrap]=$((a_unw - a_imp))
HT[prove]=$(calc "$s_prv - $s_unw")
HN[prove]=$((a_prv - a_unw))
HT[record]=$(calc "$h_total - $s_prv")
HN[record]=$((h_apdus - a_prv))

# ---- the table ----
ratio() { # A B: A/B, or a dash when either side did no such step
	awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || a + 0 <= 0 || b + 0 <= 0) print "—"; else printf "%.1f\n", a / b }'
}
out=${BENCH_OUT:-$W/bench-restore.md}
{
	echo "Restore of a 2-card set, 2 DKEK shares, $NKEYS EC P-256 keys, onto factory-blank"
	echo "hsmvault-sim cards; $(nproc) cores, $(date -u +%Y-%m-%d):"
	echo
	echo "| step | OpenSC s | OpenSC APDUs | hsmvault s | hsmvault APDUs | time ratio | APDU ratio |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	for p in "${STEPS[@]}"; do
		ot=${T[$p]:-} on=${N[$p]:-}
		printf '| %s | %s | %s | %.2f | %d | %s | %s |\n' "${TITLE[$p]}" \
			"$([ -n "$ot" ] && printf '%.2f' "$ot" || echo —)" "${on:-—}" \
			"${HT[$p]}" "${HN[$p]}" "$(ratio "$ot" "${HT[$p]}")" "$(ratio "$on" "${HN[$p]}")"
	done
	printf '| **whole restore** | **%.1f** | **%d** | **%.1f** | **%d** | **%s** | **%s** |\n' \
		"$o_total" "$o_apdus" "$h_total" "$h_apdus" "$(ratio "$o_total" "$h_total")" \
		"$(ratio "$o_apdus" "$h_apdus")"
	echo
	echo "Ratios are OpenSC / hsmvault. OpenSC: the commands an operator types, one card after"
	echo "the other (sc-hsm-tool decrypts each share file once per card). hsmvault: one"
	echo "\`hsmvault restore --secrets-fd\`; it decrypts each share once (both in parallel),"
	echo "works both cards at once and checks each signature against the recorded public key;"
	echo "its step times are read off its progress lines (the cards overlap)."
	# Per restored key: the unwrap and proof steps together (the cards
	# overlap, so one card's SIGNs may fall in the other's unwrap window);
	# each card's one ENUMERATE and DKEK status are included.
	nk=$((2 * NKEYS))
	per() { awk -v a="$1" -v k="$nk" 'BEGIN { printf "%.1f", a / k }'; }
	o_key=$(per "$((N[unwrap] + N[prove]))")
	h_key=$(per "$((HN[unwrap] + HN[prove]))")
	met=$(awk -v h="$h_key" 'BEGIN { print (h <= 5) ? "met" : "NOT met" }')
	echo
	echo "| APDUs per restored key (unwrap + proof, $nk keys) | OpenSC | hsmvault | goal |"
	echo "| --- | ---: | ---: | ---: |"
	printf '| unwrap step | %s | %s | ≤ 4 |\n' "$(per "${N[unwrap]}")" "$(per "${HN[unwrap]}")"
	printf '| proof step | %s | %s | 1 |\n' "$(per "${N[prove]}")" "$(per "${HN[prove]}")"
	printf '| **both** | **%s** | **%s** | **≤ 5 (%s)** |\n' "$o_key" "$h_key" "$met"
} | tee "$out"
