#!/bin/bash
# hsmvault enroll: what it refuses (and that a refusal changes nothing on
# disk or card), a card holding keys wiped only when named, and an n-of-m
# share whose parts go to each holder and rebuild the share's password.
. "$HV_FLOWS_LIB"
sum() { sha256sum "$1" | cut -d' ' -f1; }
secrets() { printf 'share-1 %s\nso-pin %s\npin %s\n' "$SHARE1" "$SOPIN" "$PIN"; }
# refused RC PATTERN VAULT POLICY [args]: enroll fails, cards and vault unchanged
refused() {
	local want=$1 pat=$2 vault=$3 pol=$4; shift 4
	local s0 s1
	s0=$(sum "$WORK/card-0.state"); s1=$(sum "$WORK/card-1.state" 2>/dev/null)
	hv enroll --vault "$vault" --policy "$pol" "$@" >"$WORK/out" 2>&1
	local rc=$?
	[ "$rc" = "$want" ] || { cat "$WORK/out"; fail "enroll $*: exit $rc, expected $want"; }
	grep -q -- "$pat" "$WORK/out" || { cat "$WORK/out"; fail "enroll: no '$pat' in the message"; }
	[ "$(sum "$WORK/card-0.state")" = "$s0" ] || fail "card 0 changed although enroll was refused"
	[ "$(sum "$WORK/card-1.state" 2>/dev/null)" = "$s1" ] || fail "card 1 changed although refused"
	ok "refused ($pat): $(tail -1 "$WORK/out" | head -c 160)"
}

write_policy "$WORK/two.yaml" two 2 alice
write_policy "$WORK/one.yaml" one 1 alice
insert_blank 0 HVENA01

# 1. the policy wants two cards, one is present; no vault folder is left
refused 4 "needs 2 cards, 1 is present" "$WORK/v1" "$WORK/two.yaml" --secrets-fd 3 3< <(secrets)
[ ! -e "$WORK/v1" ] || fail "a refused enroll left the vault folder $WORK/v1"
# 2. a secret missing in batch mode
refused 2 "secret pin is missing from --secrets-fd" "$WORK/v1" "$WORK/one.yaml" --secrets-fd 3 \
	3< <(printf 'share-1 %s\nso-pin %s\n' "$SHARE1" "$SOPIN")
# 3. a misspelt secret name is not ignored
refused 2 "secret pni" "$WORK/v1" "$WORK/one.yaml" --secrets-fd 3 \
	3< <(secrets; echo "pni 123456")
# 4. a bad policy
printf 'format: hsmvault-policy/1\nname: x\ncards:\n  count: 0\n' >"$WORK/bad.yaml"
refused 2 "bad.yaml:" "$WORK/v1" "$WORK/bad.yaml" --secrets-fd 3 3< <(secrets)
[ ! -e "$WORK/v1" ] || fail "a refused enroll left a vault folder"

# 5. a card that holds keys: enrolled into vault A with a key...
hv enroll --vault "$WORK/vA" --policy "$WORK/one.yaml" --secrets-fd 3 3< <(secrets) \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "enroll A"; }
pkcs11-tool --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --label held --id 0e01 \
	>/dev/null 2>&1 || fail "keypairgen"
# ... is not wiped by an enroll into vault B unless named
refused 7 "holds 1 key.*--wipe HVENA01" "$WORK/vB" "$WORK/one.yaml" --secrets-fd 3 \
	3< <(secrets; echo "current-so-pin $SOPIN")
[ ! -e "$WORK/vB" ] || fail "a refused enroll left vault B"
refused 7 "holds 1 key" "$WORK/vB" "$WORK/one.yaml" --wipe HVWRONG1 --secrets-fd 3 \
	3< <(secrets; echo "current-so-pin $SOPIN")
NEWPIN=739146
hv enroll --vault "$WORK/vB" --policy "$WORK/one.yaml" --wipe HVENA01 --secrets-fd 3 \
	3< <(printf 'share-1 other-password\nso-pin %s\npin %s\ncurrent-so-pin %s\n' \
		"$SOPIN" "$NEWPIN" "$SOPIN") >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "enroll --wipe"; }
