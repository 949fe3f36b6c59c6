/* The kernels of kernels.inc compiled for the baseline level (see swiftrnn_kernels.h). */
#include "swiftrnn_kernels.h"

#define SRK_NAME(x) srk_baseline_##x
#define SRK_LEVEL SRK_BASELINE
#define SRK_LEVEL_NAME "baseline"
#define SRK_HAS_F16C 0
#define SRK_HAS_AVX2 0
#define SRK_HAS_VNNI 0
#define SRK_HAS_AVX512 0
#include "kernels.inc"
