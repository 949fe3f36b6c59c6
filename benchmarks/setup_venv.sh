#!/usr/bin/env bash
# Creates (or reuses) the benchmark venv OUTSIDE the repo and prints its python's path on the
# last line of stdout.
#   $(git rev-parse --show-toplevel)/../venv-bench   (override with VENV=...)
# Reuses $REUSE_VENV (default ../venv-torch next to the checkout, the venv of tools/README.md)
# when it already has torch + onnxruntime; whatever else is missing (onnx, onnxscript,
# matplotlib, numpy) is pip-installed into it.
# torch from PyPI pulls the CUDA wheels on Linux: large and slow, but it works on CPU.
set -euo pipefail
REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
VENV=${VENV:-$REPO/../venv-bench}
REUSE_VENV=${REUSE_VENV:-$REPO/../venv-torch}
NEEDED="torch onnxruntime onnx onnxscript matplotlib numpy"

missing() {   # $1 = python; prints the missing modules
  local py=$1 m out=""
  for m in $NEEDED; do "$py" -c "import $m" 2>/dev/null || out="$out $m"; done
  echo "$out"
}

PY=""
if [ -x "$VENV/bin/python" ]; then
  PY=$VENV/bin/python
elif [ -x "$REUSE_VENV/bin/python" ] && "$REUSE_VENV/bin/python" -c "import torch, onnxruntime" 2>/dev/null; then
  echo "reusing $REUSE_VENV (has torch and onnxruntime)" >&2
  PY=$REUSE_VENV/bin/python
else
  echo "creating $VENV" >&2
  python3 -m venv "$VENV"
  PY=$VENV/bin/python
  "$PY" -m pip install -q --upgrade pip >&2
fi
MISS=$(missing "$PY")
if [ -n "$MISS" ]; then
  echo "installing into $(dirname "$(dirname "$PY")"):$MISS" >&2
  # shellcheck disable=SC2086
  "$PY" -m pip install -q $MISS >&2 || echo "warning: pip install$MISS failed; the harness skips what is missing" >&2
fi
echo "$PY"