hv card status --json >"$WORK/st.json" || fail "card status"
kB=$(hv show --vault "$WORK/vB" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"]["dkek"]["kcv"])')
kA=$(hv show --vault "$WORK/vA" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"]["dkek"]["kcv"])')
[ "$kA" != "$kB" ] || fail "the wiped card kept the old DKEK"
if [ "${HV_SIM_PROFILE:-}" = pico-hsm ]; then
	# pico-hsm shows its KCV only after the user PIN: card status (no PIN)
	# says unknown; verify --check-kcv reads it after the PIN
	grep -q '"kcv": *"unknown"' "$WORK/st.json" || { cat "$WORK/st.json"; fail "pico-hsm status shows a KCV without PIN"; }
	hv verify --vault "$WORK/vB" --check-kcv --no-record --secrets-fd 3 3< <(echo "pin $NEWPIN") \
		>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "the card does not carry vault B's KCV $kB"; }
else
	grep -q "\"$kB\"" "$WORK/st.json" || fail "the card does not report vault B's KCV $kB"
fi
! grep -q '"held"' "$WORK/st.json" || fail "the old key survived the wipe"
ok "a card holding keys is enrolled only with --wipe SERIAL (and then carries the new set)"

# 6. n-of-m: share 1's password split 2-of-3; the parts go to --reveal-fd
sim_pull 0
insert_blank 0 HVENC01
write_policy "$WORK/split.yaml" split 1 bob,carol,dave:2
hv enroll --vault "$WORK/vS" --policy "$WORK/split.yaml" --secrets-fd 3 --reveal-fd 4 \
	3< <(printf 'so-pin %s\npin %s\n' "$SOPIN" "$PIN") 4>"$WORK/parts" >"$WORK/out" 2>&1 ||
	{ cat "$WORK/out"; fail "n-of-m enroll"; }
[ "$(stat -c %s "$WORK/parts")" -gt 0 ] || fail "no parts revealed"
for h in bob carol dave; do
	grep -Eq "^share-1-$h [0-9a-f:]+ [0-9]+ [0-9a-f:]+\$" "$WORK/parts" ||
		{ cat "$WORK/parts"; fail "no well-formed part for $h"; }
done
! grep -q "share-1-" "$WORK/out" || fail "a part was printed with the progress lines"
# any two parts rebuild the password: the share decrypts and its MACs check
grep -e '^share-1-carol ' -e '^share-1-dave ' "$WORK/parts" >"$WORK/two-parts"
# (pico-hsm shows the card's KCV only after the PIN: checked with it)
ws_kcv=()
[ "${HV_SIM_PROFILE:-}" = pico-hsm ] && ws_kcv=(--check-kcv) && echo "pin $PIN" >>"$WORK/two-parts"
hv verify --vault "$WORK/vS" --with-shares --no-record "${ws_kcv[@]}" --secrets-fd 3 \
	3<"$WORK/two-parts" >"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "verify with two of three parts"; }
grep -q "share 1 (bob): password correct" "$WORK/out" || fail "the parts did not unlock share 1"
# one part alone does not
grep '^share-1-bob ' "$WORK/parts" >"$WORK/one-part"
hv verify --vault "$WORK/vS" --with-shares --no-record --secrets-fd 3 3<"$WORK/one-part" \
	>"$WORK/out" 2>&1
[ $? = 2 ] || { cat "$WORK/out"; fail "one part of a 2-of-3 split was accepted"; }
grep -q "needs 2 parts of its password, 1 were given" "$WORK/out" || fail "$(cat "$WORK/out")"
ok "n-of-m share: parts revealed one per holder; any two unlock it, one does not"

# 7. Ctrl-C typed the instant a question appears (hv-pty types as soon as
# it sees the prompt, before the process is back in read()): still exit 8
# with the card as it was and no vault. (test-terminal.sh covers Ctrl-C
# while the shares are sealed.)
[ -n "${HV_PTY:-}" ] && [ -x "$HV_PTY" ] || fail "HV_PTY must name hv-pty (run through meson test)"
sim_pull 0
insert_blank 0 HVENE01
s0=$(sum "$WORK/card-0.state")
"$HV_PTY" -t 60 -e "New password of DKEK share 1 (alice): " -s "$SHARE1\\n" \
	-e "Repeat password of DKEK share 1" -s "$SHARE1\\n" \
	-e "New SO-PIN" -s "$SOPIN\\n" -e "Repeat SO-PIN" -s "$SOPIN\\n" \
	-e "New user PIN" -s "$PIN\\n" -e "Repeat user PIN" -s '\003' -- \
	"$HSMVAULT" enroll --trust-dir "$HV_TRUST_DIR" --vault "$WORK/vT" --policy "$WORK/one.yaml" >"$WORK/tty.out" 2>&1
rc=$?
[ "$rc" = 8 ] || { cat -A "$WORK/tty.out"; fail "Ctrl-C at the last question: exit $rc, expected 8"; }
grep -q "interrupted: nothing was changed" "$WORK/tty.out" || fail "$(cat -A "$WORK/tty.out")"
[ ! -e "$WORK/vT" ] || fail "Ctrl-C left a vault folder"
[ "$(sum "$WORK/card-0.state")" = "$s0" ] || fail "Ctrl-C at a question changed the card"
ok "Ctrl-C at the last question: exit 8, nothing changed"

# 8. the main path with two shares, two cards and the SO-PIN kept in the
# vault: every card reports the KCV of the shares, computed independently
# from the share files by hv-dkek-tool (src/crypto only, as sc-hsm-tool).
sim_pull 0
insert_blank 0 HVENF01
insert_blank 1 HVENF02
write_policy "$WORK/duo.yaml" duo 2 alice bob
sed -i 's/so_pin: holders/so_pin: vault/' "$WORK/duo.yaml"
V=$WORK/vD
hv enroll --vault "$V" --policy "$WORK/duo.yaml" --secrets-fd 3 \
	3< <(printf 'share-1 %s\nshare-2 %s\npin %s\n' "$SHARE1" "$SHARE2" "$PIN") \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "enroll of two cards, two shares"; }
