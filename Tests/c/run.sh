#!/usr/bin/env bash
# C-side tests of libswiftrnn.so, run by `make test-c` after `make lib examples`.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/../.."
OUT=out
LIBDIR=$OUT/lib
FIX=Tests/SwiftRNNTests/Fixtures
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { local name=$1; shift; if "$@" >"$TMP/log" 2>&1; then ok "$name"; else bad "$name"; sed 's/^/     /' "$TMP/log" | tail -20; fi; }

# 1. The header alone, in every dialect a user may compile it with.
STRICT="-Wall -Wextra -Werror -pedantic -Iinclude"
for cc in gcc clang; do
  command -v $cc >/dev/null || continue
  check "header: $cc -std=c99" $cc $STRICT -std=c99 -c Tests/c/abi_check.c -o "$TMP/a.o"
done
for cxx in g++ clang++; do
  command -v $cxx >/dev/null || continue
  check "header: $cxx -std=c++11" $cxx $STRICT -std=c++11 -x c++ -c Tests/c/abi_check.c -o "$TMP/a.o"
done

# 2. The library: self-contained, only swiftrnn_* exported, the right soname.
LIB=$(readlink -f $LIBDIR/libswiftrnn.so)
check "ldd shows no libswift*" bash -c "! ldd '$LIB' | grep -q libswift"
check "ldd resolves every dependency" bash -c "! ldd '$LIB' | grep -q 'not found'"
check "only swiftrnn_* exported" bash -c "[ -z \"\$(nm -D --defined-only --extern-only '$LIB' | awk '\$2 != \"A\" {print \$3}' | grep -v '^swiftrnn_')\" ]"
check "soname libswiftrnn.so.0" bash -c "readelf -d '$LIB' | grep -q 'SONAME.*libswiftrnn.so.0'"
check "OpenBLAS is not a link-time dependency (loaded lazily)" bash -c "! readelf -d '$LIB' | grep -q 'NEEDED.*openblas'"

# 3. Contract tests from the header alone.
export LIBDIR; build() { cc -std=c99 -Wall -Wextra -Werror -pedantic -D_POSIX_C_SOURCE=200809L -Iinclude "$@" -L$LIBDIR -Wl,-rpath,$PWD/$LIBDIR -lswiftrnn -lm; }
check "abi_check builds and runs" bash -c "$(declare -f build); build Tests/c/abi_check.c -o $TMP/abi && $TMP/abi"
check "api_test" bash -c "$(declare -f build); build Tests/c/api_test.c -o $TMP/api && $TMP/api $FIX"
check "state_test (issue 15: generator feed/save/load/logits, sampling controls)" bash -c \
  "$(declare -f build); build Tests/c/state_test.c -o $TMP/state && SWIFT_BACKTRACE=enable=no $TMP/state $FIX"
check "classify_test (issue 15: classifiers and features equal PyTorch, batches bit-identical)" bash -c \
  "$(declare -f build); build Tests/c/classify_test.c -o $TMP/classify && SWIFT_BACKTRACE=enable=no $TMP/classify $FIX"
check "reliability_test (issue 12: FIFO, truncation, SIZE_MAX, NaN, host OpenBLAS, cancellation)" bash -c \
  "$(declare -f build); build -D_GNU_SOURCE Tests/c/reliability_test.c -o $TMP/rel -ldl -lpthread && SWIFT_BACKTRACE=enable=no $TMP/rel $FIX $TMP"

check "first load in a multi-threaded host: environment untouched, OpenBLAS on 1 thread" bash -c \
  "$(declare -f build); build Tests/c/env_test.c -o $TMP/env_test -ldl -lpthread && env -u OPENBLAS_CORETYPE -u OPENBLAS_NUM_THREADS $TMP/env_test $FIX/models/charlm_small.safetensors"

