#!/usr/bin/env bash
# Checks contrib/bash-completion/hsmvault without the bash-completion
# package: calls the completion function with COMP_WORDS/COMP_CWORD set, as
# bash does on <TAB>, and compares COMPREPLY with what is expected. Then
# checks that every option offered for a command is one that command's
# --help names, so the completion cannot drift from the real commands.
# usage: test-completion.sh COMPLETION-FILE HSMVAULT-EXE
comp=$1
exe=$2
fails=0

# shellcheck source=/dev/null
. "$comp" || { echo "FAIL: cannot source $comp"; exit 1; }

# expect "WORDS..." "EXPECTED COMPREPLY (sorted, space-separated)"
# The last word is the one being completed (may be empty).
expect() {
	local line=$1 want=$2
	read -r -a COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_hsmvault
	local got
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	got=${got% }
	if [ "$got" = "$want" ]; then
		echo "ok: '$line' -> $got"
	else
		echo "FAIL: '$line' -> '$got', expected '$want'"
		fails=$((fails + 1))
	fi
}

expect "hsmvault en" "enroll"
expect "hsmvault re" "record reshare restore"
expect "hsmvault verify --d" "--deep"
expect "hsmvault verify --w" "--with-shares"
expect "hsmvault stick p" "passphrase prepare"
expect "hsmvault stick passphrase " "add remove"
expect "hsmvault stick prepare --backend " "kernel userspace"
expect "hsmvault stick prepare --sector-size 4" "4096"
expect "hsmvault record " "export"
expect "hsmvault record export --o" "--out"
expect "hsmvault card s" "status"
expect "hsmvault card status --r" "--reader"
expect "hsmvault reshare --vault v --th" "--threshold"
expect "hsmvault restore --p" "--passphrase-fd --policy"
expect "hsmvault verify --reader " ""
expect "hsmvault backup --secrets-fd " ""

# Files for --vault / --policy / --record / --out and stick operands.
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/vault-a"
: >"$tmp/policy-1.yaml"
: >"$tmp/record.yaml"
expect "hsmvault enroll --policy $tmp/pol" "$tmp/policy-1.yaml"
expect "hsmvault log --vault $tmp/va" "$tmp/vault-a"
expect "hsmvault verify --record $tmp/rec" "$tmp/record.yaml"
expect "hsmvault record export --vault v --out $tmp/re" "$tmp/record.yaml"
expect "hsmvault policy check $tmp/po" "$tmp/policy-1.yaml"
expect "hsmvault drill --workdir $tmp/v" "$tmp/vault-a"

# Every option the completion offers must appear in the command's --help.
for path in enroll reshare backup verify restore adopt drill log show "record export" \
	"card status" "policy check" "stick list" "stick prepare" "stick status" \
	"stick open" "stick passphrase add" "stick passphrase remove"; do
	read -r -a words <<<"$path"
	help=$("$exe" "${words[0]}" --help 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: '$exe ${words[0]} --help' exited $rc: $help"
		fails=$((fails + 1))
		continue
	fi
	for opt in $(_hsmvault_options "$path"); do
		[ "$opt" = --help ] && continue
		if ! grep -q -e "$opt\b" <<<"$help"; then
			echo "FAIL: completion offers $opt for '$path' but 'hsmvault ${words[0]} --help' does not name it"
			fails=$((fails + 1))
		fi
	done
done

# And the other way round: every option a command's usage lines name is
# offered (commands added later, like --check-kcv, must not be forgotten),
# except the two the completion leaves out on purpose.
usage_options() { # PATH: the options of PATH's usage lines
	local -a w
	read -r -a w <<<"$1"
	"$exe" "${w[0]}" --help 2>&1 | awk -v sub_="${w[1]:-}" -v sub2="${w[2]:-}" '
		/^usage:/ { u = 1 }
		u && /^$/ { exit }
		!u { next }
		/hsmvault / {
			n = split($0, f, " "); mine = 0
			for (i = 1; i < n; i++) if (f[i] == "hsmvault") {
				mine = (sub_ == "" || f[i + 2] == sub_) && (sub2 == "" || f[i + 3] == sub2)
				if (sub_ != "" && f[i + 2] != sub_) mine = 0
			}
		}
		mine { print }' | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}
for path in enroll reshare backup verify restore adopt drill log show "record export" \
	"card status" "policy check" "stick list" "stick prepare" "stick status" \
	"stick open" "stick close" "stick passphrase add" "stick passphrase remove" \
	"stick header-backup" "stick repair" "stick copy" "stick compare" "stick sync"; do
	offered=" $(_hsmvault_options "$path") "
	n=0
	for opt in $(usage_options "$path"); do
		n=$((n + 1))
		case $opt in --batch | --insecure-fast-kdf-for-tests) continue ;; esac
		if [[ $offered != *" $opt "* ]]; then
			echo "FAIL: 'hsmvault $path' has $opt in its usage but the completion does not offer it"
			fails=$((fails + 1))
		fi
	done
	echo "ok: '$path': $n usage option(s) checked"
done
expect "hsmvault verify --check" "--check-kcv"
expect "hsmvault stick r" "repair"
expect "hsmvault stick prepare --it" "--iter-time"
expect "hsmvault stick prepare --pbkdf-m" "--pbkdf-memory"
expect "hsmvault card status --trust-dir $tmp/va" "$tmp/vault-a"
expect "hsmvault drill --profile p" "pico-hsm"

echo "completion: $fails failure(s)"
[ $fails -eq 0 ]
