#!/bin/sh
# Checks the built man pages: man -l renders each without a warning, and softphoned.conf(5)
# documents every key of the example configuration and of the config reader's key lists.
#
# usage: check-man.sh MAN_DIR SOURCE_ROOT
#   MAN_DIR      the build's docs/man/ directory (softphoned.8, softphonectl.1, softphoned.conf.5)
#   SOURCE_ROOT  the source tree (config/softphoned.conf.example, config/config.c)
set -eu

man_dir=${1:?usage: check-man.sh MAN_DIR SOURCE_ROOT}
src=${2:?usage: check-man.sh MAN_DIR SOURCE_ROOT}

fail() {
	echo "check-man: $*" >&2
	exit 1
}

command -v man >/dev/null || fail "man not found (package man-db)"

status=0
for page in softphoned.8 softphonectl.1 softphoned.conf.5; do
	[ -s "$man_dir/$page" ] || fail "$man_dir/$page is missing or empty"
	# --warnings makes groff report every problem (unknown macros, bad escapes, lines
	# that cannot be adjusted...) on stderr; the page must render without one.
	out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$man_dir/$page" 2>&1 >/dev/null) ||
		{ echo "check-man: man -l $page failed: $out" >&2; status=1; continue; }
	if [ -n "$out" ]; then
		echo "check-man: $page: $out" >&2
		status=1
	fi
	MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$man_dir/$page" 2>/dev/null | grep -q '^NAME' ||
		{ echo "check-man: $page renders without a NAME section" >&2; status=1; }
done

# Every key: those the example shows ("key=" or "#key=" at the start of a line) and those the
# key-file reader accepts (the connection key table and the group key lists of config.c).
rendered=$(MANWIDTH=200 LC_ALL=C.UTF-8 man -l "$man_dir/softphoned.conf.5" 2>/dev/null)
keys=$(
	{
		sed -n 's/^#\{0,1\}\([a-z][a-z0-9-]*\)=.*/\1/p' "$src/config/softphoned.conf.example"
		sed -n 's/^[[:space:]]*{"\([a-z][a-z0-9-]*\)", VALUE_.*/\1/p' "$src/config/config.c"
		# The [daemon], [policy] and [audio] key lists: quoted names up to the closing };
		sed -n '/^static const char \*const [a-z_]*_keys\[\] = {/,/^};/p' \
			"$src/config/config.c" | grep -o '"[a-z][a-z0-9-]*"' | tr -d '"'
	} | sort -u
)
[ -n "$keys" ] || fail "found no keys in the example or in config.c"
for key in $keys; do
	printf '%s\n' "$rendered" | grep -q -- "$key=" || {
		echo "check-man: softphoned.conf(5) does not document $key=" >&2
		status=1
	}
done
for group in daemon policy audio "connection N"; do
	printf '%s\n' "$rendered" | grep -q -- "\[$group\]" || {
		echo "check-man: softphoned.conf(5) has no [$group] section" >&2
		status=1
	}
done
exit $status