hv show --vault "$V" --json >"$WORK/show.json" || fail "show"
python3 - "$WORK/show.json" >"$WORK/facts" <<'PY' || fail "manifest after enroll: $(cat "$WORK/show.json")"
import json, re, sys
m = json.load(open(sys.argv[1]))["manifest"]
d = m["dkek"]
assert re.fullmatch(r"[0-9A-F]{16}", d["kcv"]), d
assert len(d["shares"]) == 2, d
for i, (s, h) in enumerate(zip(d["shares"], ["alice", "bob"])):
    assert s["holders"] == [h] and s["scheme"] == "password", s
    assert re.fullmatch(r"[0-9a-f]{64}", s["sha256"]), s
cards = m["cards"]
assert sorted(c["serial"] for c in cards) == ["HVENF01", "HVENF02"], cards
for c in cards:
    assert re.fullmatch(c["serial"] + r"-[0-9a-f]{16}", c["id"]), c
    assert c["kcv"] == d["kcv"], c
print(d["kcv"])
for s in d["shares"]:
    print(s["file"])
PY
kcv=$(sed -n 1p "$WORK/facts")
f1=$(sed -n 2p "$WORK/facts"); f2=$(sed -n 3p "$WORK/facts")
for i in 0 1; do
	hv card status --reader "$(reader_name $i)" --json >"$WORK/st$i.json" || fail "card status $i"
	if [ "${HV_SIM_PROFILE:-}" = pico-hsm ]; then
		# KCV shown only after the user PIN: unknown here, checked below
		grep -q '"kcv": *"unknown"' "$WORK/st$i.json" ||
			{ cat "$WORK/st$i.json"; fail "pico-hsm card $i shows a KCV without PIN"; }
	else
		grep -q "\"$kcv\"" "$WORK/st$i.json" || { cat "$WORK/st$i.json"; fail "card $i does not report KCV $kcv"; }
	fi
done
if [ "${HV_SIM_PROFILE:-}" = pico-hsm ]; then
	hv verify --vault "$V" --check-kcv --no-record --secrets-fd 3 3< <(echo "pin $PIN") \
		>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "the pico-hsm cards do not carry KCV $kcv"; }
fi
printf '%s' "$SHARE1" >"$WORK/pw1"; printf '%s' "$SHARE2" >"$WORK/pw2"
k=$("$HV_DKEK_TOOL" kcv "$WORK/pw1" "$V/$f1" "$WORK/pw2" "$V/$f2") || fail "hv-dkek-tool kcv"
[ "$k" = "$kcv" ] || fail "the share files give KCV $k, the cards and manifest $kcv"
[ "$(stat -c %a "$V/SO-PIN")" = 600 ] || fail "SO-PIN file mode $(stat -c %a "$V/SO-PIN")"
grep -Eqx '[0-9A-Fa-f]{16}' "$V/SO-PIN" && [ "$(wc -l <"$V/SO-PIN")" = 1 ] ||
	fail "SO-PIN file is not one line of 16 hex digits"
