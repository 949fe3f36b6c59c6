#!/usr/bin/env bash
# Creates (or completes) the venv of benchmarks/baselines.py OUTSIDE the repo and prints its
# python's path on the last line of stdout:
#   $(git rev-parse --show-toplevel)/../venv-baselines   (override with VENV=...)
# It holds scikit-learn, fastText and numpy from PyPI, and this checkout's Python package
# (bindings/python), whose install builds libswiftrnn.so with Swift (`make lib`; Swift from the
# PATH or /opt/swift/usr/bin, or SWIFT=/path/to/swift). SWIFTRNN_PREBUILT_LIBRARY=path/to/
# libswiftrnn.so bundles an already built library instead (bindings/python/setup.py).
#
# numpy < 2: the Python wrapper of fastText 0.9.2/0.9.3 calls np.array(probs, copy=False),
# which numpy 2 refuses ("Unable to avoid copy"), so Model.predict fails with numpy 2.
# fasttext-wheel is the PyPI package with prebuilt wheels of fastText 0.9.2 (the `fasttext`
# package is an sdist that compiles C++; set FASTTEXT_PKG=fasttext to use it instead).
set -euo pipefail
REPO=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
VENV=${VENV:-$REPO/../venv-baselines}
FASTTEXT_PKG=${FASTTEXT_PKG:-fasttext-wheel}

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
fi
PY=$VENV/bin/python
if ! "$PY" -c "import sklearn, fasttext, numpy" 2>/dev/null; then
  echo "installing scikit-learn, $FASTTEXT_PKG, numpy<2 into $VENV" >&2
  "$PY" -m pip install -q scikit-learn "$FASTTEXT_PKG" "numpy<2" >&2
fi
if ! "$PY" -c "import swiftrnn, sys; swiftrnn.tokenize('x')" 2>/dev/null || [ -n "${REINSTALL_SWIFTRNN:-}" ]; then
  echo "installing $REPO/bindings/python into $VENV (builds libswiftrnn.so unless SWIFTRNN_PREBUILT_LIBRARY is set)" >&2
  "$PY" -m pip install -q --force-reinstall --no-deps "$REPO/bindings/python" >&2
fi
echo "$PY"