# 3b. The OpenBLAS core: chosen for the CPU when the user did not, the user's choice otherwise.
check "blas_core builds" bash -c "$(declare -f build); build -D_GNU_SOURCE Tests/c/blas_core.c -o $TMP/blas_core -ldl"
if grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo; then want=SkylakeX; elif grep -qw avx2 /proc/cpuinfo; then want=Haswell; else want=; fi
if [ -n "$want" ]; then
  check "OpenBLAS core is $want without OPENBLAS_CORETYPE, env restored" bash -c "env -u OPENBLAS_CORETYPE $TMP/blas_core $FIX/models/charlm_small.safetensors | grep -qx 'core=$want env=unset'"
fi
check "OPENBLAS_CORETYPE set by the user wins" bash -c "OPENBLAS_CORETYPE=Prescott $TMP/blas_core $FIX/models/charlm_small.safetensors | grep -qx 'core=Prescott env=Prescott'"

# 4. The examples.
SENT=models/sentiment-imdb.safetensors
[ -f "$SENT" ] || SENT=$FIX/models/sentiment_keyword_trained.safetensors
printf 'An excellent, wonderful film. I loved it, great acting!\nTerrible, boring and awful. The worst movie, a waste of time.\n' > "$TMP/reviews.txt"
check "score_reviews runs" bash -c "$OUT/bin/score_reviews $SENT $TMP/reviews.txt > $TMP/scores.txt"
check "score_reviews: positive line positive, negative line negative" \
  bash -c "sed -n 1p $TMP/scores.txt | grep -q positive && sed -n 2p $TMP/scores.txt | grep -q negative"
check "score_reviews reads stdin" bash -c "$OUT/bin/score_reviews $SENT < $TMP/reviews.txt | diff - $TMP/scores.txt"
check "score_reviews: missing model fails cleanly" bash -c "! $OUT/bin/score_reviews /nonexistent 2>&1 </dev/null | grep -q .; $OUT/bin/score_reviews /nonexistent </dev/null 2>&1 | grep -q SWIFTRNN_ERR_IO"
LM=models/charlm-mysterious-island.safetensors
PRIME="The island"
[ -f "$LM" ] || { LM=$FIX/models/charlm_small.safetensors; PRIME="The sea"; }
check "generate: same seed, same text" bash -c "$OUT/bin/generate $LM '$PRIME' 200 1.0 7 > $TMP/g1 && $OUT/bin/generate $LM '$PRIME' 200 1.0 7 > $TMP/g2 && cmp $TMP/g1 $TMP/g2"
check "generate: other seed, other text" bash -c "$OUT/bin/generate $LM '$PRIME' 200 1.0 8 > $TMP/g3 && ! cmp -s $TMP/g1 $TMP/g3"
check "generate: starts with the prime" bash -c "head -c ${#PRIME} $TMP/g1 | grep -qx '$PRIME'"

# 4a. One library, every kernel path: the same text and scores with the AVX-512, AVX2 and
#     baseline kernels (SWIFTRNN_SIMD lowers the CPU's level; a level above it is ignored).
for simd in avx2 baseline; do
  check "generate: same text with SWIFTRNN_SIMD=$simd" bash -c "SWIFTRNN_SIMD=$simd $OUT/bin/generate $LM '$PRIME' 200 1.0 7 | cmp - $TMP/g1"
  check "score_reviews: same scores with SWIFTRNN_SIMD=$simd" bash -c "SWIFTRNN_SIMD=$simd $OUT/bin/score_reviews $SENT < $TMP/reviews.txt | diff - $TMP/scores.txt"
done
check "library built for baseline x86-64: no AVX register outside the kernel tables" bash -c \
  "[ -z \"\$(objdump -d --no-show-raw-insn '$LIB' | awk '/^[0-9a-f]+ <.*>:\$/ {f=\$2} /%[yz]mm/ && f !~ /srk_(avx2|avx512|avx512vnni)_/ {print f}')\" ]"

