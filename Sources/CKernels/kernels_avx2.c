/* The kernels of kernels.inc compiled for the avx2 level (see swiftrnn_kernels.h). */
#include "swiftrnn_kernels.h"

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,bmi,bmi2,lzcnt,popcnt"))), apply_to = function)
#define SRK_NAME(x) srk_avx2_##x
#define SRK_LEVEL SRK_AVX2
#define SRK_LEVEL_NAME "avx2"
#define SRK_HAS_F16C 1
#define SRK_HAS_AVX2 1
#define SRK_HAS_VNNI 0
#define SRK_HAS_AVX512 0
#include "kernels.inc"
#pragma clang attribute pop
#endif
