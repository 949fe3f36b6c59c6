#!/usr/bin/env bash
# `make fuzz FUZZ_SECONDS=N [FUZZ_TARGETS="FuzzLoad FuzzScore FuzzSample FuzzState"]`:
# builds the libFuzzer targets with ASan (kept out of the default build: Package.swift adds
# them only when SWIFTRNN_FUZZ is set) and runs each for N seconds on the committed seeds
# (Fuzz/corpus/*) plus a working corpus under .build-fuzz/. Crashes land in fuzz-artifacts/;
# turn each into a regression test (a case in Tests/SwiftRNNTests/BadInputTests.swift or
# Tests/c/api_test.c) and a seed (Fuzz/corpus/*).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
TARGETS=${FUZZ_TARGETS:-"FuzzLoad FuzzScore FuzzSample FuzzState"}
export SWIFT_BACKTRACE=enable=no          # let crashes reach libFuzzer and be written as files
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
mkdir -p fuzz-artifacts
# grep -c reads everything: with -q, grep exits at the match, the fuzzer gets SIGPIPE and
# pipefail turns that into a failed probe.
probe() { SWIFT_BACKTRACE=enable=no .build-fuzz/debug/$1 -runs=1 2>&1 | grep -c "Loaded 1 modules" >/dev/null; }
for t in $TARGETS; do
  SWIFTRNN_FUZZ=1 swift build --sanitize=fuzzer --sanitize=address --scratch-path .build-fuzz --product "$t" 2>&1 | tail -n 1
  # Seen here: an incremental build can leave objects without coverage instrumentation, and a
  # fuzzer without coverage runs blind. Check, and rebuild its sources once if so.
  if ! probe "$t"; then
    echo "$t: no coverage counters; rebuilding its sources"
    touch Fuzz/$t/main.swift   # its main module carries the counters' registration
    SWIFTRNN_FUZZ=1 swift build --sanitize=fuzzer --sanitize=address --scratch-path .build-fuzz --product "$t" 2>&1 | tail -n 1
    probe "$t" || { echo "$t: still no coverage instrumentation: not fuzzing blind"; exit 1; }
  fi
done
status=0
for t in $TARGETS; do
  case $t in FuzzLoad) seeds=Fuzz/corpus/load ;; FuzzScore) seeds=Fuzz/corpus/score ;; FuzzSample) seeds=Fuzz/corpus/sample ;; FuzzState) seeds=Fuzz/corpus/state ;; esac
  work=.build-fuzz/corpus-$t
  mkdir -p "$work"
  echo "== $t for ${SECONDS_EACH}s (seeds: $seeds)"
  if ! .build-fuzz/debug/$t "$work" "$seeds" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="fuzz-artifacts/$t-" 2>&1 | tee ".build-fuzz/$t.log" | \
       grep -E "^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss|ERROR|SUMMARY"; then :; fi
  if grep -qE "ERROR: (libFuzzer|AddressSanitizer)|deadly signal|SUMMARY: " ".build-fuzz/$t.log"; then
    echo "$t: CRASH, see fuzz-artifacts/ and .build-fuzz/$t.log"; status=1
  fi
done
exit $status
