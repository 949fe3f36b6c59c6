#!/usr/bin/env bash
# What `make bench` runs: venv, C probes, measurements, benchmarks/RESULTS.md + plot.png.
#   QUICK=1   reduced sizes (W1 5,000 reviews, W2 1,000 chars, W4 on a 2,000-review subset,
#             extrapolated and labelled so)
#   SMOKE=1   tiny sizes, to check the harness (results go to $WORK/smoke-results, RESULTS.md
#             is written there too, not into the repo)
#   DATA=DIR (aclImdb.tar.gz and 1268-0.txt; default ../shared/data next to the checkout)
#   IMDB=DIR TEXT=FILE WORK=DIR THREADS=1,2 PEERS=swiftrnn,torch-book,... WORKLOADS=bw,w1,w2,w3,wq,w4
#             (wq: our F32/F16/I8 files and torch-int8, issue 13; its sizes follow W1/W2/W3's)
#   NATIVE_REF=COMMIT  the commit whose native build (make lib NATIVE=1: Swift compiled for this
#             CPU) W1/W2 compare the portable one with (default HEAD: the same code; empty: none)
#   KEEP_OPENBLAS_CORETYPE=1  keep the caller's OPENBLAS_CORETYPE (default: unset in the measured
#             processes, so libswiftrnn picks the core as it does for a user who never set it)
#   PYTHON=/path/to/python  skip setup_venv.sh and use that interpreter
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
WORK=${WORK:-$REPO/../bench-work}
CC=${CC:-cc}
mkdir -p "$WORK/bin"

if [ ! -e "$REPO/out/lib/libswiftrnn.so" ]; then
  echo "out/lib/libswiftrnn.so is missing: run 'make lib cli' first" >&2; exit 1
fi
# The native build to compare the portable one with (W1, W2; issue 11): by default the same commit
# built with NATIVE=1 (the Swift code compiled for the building CPU), in a worktree under $WORK,
# so that both read the same model files (an older reference, 2d12b82 until 0.8.0, could not load
# the shipped int8 sentiment model). NATIVE_REF= (empty) skips it.
NATIVE_REF=${NATIVE_REF-HEAD}
if [ -n "$NATIVE_REF" ]; then
  NSRC=$WORK/native-src
  if [ ! -d "$NSRC" ] || [ "$(git -C "$NSRC" rev-parse HEAD 2>/dev/null)" != "$(git -C "$REPO" rev-parse "$NATIVE_REF^{commit}")" ]; then
    rm -rf "$NSRC"; git -C "$REPO" worktree prune
    git -C "$REPO" worktree add --detach "$NSRC" "$NATIVE_REF" >&2
  fi
  make -C "$NSRC" lib NATIVE=1 >&2
  NATIVE_REF=$(git -C "$REPO" rev-parse --short "$NATIVE_REF^{commit}")
  export SWIFTRNN_NATIVE_REPO=$NSRC NATIVE_REF
fi

PY=${PYTHON:-$(bash "$HERE/setup_venv.sh" | tail -n 1)}
echo "python: $PY" >&2

$CC -O2 -std=c99 -Wall -Wextra -D_POSIX_C_SOURCE=200809L -I"$REPO/include" "$HERE/coldstart.c" \
    -o "$WORK/bin/coldstart" -L"$REPO/out/lib" -Wl,-rpath,"$REPO/out/lib" -lswiftrnn
$CC -O3 -march=native -fopenmp -Wall "$HERE/bandwidth.c" -o "$WORK/bin/bandwidth" \
  || echo "warning: bandwidth.c did not build (needs OpenMP); no roofline" >&2

ARGS=(run --work "$WORK" --coldstart "$WORK/bin/coldstart" --bandwidth "$WORK/bin/bandwidth")
RESULTS=$HERE/results OUT=$HERE/RESULTS.md PLOT=$HERE/plot.png
if [ "${SMOKE:-0}" = 1 ]; then
  ARGS+=(--smoke); RESULTS=$WORK/smoke-results; OUT=$RESULTS/RESULTS.md; PLOT=$RESULTS/plot.png
elif [ "${QUICK:-0}" = 1 ]; then
  ARGS+=(--quick)
fi
ARGS+=(--results "$RESULTS")
[ -n "${DATA:-}" ] && ARGS+=(--data "$DATA")
[ -n "${IMDB:-}" ] && ARGS+=(--imdb "$IMDB")
[ -n "${TEXT:-}" ] && ARGS+=(--text "$TEXT")
[ -n "${THREADS:-}" ] && ARGS+=(--threads "$THREADS")
[ -n "${PEERS:-}" ] && ARGS+=(--peers "$PEERS")
[ -n "${WORKLOADS:-}" ] && ARGS+=(--workloads "$WORKLOADS")

"$PY" "$HERE/bench.py" "${ARGS[@]}"
"$PY" "$HERE/bench.py" report --results "$RESULTS" --out "$OUT" --plot "$PLOT"
echo "results: $OUT" >&2
