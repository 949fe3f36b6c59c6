#!/usr/bin/env bash
# Proves the parity tests can fail: applies one deliberate bug at a time to the core (a gate
# order, a bias, the packing rule), runs the parity tests, and expects each run to FAIL.
# Restores the sources afterwards. Usage: bash tools/mutation_check.sh
set -u
cd "$(dirname "$0")/.."
R=Sources/SwiftRNN/Layers/Recurrent.swift
mutations=(
  "LSTM gates i/f swapped|s/let i = K.sigmoid(pre(0)), f = K.sigmoid(pre(1))/let i = K.sigmoid(pre(1)), f = K.sigmoid(pre(0))/"
  "GRU reset gate applied outside W_hn h|s/let nn = K.tanh(K.load(gx + 2 \* H + k, n) + r \* hn)/let nn = K.tanh(r * (K.load(gx + 2 * H + k, n) + hn))/"
  "bias_hh ignored|s/Kernels.broadcastRows(bhh.baseAddress!, n: G, into: HH, m: n, ldc: G)/HH.update(repeating: 0, count: n * G)/"
  "packing: reverse direction starts at the padded end|s/let n = batch.batchSizes\[t\], r0 = batch.offsets\[t\]/let n = reverse ? batch.batchSizes[0] : batch.batchSizes[t], r0 = batch.offsets[t]/"
)
SCRATCH=$(mktemp -d)
ORIG=$SCRATCH/Recurrent.swift.orig
cp $R "$ORIG"
trap 'cp "$ORIG" $R; rm -rf "$SCRATCH"' EXIT
caught=0
for m in "${mutations[@]}"; do
  name=${m%%|*}; expr=${m#*|}
  cp "$ORIG" $R
  sed -i "$expr" $R
  if cmp -s $R "$ORIG"; then echo "NOT APPLIED: $name"; continue; fi
  if swift test --filter "LayerParityTests|ModelParityTests" >"$SCRATCH/mutation.log" 2>&1; then
    echo "SURVIVED (tests passed with the bug): $name"
  else
    echo "caught: $name"; caught=$((caught + 1))
  fi
done
echo "$caught of ${#mutations[@]} mutations caught"
[ "$caught" = "${#mutations[@]}" ]
