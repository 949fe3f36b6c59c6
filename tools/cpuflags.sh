#!/usr/bin/env bash
# Prints the -target-cpu for the SIMD kernels on this machine (empty: baseline x86-64).
flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null) "
has() { for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
if has avx512f avx512bw avx512dq avx512vl; then echo skylake-avx512
elif has avx2 fma f16c; then echo haswell
fi
