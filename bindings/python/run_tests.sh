#!/usr/bin/env bash
# Runs the Python bindings' tests (what `make test-python` calls). Works from any directory.
# Environment (all optional):
#   SWIFTRNN_TEST_PYTHON=/path/to/venv/bin/python   the interpreter (default: python3); give one
#                                                   with torch so the PyTorch round trips run
#   SWIFTRNN_TEST_PACKAGE=0   skip tests/test_package.py (builds the package from a clean copy
#                             and `make wheel`, installs both in fresh venvs: ~1.5 min)
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

PY="${SWIFTRNN_TEST_PYTHON:-python3}"
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "run_tests.sh: SWIFTRNN_TEST_PYTHON=$PY is not an executable" >&2
  exit 1
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
