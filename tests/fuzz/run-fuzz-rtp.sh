#!/bin/sh
# Builds the media libFuzzer target with clang (ASan + UBSan) in BUILD_DIR and fuzzes the RTP and
# RTCP parsers, telephone-event decoding and the jitter buffer for SECONDS. Exits non-zero on a
# crash, leak or timeout.
#   tests/fuzz/run-fuzz-rtp.sh build-fuzz 60
set -eu

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
fi
build=$1
seconds=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

# Instrument every library for coverage; only the target itself links libFuzzer's main.
if [ -f "$build/build.ninja" ]; then
	meson setup --reconfigure "$build" >/dev/null
else
	CC=clang meson setup "$build" -Dfuzz=true -Dsanitize=true -Db_lundef=false \
		-Dc_args=-fsanitize=fuzzer-no-link >/dev/null
fi
ninja -C "$build" tests/fuzz-rtp

# The checked-in seeds stay as they are; what the run finds goes to a scratch corpus.
corpus="$build/fuzz-rtp-corpus"
mkdir -p "$corpus"
cp tests/fuzz/corpus-rtp/* "$corpus/"

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$build/tests/fuzz-rtp" \
	-max_total_time="$seconds" \
	-max_len=4096 \
	-timeout=10 \
	-rss_limit_mb=2048 \
	-print_final_stats=1 \
	-artifact_prefix="$build/fuzz-rtp-" \
	"$corpus"
