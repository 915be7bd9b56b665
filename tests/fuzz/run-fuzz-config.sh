#!/bin/sh
# Builds the config loaders' libFuzzer targets with clang (ASan + UBSan) in BUILD_DIR and fuzzes
# the key-file reader and the SipEndpoint.config reader for SECONDS each (or only the one
# named). Exits non-zero on a crash, leak or timeout.
#   tests/fuzz/run-fuzz-config.sh build-fuzz 60 [keyfile|xml]
set -eu

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: $0 BUILD_DIR SECONDS [keyfile|xml]" >&2
	exit 2
fi
build=$1
seconds=$2
targets=${3:-keyfile xml}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

# Instrument every library for coverage; only the targets themselves link libFuzzer's main.
if [ -f "$build/build.ninja" ]; then
	meson setup --reconfigure "$build" >/dev/null
else
	CC=clang meson setup "$build" -Dfuzz=true -Dsanitize=true -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
for t in $targets; do
	ninja -C "$build" "tests/fuzz-$t"
done

status=0
for t in $targets; do
	# The checked-in seeds stay as they are; what the run finds goes to a scratch corpus.
	corpus="$build/fuzz-$t-corpus"
	mkdir -p "$corpus"
	cp "tests/fuzz/corpus-config-$t"/* "$corpus/"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$build/tests/fuzz-$t" \
		-max_total_time="$seconds" \
		-max_len=8192 \
		-timeout=10 \
		-rss_limit_mb=2048 \
		-print_final_stats=1 \
		-dict="tests/fuzz/config-$t.dict" \
		-artifact_prefix="$build/fuzz-$t-" \
		"$corpus" || status=1
done
exit $status