ok "two cards, two shares: KCV $kcv on both cards, in the manifest and from the share files"
# the SO-PIN in the vault is the cards' SO-PIN: it resets the user PIN
so=$(cat "$V/SO-PIN")
pkcs11-tool --slot-index 0 --login --login-type so --so-pin "$so" --init-pin --new-pin "$PIN" \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "the vault's SO-PIN is not the card's"; }
ok "the SO-PIN kept in the vault (policy so_pin: vault) opens the card as SO"
# a vault that holds a card set is not enrolled again (--json: one document)
before=$(ls "$V/manifest")
hv enroll --vault "$V" --policy "$WORK/duo.yaml" --json --secrets-fd 3 \
	3< <(printf 'share-1 %s\nshare-2 %s\npin %s\n' "$SHARE1" "$SHARE2" "$PIN") >"$WORK/out" 2>/dev/null
rc=$?
[ $rc = 7 ] || { cat "$WORK/out"; fail "enroll into an enrolled vault: exit $rc, expected 7"; }
python3 -c '
import json,sys; d=json.load(open(sys.argv[1]))
assert d["ok"] is False and d["error"]["code"]=="safety", d
assert "reshare" in d["error"]["message"] and "restore" in d["error"]["message"], d' "$WORK/out" ||
	fail "enroll --json refusal: $(cat "$WORK/out")"
[ "$(ls "$V/manifest")" = "$before" ] || fail "a refused enroll wrote a manifest version"
ok "an enrolled vault is refused (exit 7, pointing at restore/reshare), nothing written"

# 9. Only genuine cards receive the DKEK. The simulator's factory cards
# (smartcard-hsm profile) chain to its own test root: genuine with
# --trust-dir to it (hv adds it), failed without.
sim_pull 0
sim_pull 1
write_policy "$WORK/one.yaml" one 1 alice
insert_blank 0 HVENG01 --profile smartcard-hsm
attestation() { # JSON of card status -> "status|chain|reason"
	python3 -c '
import json,sys; a=json.load(sys.stdin)["readers"][0]["card"]["attestation"]
print("%s|%s|%s" % (a["status"], " <- ".join(a["chain"]), a["reason"] or ""))'
}
"$HSMVAULT" card status --reader "$(reader_name 0)" --json >"$WORK/st.json" ||
	fail "card status without --trust-dir: $(cat "$WORK/st.json")"
a=$(attestation <"$WORK/st.json") || fail "no attestation in $(cat "$WORK/st.json")"
case $a in failed\|\|*not\ a\ trusted\ anchor*) ;; *) fail "without the test root: '$a'" ;; esac
hv card status --reader "$(reader_name 0)" --json >"$WORK/st.json" || fail "card status"
a=$(attestation <"$WORK/st.json")
case $a in genuine\|HVENG0100000\ \<-\ *\ \<-\ *\|) ;; *) fail "with the test root: '$a'" ;; esac
hv card status --reader "$(reader_name 0)" >"$WORK/st.out" || fail "card status (text)"
grep -q "genuine:   yes, device certificate HVENG0100000 <- .* <- " "$WORK/st.out" ||
	{ cat "$WORK/st.out"; fail "card status does not show the chain"; }
ok "card status: the sim's chain is 'failed' without --trust-dir, 'genuine' ($a) with it"

# ... and enroll refuses the card without the test root: exit 7, unchanged
s0=$(sum "$WORK/card-0.state")
"$HSMVAULT" enroll --vault "$WORK/vN" --policy "$WORK/one.yaml" --secrets-fd 3 3< <(secrets) \
	>"$WORK/out" 2>&1
rc=$?
[ $rc = 7 ] || { cat "$WORK/out"; fail "enroll of an unanchored card: exit $rc, expected 7"; }
grep -q "card HVENG01 in reader .* failed its device authentication check.*--trust-dir" \
	"$WORK/out" || { cat "$WORK/out"; fail "no failed-chain message"; }
[ "$(sum "$WORK/card-0.state")" = "$s0" ] || fail "a card with an untrusted chain was changed"
[ ! -e "$WORK/vN" ] || fail "a refused enroll left a vault"
ok "enroll without the card's root: refused (exit 7), card unchanged"

# a forged chain (one byte of the device certificate's signature flipped)
# is refused even with the root trusted, before anything is asked
sim_pull 0
insert_blank 0 HVENK01 --profile smartcard-hsm --forge-devaut
hv card status --reader "$(reader_name 0)" --json >"$WORK/st.json" || fail "card status"
a=$(attestation <"$WORK/st.json")
case $a in failed\|\|*does\ not\ verify*) ;; *) fail "forged chain shown as '$a'" ;; esac
refused 7 "failed its device authentication check" "$WORK/vF" "$WORK/one.yaml" \
	--secrets-fd 3 3< <(secrets)
