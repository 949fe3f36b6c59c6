/* Chooses the kernel table at run time (see swiftrnn_kernels.h). */
#include "swiftrnn_kernels.h"

#include <stdlib.h>
#include <string.h>

extern const srk_table srk_baseline_table;
#if defined(__x86_64__)
extern const srk_table srk_avx2_table;
extern const srk_table srk_avx512_table;
extern const srk_table srk_avx512vnni_table;
#include <cpuid.h>

static unsigned long long srk_xgetbv(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (unsigned long long)hi << 32 | lo;
}

static int srk_detect(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return SRK_BASELINE;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return SRK_BASELINE;
    const unsigned long long xcr0 = srk_xgetbv();
    if ((xcr0 & 0x6) != 0x6) return SRK_BASELINE;           /* the OS saves XMM and YMM */
    if (__get_cpuid_max(0, 0) < 7) return SRK_BASELINE;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1, bmi1 = (b >> 3) & 1, bmi2 = (b >> 8) & 1;
    const int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1,
              avx512vl = (b >> 31) & 1;
    if (!(avx2 && fma && f16c && bmi1 && bmi2)) return SRK_BASELINE;
    const int avx512vnni = (c >> 11) & 1;
    if (avx512f && avx512dq && avx512bw && avx512vl && (xcr0 & 0xE0) == 0xE0)  /* opmask, ZMM */
        return avx512vnni ? SRK_AVX512VNNI : SRK_AVX512;
    return SRK_AVX2;
}
#else
static int srk_detect(void) { return SRK_BASELINE; }
#endif

static int srk_level_cache = -1;

int srk_cpu_level(void) {
    int level = __atomic_load_n(&srk_level_cache, __ATOMIC_ACQUIRE);
    if (level < 0) {
        level = srk_detect();
        __atomic_store_n(&srk_level_cache, level, __ATOMIC_RELEASE);
    }
    return level;
}

const srk_table *srk_table_for(int level) {
    if (level < 0 || level > srk_cpu_level()) return NULL;
    switch (level) {
    case SRK_BASELINE: return &srk_baseline_table;
#if defined(__x86_64__)
    case SRK_AVX2: return &srk_avx2_table;
    case SRK_AVX512: return &srk_avx512_table;
    case SRK_AVX512VNNI: return &srk_avx512vnni_table;
#endif
    default: return NULL;
    }
}

static const srk_table *srk_active_table;

const srk_table *srk_active(void) {
    const srk_table *t = __atomic_load_n(&srk_active_table, __ATOMIC_ACQUIRE);
    if (t) return t;
    int level = srk_cpu_level();
    const char *want = getenv("SWIFTRNN_SIMD");
    if (want) {
        int cap = level;
        if (strcmp(want, "baseline") == 0) cap = SRK_BASELINE;
        else if (strcmp(want, "avx2") == 0) cap = SRK_AVX2;
        else if (strcmp(want, "avx512") == 0) cap = SRK_AVX512;
        if (cap < level) level = cap;
    }
    t = srk_table_for(level);
    __atomic_store_n(&srk_active_table, t, __ATOMIC_RELEASE);
    return t;
}

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

int srk_flush_subnormals(int on) {
#if defined(__x86_64__) || defined(__i386__)
    const unsigned int bits = 0x8040; /* FTZ (bit 15) and DAZ (bit 6) */
    unsigned int old = _mm_getcsr();
    _mm_setcsr(on ? (old | bits) : (old & ~bits));
    return (old & bits) == bits;
#elif defined(__aarch64__)
    const unsigned long long fz = 1ull << 24;
    unsigned long long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    unsigned long long want = on ? (fpcr | fz) : (fpcr & ~fz);
    __asm__ volatile("msr fpcr, %0" : : "r"(want));
    return (fpcr & fz) != 0;
#else
    (void)on;
    return 0;
#endif
}
