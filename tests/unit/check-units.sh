#!/bin/sh
# Checks the generated systemd units with systemd-analyze verify; any warning about them fails.
#
# usage: check-units.sh UNITS_DIR [SOFTPHONED]
#   UNITS_DIR   the build's systemd/ directory (holding system/ and user/)
#   SOFTPHONED  the built daemon (default: $SOFTPHONED). systemd-analyze insists that
#               ExecStart names an existing binary, so copies of the units point at it.
set -eu

units_dir=${1:?usage: check-units.sh UNITS_DIR [SOFTPHONED]}
softphoned=${2:-${SOFTPHONED:-}}

fail() {
	echo "check-units: $*" >&2
	exit 1
}

[ -n "$softphoned" ] || fail "no daemon binary given (argument 2 or \$SOFTPHONED)"
[ -x "$softphoned" ] || fail "$softphoned is not an executable"
# ExecStart= wants an absolute path.
softphoned=$(cd "$(dirname "$softphoned")" && pwd -P)/$(basename "$softphoned")
command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (package systemd)"
# Documentation= names the man pages, which a build tree has not installed (the package test
# verifies the installed units with them).

work=$(mktemp -d "${TMPDIR:-/tmp}/check-units.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

status=0
for scope in system user; do
	mkdir -p "$work/$scope"
	for unit in softphoned.service softphoned.socket; do
		src="$units_dir/$scope/$unit"
		[ -f "$src" ] || fail "$src is missing"
		if grep -n '@[a-z_]*@' "$src"; then
			echo "check-units: $src: placeholder left unconfigured" >&2
			status=1
		fi
		# Keep the arguments, swap the installed path of the binary for the built one.
		sed "s|^ExecStart=[^ ]*/softphoned\\( \\)\\{0,1\\}|ExecStart=$softphoned\\1|" \
			"$src" >"$work/$scope/$unit"
	done
	grep -q "^ExecStart=$softphoned\\( \\|\$\\)" "$work/$scope/softphoned.service" ||
		fail "$scope/softphoned.service: no ExecStart= running softphoned"
done

# What the product promises, checked in the units as generated.
sys="$work/system/softphoned.service"
for line in 'Type=notify' 'NotifyAccess=main' 'WatchdogSec=30' 'Restart=on-failure' \
	'RuntimeDirectory=softphoned' 'RuntimeDirectoryMode=0700' 'NoNewPrivileges=yes' \
	'ProtectSystem=strict' 'DevicePolicy=closed' 'DeviceAllow=char-alsa rw'; do
	grep -qx "$line" "$sys" || { echo "check-units: system service lacks $line" >&2; status=1; }
done
grep -q '^ExecStart=.* --socket /run/softphoned/control$' "$sys" ||
	{ echo "check-units: system service does not use /run/softphoned/control" >&2; status=1; }
grep -qx 'ListenStream=/run/softphoned/control' "$work/system/softphoned.socket" ||
	{ echo "check-units: system socket does not listen on /run/softphoned/control" >&2; status=1; }
grep -qx 'ListenStream=%t/softphoned/control' "$work/user/softphoned.socket" ||
	{ echo "check-units: user socket does not listen on %t/softphoned/control" >&2; status=1; }
for f in "$work/system/softphoned.socket" "$work/user/softphoned.socket"; do
	grep -qx 'SocketMode=0600' "$f" && grep -qx 'DirectoryMode=0700' "$f" ||
		{ echo "check-units: $f: socket must be 0600 in a 0700 directory" >&2; status=1; }
done

# A user manager needs a runtime directory of its own to start.
mkdir -m 0700 "$work/runtime"

for scope in system user; do
	out="$work/$scope.log"
	rc=0
	what="systemd-analyze verify"
	if [ "$scope" = user ]; then
		what="systemd-analyze --user verify"
		(cd "$work/$scope" && XDG_RUNTIME_DIR="$work/runtime" \
			systemd-analyze --user verify --man=no ./softphoned.service ./softphoned.socket) \
			>"$out" 2>&1 || rc=$?
	else
		(cd "$work/$scope" &&
			systemd-analyze verify --man=no ./softphoned.service ./softphoned.socket) \
			>"$out" 2>&1 || rc=$?
	fi
	sed "s|^|$scope: |" "$out"
	if [ "$rc" -ne 0 ]; then
		echo "check-units: $what failed ($rc) for the $scope units" >&2
		status=1
	fi
	# Messages about other units on this machine are not ours to fix.
	if grep -q 'softphoned\.\(service\|socket\)' "$out"; then
		echo "check-units: systemd-analyze warned about the $scope units" >&2
		status=1
	fi
done

[ "$status" -eq 0 ] && echo "check-units: system and user units OK"
exit "$status"