! grep -q -- "--trust-dir" "$WORK/out" ||
	fail "a forged signature is not the operator's root to trust: $(cat "$WORK/out")"
[ ! -e "$WORK/vF" ] || fail "a refused enroll left a vault"
ok "a forged device chain: card status says failed, enroll refuses it unchanged"

# a genuine card: enrolled, its device certificate and verdict recorded
sim_pull 0
insert_blank 0 HVENM01 --profile smartcard-hsm
hv enroll --vault "$WORK/vG" --policy "$WORK/one.yaml" --secrets-fd 3 3< <(secrets) \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "enroll of a genuine card"; }
grep -q "card HVENM01 in reader .*: genuine (HVENM0100000 <- " "$WORK/out" ||
	{ cat "$WORK/out"; fail "enroll does not say the card is genuine"; }
hv show --vault "$WORK/vG" --json | python3 -c '
import json,sys; c=json.load(sys.stdin)["manifest"]["cards"][0]
assert c["attestation"] == "genuine", c
assert c["devcert"].startswith("7f21") and len(c["devcert"]) > 200, c' ||
	fail "the manifest does not record the genuine card's certificate"
# the same serial on another card (a new device key): verify says so
sim_pull 0
insert_blank 0 HVENM01 --profile smartcard-hsm
hv verify --vault "$WORK/vG" --no-record >"$WORK/out" 2>&1
rc=$?
[ $rc = 1 ] || { cat "$WORK/out"; fail "verify of a replaced card: exit $rc, expected 1"; }
grep -q "DIFFERENCE: card HVENM01 .*another device certificate than the one recorded" \
	"$WORK/out" || { cat "$WORK/out"; fail "verify does not name the changed certificate"; }
ok "genuine card enrolled (manifest: attestation genuine, devcert); a look-alike is a DIFFERENCE"

# 10. pico-hsm cannot prove it is genuine: a factory-fresh one has no
# device certificate at all (made at its first INITIALIZE), then a
# self-signed one. Refused under the default policy, unchanged; accepted
# with cards.unattested: accept.
sim_pull 0
insert_blank 0 HVENP01 --profile pico-hsm
hv card status --reader "$(reader_name 0)" --json >"$WORK/st.json" || fail "card status"
a=$(attestation <"$WORK/st.json")
[ "$a" = "not-attested||no device certificate until first initialization" ] ||
	fail "a blank pico-hsm shown as '$a'"
printf 'format: hsmvault-policy/1\nname: p\ncards:\n  count: 1\ndkek:\n  shares:\n    - holder: alice\n' \
	>"$WORK/strict.yaml"
refused 7 "set cards.unattested: accept in the policy" "$WORK/vP" "$WORK/strict.yaml" \
	--secrets-fd 3 3< <(secrets)
grep -q "is not attested (no device certificate until first initialization)" "$WORK/out" ||
	{ cat "$WORK/out"; fail "the refusal does not say why"; }
[ ! -e "$WORK/vP" ] || fail "a refused enroll left a vault"
sed 's/  count: 1/  count: 1\n  unattested: accept/' "$WORK/strict.yaml" >"$WORK/lax.yaml"
hv enroll --vault "$WORK/vP" --policy "$WORK/lax.yaml" --secrets-fd 3 3< <(secrets) \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "enroll of a pico-hsm under unattested: accept"; }
grep -q "not attested: self-signed device certificate" "$WORK/out" ||
	{ cat "$WORK/out"; fail "enroll did not judge the certificate made at INITIALIZE"; }
hv show --vault "$WORK/vP" --json | python3 -c '
import json,sys; c=json.load(sys.stdin)["manifest"]["cards"][0]
assert c["attestation"] == "not-attested", c
assert c["devcert"].startswith("7f21"), c' ||
	fail "the manifest does not record the pico-hsm's certificate"
hv card status --reader "$(reader_name 0)" --json >"$WORK/st.json" || fail "card status"
a=$(attestation <"$WORK/st.json")
case $a in not-attested\|\|self-signed\ device\ certificate*) ;; *) fail "enrolled pico: '$a'" ;; esac
hv verify --vault "$WORK/vP" --no-record --check-kcv --secrets-fd 3 3< <(echo "pin $PIN") \
	>"$WORK/out" 2>&1 || { cat "$WORK/out"; fail "verify of the enrolled pico-hsm"; }
ok "pico-hsm: not attested; refused by default (unchanged), enrolled under unattested: accept"
