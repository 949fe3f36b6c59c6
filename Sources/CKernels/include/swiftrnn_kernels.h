/*
 * The SIMD kernels of libswiftrnn, compiled once per instruction set and chosen at run time.
 *
 * Why C: Swift has no per-function target attribute, so a Swift kernel is compiled for one CPU
 * (the whole module's -target-cpu). These few functions carry nearly all of inference's
 * arithmetic; kernels.inc holds them once, and kernels_avx512vnni.c, kernels_avx512.c, kernels_avx2.c and
 * kernels_baseline.c compile that one text for AVX-512 (with and without VNNI), AVX2+FMA+F16C and
 * baseline x86-64. The
 * rest of the library is built for baseline x86-64, so one libswiftrnn.so runs on any x86-64
 * CPU at the speed of the best table it supports.
 *
 * Every path computes the same bits: floating-point contraction is off (no FMA fusion), the
 * vector type is 16 floats on every path (AVX2 runs it as two halves, baseline as four), and
 * horizontal sums add the lanes in order. So results do not depend on the machine, and the
 * tests compare the paths for equality.
 */
#ifndef SWIFTRNN_KERNELS_H
#define SWIFTRNN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Instruction-set levels, lowest first. */
enum {
    SRK_BASELINE = 0, /* x86-64 (SSE2); any other architecture: the compiler's default */
    SRK_AVX2 = 1,     /* AVX2 + FMA + F16C (x86-64-v3) */
    SRK_AVX512 = 2,   /* AVX-512 F, BW, DQ, VL (x86-64-v4) */
    SRK_AVX512VNNI = 3, /* x86-64-v4 + AVX512_VNNI (int8 products with vpdpbusd) */
    SRK_LEVEL_COUNT = 4
};

/* Half-precision weight storage for the *_h kernels. */
enum { SRK_F16 = 1, SRK_BF16 = 2 };

/* Cell kinds for srk_cell_steps, in the order of Swift's CellKind. */
enum { SRK_LSTM = 0, SRK_GRU = 1, SRK_RNN_TANH = 2, SRK_RNN_RELU = 3 };

typedef struct srk_table {
    int level;
    const char *name; /* "avx512vnni", "avx512", "avx2", "baseline" */

    /* y[r] = (accumulate ? y[r] : 0) + dot(w[r, :], x) for rows x cols row-major w. */
    void (*matvec)(const float *w, ptrdiff_t rows, ptrdiff_t cols, const float *x, float *y, int accumulate);

    /* y[start..rows) += x^T wt, wt = the [cols, rows] transpose of a weight. */
    void (*matvec_t)(const float *wt, ptrdiff_t rows, ptrdiff_t cols, const float *x, float *y, ptrdiff_t start);

    /* matvec_t for m sequences: y_j += x_j^T wt with x_j = x + j*ldx, y_j = y + j*ldy. Each y_j
     * gets the bits matvec_t gives it alone. */
    void (*matvec_t_rows)(const float *wt, ptrdiff_t rows, ptrdiff_t cols, const float *x, ptrdiff_t ldx,
                          float *y, ptrdiff_t ldy, ptrdiff_t m);

    /* matvec and matvec_t_rows with weights kept in half precision (`half`: SRK_F16 or
     * SRK_BF16 bits, little-endian uint16). The weights are widened exactly inside the loop:
     * the results are the bits matvec / matvec_t_rows give for the weights converted to float. */
    void (*matvec_h)(int half, const uint16_t *w, ptrdiff_t rows, ptrdiff_t cols, const float *x, float *y,
                     int accumulate);
    void (*matvec_t_rows_h)(int half, const uint16_t *wt, ptrdiff_t rows, ptrdiff_t cols, const float *x,
                            ptrdiff_t ldx, float *y, ptrdiff_t ldy, ptrdiff_t m);

    /* int8 products (issue 13). quantize_u8: the n floats of x -> uint8 q (padded with zeros to
     * `padded` bytes), with x ~ (q - zp) * xs; any non-finite x gives xs = NaN. matvec_q8:
     * y[r] = (accumulate ? y[r] : 0) + (float)(sum_k w[r,k] q[k] - zp * rowsum[r]) *
     * (scale[r] * xs) for int8 rows at stride ld (a multiple of 64, zero padded). The integer
     * sums are exact, so every level gives the same bits. */
    void (*quantize_u8)(const float *x, ptrdiff_t n, ptrdiff_t padded, uint8_t *q, float *xs, int32_t *zp);
    void (*matvec_q8)(const int8_t *w, ptrdiff_t ld, const float *scale, const int32_t *rowsum, ptrdiff_t rows,
                      const uint8_t *q, float xs, int32_t zp, float *y, int accumulate);
    /* matvec_q8 (accumulating) for m sequences over weights interleaved by 4 columns:
     * wt[((r/16) * (cols_pad/4) + k/4) * 64 + (r%16) * 4 + k%4] (each block of 16 outputs
     * contiguous), rows_pad a multiple of 16, cols_pad of 4, zero padded; sequence j's quantized input at q + j*ldq with xs[j], zp[j], output y + j*ldy.
     * Each y_j[r] gets the bits matvec_q8 gives it, added to bias[r] when bias is not NULL
     * (y's values are then not read), else to y_j[r]. */
    void (*matvec_t_rows_q8)(const int8_t *wt, ptrdiff_t rows, ptrdiff_t rows_pad, ptrdiff_t cols_pad,
                             const float *scale, const int32_t *rowsum, const uint8_t *q, ptrdiff_t ldq,
                             const float *xs, const int32_t *zp, const float *bias, float *y, ptrdiff_t ldy,
                             ptrdiff_t m);

    /* One time step of `rows` sequences of a cell (SRK_LSTM ...): gate pre-activations gx (row
     * stride gxs) and gh (row stride ghs), gate blocks `gate_stride` floats apart -> new h (and c
     * for LSTM) of H units in place (row stride H); tape (may be NULL) gets, per row at stride
     * tape_stride, what the backward pass needs (see Recurrent.swift's tape layout). */
    void (*cell_steps)(int cell, ptrdiff_t H, ptrdiff_t gate_stride, ptrdiff_t rows,
                       const float *gx, ptrdiff_t gxs, const float *gh, ptrdiff_t ghs,
                       float *h, float *c, float *tape, ptrdiff_t tape_stride);

    /* count little-endian IEEE binary16 values at src (any alignment) -> binary32, exactly. */
    void (*f16_to_f32)(const void *src, ptrdiff_t count, float *dst);

    /* 1 if none of the count floats at x is NaN or infinite, else 0 (the load-time check of
     * every weight). */
    int (*all_finite)(const float *x, ptrdiff_t count);
} srk_table;

/* The highest level this CPU and its operating system support (AVX-512 needs the OS to save
 * the ZMM state, checked with XGETBV). */
int srk_cpu_level(void);

/* The table of `level`, or NULL when the CPU cannot run it or the level is unknown. */
const srk_table *srk_table_for(int level);

/* The table the library uses: the CPU's level, lowered (never raised) by the environment
 * variable SWIFTRNN_SIMD=baseline|avx2|avx512 read at the first call. Thread-safe. */
const srk_table *srk_active(void);

/* Sets (on != 0) or clears the calling thread's flush-to-zero and denormals-are-zero modes
 * (x86 MXCSR FTZ and DAZ; AArch64 FPCR.FZ) and returns whether they were set before. Threads
 * created afterwards inherit the mode. Training uses it: see Kernels.withSubnormalsFlushed. */
int srk_flush_subnormals(int on);

#ifdef __cplusplus
}
#endif
#endif