# 4a'. Memory of one long review (issue 12): peak RSS growth under 64x the text for 4 MB of prose
#      and of emoticons; a 24 MB review under a 3 GiB address-space limit gives a probability or
#      OUT_OF_MEMORY; one that cannot fit gives OUT_OF_MEMORY, never an abort.
check "memory_test builds" bash -c "$(declare -f build); build -D_DEFAULT_SOURCE Tests/c/memory_test.c -o $TMP/mem"
for kind in text smileys; do
  check "4 MB review ($kind): peak RSS growth < 64x its size" bash -c \
    "$TMP/mem $SENT 4194304 $kind | tee /dev/stderr | awk '{ split(\$NF, r, \"=\"); exit !(r[2] < 64) }'"
  check "24 MB review ($kind) under a 3 GiB address space: OK or OUT_OF_MEMORY" bash -c \
    "SWIFT_BACKTRACE=enable=no $TMP/mem $SENT 25165824 $kind 3072 | tee /dev/stderr | grep -Eq 'status=SWIFTRNN_(OK|ERR_OUT_OF_MEMORY)'"
done
check "32 MB review under a 300 MiB address space: OUT_OF_MEMORY, no abort" bash -c \
  "SWIFT_BACKTRACE=enable=no $TMP/mem $SENT 33554432 smileys 300 2>/dev/null | grep -q status=SWIFTRNN_ERR_OUT_OF_MEMORY"

check "64 KiB of thread stack is enough (load, score, batch, sample, log-likelihood)" bash -c \
  "$(declare -f build); build Tests/c/stack_test.c -o $TMP/stack -lpthread && SWIFT_BACKTRACE=enable=no $TMP/stack $SENT $LM 64"

# 4b. Memory: resident memory flat over 100,000 calls (growth under 1 MB after the first 10%).
check "leak_loop builds" bash -c "$(declare -f build); build Tests/c/leak_loop.c -o $TMP/leak_loop"
check "RSS flat over 100,000 score calls" bash -c "$TMP/leak_loop $FIX/models/sentiment_keyword_trained.safetensors $FIX/models/charlm_small.safetensors 20 100000 | tee /dev/stderr | awk -F'[= ]' '{ exit !(\$4 - \$2 < 1024) }'"

# 5. make install + pkg-config, as README.md says: the README's C program built with pkg-config
# runs without LD_LIBRARY_PATH (the rpath comes from swiftrnn.pc), and the CLI is installed.
PREFIX_DIR=$TMP/prefix
awk '/^### From C/{c=1} c && /^```c$/{p=1; next} p && /^```$/{exit} p' README.md > "$TMP/demo.c"
check "README's C quick-start program extracted" grep -q swiftrnn_model_load "$TMP/demo.c"
check "make install PREFIX" make -s install PREFIX="$PREFIX_DIR"
check "installed: bin/swiftrnn, include/swiftrnn.h, lib/libswiftrnn.so.0, lib/pkgconfig/swiftrnn.pc" \
  test -x "$PREFIX_DIR/bin/swiftrnn" -a -f "$PREFIX_DIR/include/swiftrnn.h" -a -e "$PREFIX_DIR/lib/libswiftrnn.so.0" -a -f "$PREFIX_DIR/lib/pkgconfig/swiftrnn.pc"
check "README: cc demo.c \$(pkg-config --cflags --libs swiftrnn)" bash -c "cd $TMP && export PKG_CONFIG_PATH=$PREFIX_DIR/lib/pkgconfig && cc demo.c \$(pkg-config --cflags --libs swiftrnn)"
if [ -f models/sentiment-imdb.safetensors ]; then
  check "README demo runs without LD_LIBRARY_PATH" bash -c "env -u LD_LIBRARY_PATH $TMP/a.out | grep -q '^positive with probability 0\.[5-9]'"
  check "installed CLI: swiftrnn inspect models/sentiment-imdb.safetensors" bash -c "env -u LD_LIBRARY_PATH $PREFIX_DIR/bin/swiftrnn inspect models/sentiment-imdb.safetensors | grep -q sentiment"
fi
check "pkg-config builds examples/c/generate.c, runs without LD_LIBRARY_PATH" bash -c "PKG_CONFIG_PATH=$PREFIX_DIR/lib/pkgconfig; export PKG_CONFIG_PATH; cc -std=c99 -Wall -Wextra -Werror examples/c/generate.c -D_POSIX_C_SOURCE=200809L -o $TMP/gen_pc \$(pkg-config --cflags --libs swiftrnn) && env -u LD_LIBRARY_PATH $TMP/gen_pc $LM '$PRIME' 20 1.0 7 >/dev/null"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
