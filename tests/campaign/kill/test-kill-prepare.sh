#!/bin/bash
# Kill campaign, stick prepare of a new 32 MiB image (fast test KDF): every
# write of libcryptsetup (LUKS2 header, keyslot) and of the XTS layer
# (ext4, vault skeleton) is a point. A killed prepare must leave nothing
# that loads as a vault: `log` either refuses the image with a message
# (exit status 2 to 7, never a crash or an internal error) or, once the
# marker is in, loads the whole new vault. The rerun (the image is no longer
# empty: --confirm-device) prepares it again.
. "$HV_FLOWS_LIB"
. "$HV_KILL_LIB"
CARDS=""
STICK_PASS=kill-campaign-stick
IMG=$T/stick.img
run_flow() {
	local confirm=()
	[ -e "$IMG" ] && confirm=(--confirm-device "$IMG")
	hv stick prepare "$IMG" --size 32M --batch "${confirm[@]}" --insecure-fast-kdf-for-tests \
		--passphrase-fd 4 4<<<"$STICK_PASS" >"$1" 2>&1
}
versions_of() {
	local out rc
	out=$("$HSMVAULT" log --vault "$IMG" --json --passphrase-fd 3 3<<<"$STICK_PASS" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then
		echo "$(grep -o '"version": *[0-9]*' <<<"$out" | wc -l) versions"
	elif [ $rc -ge 2 ] && [ $rc -le 7 ]; then
		echo "no vault"
	else
		printf 'exit %s: %s\n' "$rc" "$out"
		return 1
	fi
}
# The rerun is a whole new prepare: its vault (marker, version 1, the
# skeleton's files) read through hsmvault, without a decrypted copy.
result_of() {
	local out
	out=$("$HSMVAULT" show --vault "$IMG" --json --passphrase-fd 3 3<<<"$STICK_PASS" 2>&1) ||
		{ echo "show: $out"; return 1; }
	printf '%s\n' "$out" | sed -E 's/[0-9a-f]{64}/H/g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+Z/T/g'
	versions_of
}
kill_campaign stick-prepare
