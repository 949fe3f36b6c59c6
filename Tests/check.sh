#!/usr/bin/env bash
# `make check`: the sanitizer and leak runs of docs/bad-input.md, each in its own scratch
# folder. Prints "N passed, N failed"; CI runs it after `make test`.
set -u
cd "$(dirname "$0")/.."
export SWIFT_BACKTRACE=enable=no
FIX=Tests/SwiftRNNTests/Fixtures
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0; fail=0
run() { local name=$1; shift; echo "== $name"; if "$@" >"$TMP/log" 2>&1; then pass=$((pass+1)); echo "ok   $name"; grep -E "Executed [0-9]+ tests|passed|definitely lost" "$TMP/log" | tail -n 2 | sed 's/^/     /'; else fail=$((fail+1)); echo "FAIL $name"; tail -n 30 "$TMP/log" | sed 's/^/     /'; fi; }

# 1. Every Swift test under AddressSanitizer (XCTest itself leaks, hence detect_leaks=0).
run "swift test under ASan" env ASAN_OPTIONS=detect_leaks=0 swift test --sanitize=address --scratch-path .build-asan

# 2. The concurrency test (8 scorers + 2 generators on shared models), the batch paths and
#    two-thread generation under ThreadSanitizer.
run "swift test under TSan" swift test --sanitize=thread --scratch-path .build-tsan \
    --filter 'ConcurrencyTests|ModelParityTests|TrainingTests|TwoThreadGenerationTests|BatchIdentityTests'

# 3. The C contract tests and examples against an ASan build of libswiftrnn.so.
CLANG=$(dirname "$(readlink -f "$(command -v swift)")")/clang
run "ASan libswiftrnn.so" swift build --sanitize=address --scratch-path .build-asan --product swiftrnn
ASAN_LIB=.build-asan/debug
asan_build() { "$CLANG" -fsanitize=address -g -std=c99 -D_POSIX_C_SOURCE=200809L -Iinclude "$@" -L$ASAN_LIB -Wl,-rpath,$PWD/$ASAN_LIB -lswiftrnn -lm; }
run "api_test against ASan lib" bash -c "$(declare -f asan_build); CLANG=$CLANG ASAN_LIB=$ASAN_LIB; asan_build Tests/c/api_test.c -o $TMP/api && API_TEST_BIG_MB=1 ASAN_OPTIONS=detect_leaks=0 $TMP/api $FIX"
run "examples against ASan lib" bash -c "$(declare -f asan_build); CLANG=$CLANG ASAN_LIB=$ASAN_LIB; \
  asan_build examples/c/score_reviews.c -o $TMP/sr && asan_build examples/c/generate.c -o $TMP/gen && \
  printf 'great film\nawful film\n' | ASAN_OPTIONS=detect_leaks=0 $TMP/sr $FIX/models/sentiment_keyword_trained.safetensors && \
  ASAN_OPTIONS=detect_leaks=0 $TMP/gen $FIX/models/charlm_small.safetensors 'The sea' 200 1.0 3"

# 4. valgrind memcheck: 1,000 x (load, score, sample, stream, free) against the default release
#    library of `make lib` (valgrind 3.19 has no AVX-512: its CPUID hides it, so the library
#    runs its AVX2 kernels there), with OpenBLAS's Haswell kernels.
run "default release libswiftrnn.so (make lib)" make -s lib
PLIB=out/lib
cc -std=c99 -D_POSIX_C_SOURCE=200809L -Iinclude Tests/c/leak_loop.c -o "$TMP/leak_loop" -L$PLIB -Wl,-rpath,$PWD/$PLIB -lswiftrnn -lm
if command -v valgrind >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq valgrind >/dev/null 2>&1; }; then
  run "valgrind: 1,000 load/score/sample/free loops, 0 bytes definitely lost" bash -c \
    "OPENBLAS_CORETYPE=Haswell valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3 $TMP/leak_loop \
      $FIX/models/sentiment_keyword_trained.safetensors $FIX/models/charlm_small.safetensors 1000 > $TMP/vg.log 2>&1; \
     grep -E 'definitely lost|ERROR SUMMARY' $TMP/vg.log; grep -q 'definitely lost: 0 bytes' $TMP/vg.log || grep -q 'no leaks are possible' $TMP/vg.log"
else
  echo "valgrind missing: skipped"; fail=$((fail+1))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
