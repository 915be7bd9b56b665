#!/bin/sh
# Builds the libFuzzer targets with clang (ASan + UBSan) in BUILD_DIR and runs each for SECONDS:
# rpc (the control protocol's line codec and method dispatch), rtp (the RTP/RTCP parsers,
# telephone-events and the jitter buffer's input), sdp (our reading of the far end's offers and
# answers), keyfile and xml (the two config readers).
# Exits non-zero on a crash, leak or timeout in any of them.
#   tests/fuzz/run-fuzz.sh build-fuzz 60            every target
#   tests/fuzz/run-fuzz.sh build-fuzz 3600 rtp      one target, an hour
set -eu

if [ $# -lt 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS [rpc|rtp|sdp|keyfile|xml ...]" >&2
	exit 2
fi
build=$1
seconds=$2
shift 2
targets=${*:-rpc rtp sdp keyfile xml}
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
	echo "== fuzz-$t for ${seconds}s"
	# The checked-in seeds stay as they are; what the run finds goes to a scratch corpus.
	corpus="$build/fuzz-$t-corpus"
	mkdir -p "$corpus"
	cp "tests/fuzz/corpus-$t"/* "$corpus/"
	dict=""
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	# shellcheck disable=SC2086
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$build/tests/fuzz-$t" \
		-max_total_time="$seconds" \
		-max_len=8192 \
		-timeout=10 \
		-rss_limit_mb=2048 \
		-print_final_stats=1 \
		$dict \
		-artifact_prefix="$build/fuzz-$t-" \
		"$corpus" || status=1
done
exit $status
