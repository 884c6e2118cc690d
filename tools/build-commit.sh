#!/bin/sh
# Prints the commit hsmvault is built from, for `hsmvault --version`
# (meson's vcs_tag runs this at every build; see src/cli/meson.build).
#   SOURCE_DIR is a git work tree:  12 hex digits of HEAD, "-dirty" if a tracked
#                                   file differs from it
#   made by `git archive`:         the commit git wrote into tools/build-commit.txt
#   anything else:                 "unknown"
# Only the commit, never a date or a path: two builds of one commit must give
# the same binary (tests/package/test-reproducible.sh). Tags are not used, so a
# clone and an archive of one commit say the same thing.
src=${1:-.}
cd "$src" || exit 1
# Every build runs this: never take the index lock a concurrent git command needs.
export GIT_OPTIONAL_LOCKS=0
top=$(git rev-parse --show-toplevel 2>/dev/null) && [ "$top" -ef . ] &&
	exec git describe --always --dirty --abbrev=12 --exclude='*'
# A source tree inside some other repository (an unpacked tarball) falls through.
archived=$(cat tools/build-commit.txt 2>/dev/null)
case $archived in
[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*)
	printf '%.12s\n' "$archived" ;;
*)	echo unknown ;;
esac
