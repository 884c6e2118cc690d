#!/usr/bin/env bash
# Prints, as one shell script, the commands of RECOVERY.md (on stdin) that
# open the stick, check its files and close it again: the ```sh blocks of
# the sections "1. Open the stick", "2. Check the files" and "7. Close the
# stick", exactly as written, with the placeholder device /dev/sdX replaced
# by $1. Fails when a section or one of its essential commands is missing.
set -euo pipefail
device=$1

md=$(cat)
steps=$(printf '%s\n' "$md" | awk '
	/^## / { sec = $2; sub(/\.$/, "", sec) }
	/^```sh[ \t]*$/ { if (sec == "1" || sec == "2" || sec == "7") { inblk = 1; found[sec] = 1 } next }
	/^```[ \t]*$/ { inblk = 0; next }
	inblk { print }
	END { if (!found["1"] || !found["2"] || !found["7"]) exit 1 }') || {
	echo "recovery-steps: RECOVERY.md lacks a sh block in section 1, 2 or 7" >&2
	exit 1
}
for cmd in 'cryptsetup open' 'mount ' 'sha256sum -c' 'umount ' 'cryptsetup close'; do
	printf '%s\n' "$steps" | grep -q "$cmd" || {
		echo "recovery-steps: RECOVERY.md's steps have no '$cmd'" >&2
		exit 1
	}
done
printf '%s\n' "$steps" | grep -q '/dev/sdX' || {
	echo "recovery-steps: RECOVERY.md does not name the device as /dev/sdX" >&2
	exit 1
}
printf '%s\n' "$steps" | sed "s|/dev/sdX|$device|g"
