/* The kernels of kernels.inc compiled for the avx512vnni level (see swiftrnn_kernels.h): the
 * avx512 level plus vpdpbusd for the int8 products. */
#include "swiftrnn_kernels.h"

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt"))), apply_to = function)
#define SRK_NAME(x) srk_avx512vnni_##x
#define SRK_LEVEL SRK_AVX512VNNI
#define SRK_LEVEL_NAME "avx512vnni"
#define SRK_HAS_F16C 1
#define SRK_HAS_AVX2 1
#define SRK_HAS_VNNI 1
#define SRK_HAS_AVX512 1
#include "kernels.inc"
#pragma clang attribute pop
#endif
