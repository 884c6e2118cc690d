#!/bin/bash
# Restoring a 2-card set with 4 keys: OpenSC's tools, step by step as an
# operator types them, against `hsmvault restore`, on the same simulated
# cards behind the same private pcscd. Wall time and card commands (APDUs,
# counted by hsmvault-sim --stats). Run by tests/bench/run.sh (as root,
# under tests/harness/run-in-pcsc-env.sh), never as a meson test.
. "$HV_HARNESS_DIR/pcsc-env.sh"
set -u
W=$HV_PCSC_WORK
fail() { echo "bench-restore: $*" >&2; exit 1; }
hv() { "$HSMVAULT" "$@"; }
PIN=648219
SOPIN=3537363231383830
PW1=bench-share-one
PW2=bench-share-two
R0=$(reader_name 0)
R1=$(reader_name 1)
now() { date +%s.%N; }
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
echo "preparing: enroll, 4 keys, backup (not measured)..." >&2
hv enroll --vault "$W/vault" --policy "$W/p.yaml" --secrets-fd 3 3< <(secrets) >/dev/null ||
	fail "enroll"
sim_pull 1
i=0
for k in EC:prime256v1 EC:prime256v1 rsa:2048 rsa:2048; do
	i=$((i + 1))
	pkcs11-tool --login --pin "$PIN" --keypairgen --key-type "$k" --label "bench-$i" \
		--id "0b0$i" >/dev/null 2>&1 || fail "keypairgen $k"
done
sim_insert 1 "$W/b.state"
hv backup --vault "$W/vault" --secrets-fd 3 3< <(echo "pin $PIN") >/dev/null || fail "backup"
cp "$W/vault/shares/dkek-share-1.pbe" "$W/vault/shares/dkek-share-2.pbe" "$W/"
wraps=("$W"/vault/keys/*/*.wrap)
[ ${#wraps[@]} = 4 ] || fail "expected 4 wrap files, got ${#wraps[@]}"
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
		for i in 1 2 3 4; do
			pkcs11-tool --token-label "$l" --login --pin "$PIN" --sign --id "0b0$i" \
				$([ $i -le 2 ] && echo "-m ECDSA-SHA256" || echo "-m SHA256-RSA-PKCS") \
				-i "$W/msg" -o "$W/sig" >/dev/null 2>&1 || return 1
		done
	done
}
t_all=$(now)
phase "initialize 2 cards" o_init
phase "import 2 DKEK shares into 2 cards" o_import
phase "unwrap 4 keys into 2 cards" o_unwrap
phase "prove 8 restored keys by a signature" o_sign
o_total=$(calc "$(now) - $t_all")
o_apdus=$(apdus "$W/c.stats" "$W/d.stats")
sim_pull 0
sim_pull 1

# ---- hsmvault: one command ----
sim_insert 0 "$W/e.state" --blank --serial BENCHE01 --stats "$W/e.stats"
sim_insert 1 "$W/f.state" --blank --serial BENCHF01 --stats "$W/f.stats"
t0=$(now)
hv restore --vault "$W/vault" --secrets-fd 3 3< <(secrets) >"$W/restore.out" 2>&1 ||
	{ cat "$W/restore.out" >&2; fail "hsmvault restore"; }
h_total=$(calc "$(now) - $t0")
h_apdus=$(apdus "$W/e.stats" "$W/f.stats")
grep -q "restored 2 cards" "$W/restore.out" || fail "hsmvault restore did not finish"

# ---- the table ----
out=${BENCH_OUT:-$W/bench-restore.md}
{
	echo "Restore of a 2-card set, 2 DKEK shares, 4 keys (2 x EC P-256, 2 x RSA 2048),"
	echo "onto factory-blank hsmvault-sim cards, $(nproc) cores:"
	echo
	echo "| step | OpenSC s | OpenSC APDUs | hsmvault s | hsmvault APDUs |"
	echo "| --- | ---: | ---: | ---: | ---: |"
	for p in "initialize 2 cards" "import 2 DKEK shares into 2 cards" \
		"unwrap 4 keys into 2 cards" "prove 8 restored keys by a signature"; do
		printf '| %s | %.1f | %d | | |\n' "$p" "${T[$p]}" "${N[$p]}"
	done
	printf '| **whole restore** | **%.1f** | **%d** | **%.1f** | **%d** |\n' \
		"$o_total" "$o_apdus" "$h_total" "$h_apdus"
	echo
	printf 'hsmvault is %.1fx faster with %.0f%% of the APDUs: it decrypts each share once\n' \
		"$(calc "$o_total / $h_total")" "$(calc "100 * $h_apdus / $o_apdus")"
	echo "(not once per card, and both shares in parallel) and works both cards at once;"
	echo "OpenSC's columns are the commands an operator types, one card after the other."
} | tee "$out"
