#!/usr/bin/env bash
# Runs the Python bindings' tests (what `make test-python` calls). Works from any directory.
#   SWIFTRNN_TEST_TORCH=1 bash bindings/python/run_tests.sh   # use /work/venv-torch if present,
#                                                             # so the PyTorch round trips run
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

LIB="$REPO/out/lib/libswiftrnn.so"
if [ ! -e "$LIB" ]; then
  echo "run_tests.sh: $LIB is missing: run \`make lib\` first" >&2
  exit 1
fi
export SWIFTRNN_LIBRARY="$LIB"
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"

PY=python3
if [ "${SWIFTRNN_TEST_TORCH:-0}" = 1 ] && [ -x /work/venv-torch/bin/python ]; then
  PY=/work/venv-torch/bin/python
fi

if ! "$PY" -c "import pytest" >/dev/null 2>&1; then
  echo "run_tests.sh: installing pytest for $PY" >&2
  "$PY" -m pip install -q pytest || { echo "run_tests.sh: cannot install pytest" >&2; exit 1; }
fi

# The dask extra (issue 7's tests); without it those tests skip, so a failed install is not fatal.
if ! "$PY" -c "import dask.dataframe, distributed, pyarrow" >/dev/null 2>&1; then
  echo "run_tests.sh: installing the dask extra (dask[dataframe], distributed, pyarrow) for $PY" >&2
  "$PY" -m pip install -q "dask[dataframe]" distributed pyarrow >/dev/null 2>&1 || echo "run_tests.sh: could not install dask: its tests will skip" >&2
fi

cd "$REPO" || exit 1
echo "python tests: $("$PY" --version 2>&1) ($PY), library $SWIFTRNN_LIBRARY"
"$PY" -m pytest -q -p no:cacheprovider bindings/python/tests "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "run_tests.sh: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
