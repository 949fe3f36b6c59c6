/*
 * bandwidth.c -- a small STREAM-like probe for the roofline in benchmarks/RESULTS.md.
 *
 *   bandwidth [THREADS...]          (default: 1 and every core)
 *
 * For each thread count and each buffer size (256 KiB, 1 MiB, 4 MiB, 16 MiB, 256 MiB per array,
 * split between the threads) it runs three kernels and keeps the best of several passes:
 *   read   s += a[i]          bytes counted: 4 per element  (what a GEMV does to its weights)
 *   copy   b[i] = a[i]        bytes counted: 8 per element  (write-allocate traffic not counted)
 *   scale  b[i] = k * a[i]    bytes counted: 8 per element
 * and a peak-FLOP probe: 12 independent chains of 16-wide FMAs per thread.
 * Output: one JSON object on stdout.
 *
 * Build: cc -O3 -march=native -fopenmp benchmarks/bandwidth.c -o bandwidth
 */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef float v16 __attribute__((vector_size(64)));
static volatile float sink;

/* Runs kernel `k` over n floats per array with `threads` threads; returns best GB/s. */
static double run(int k, float *a, float *b, size_t n, int threads) {
  double best = 0.0;
  double bytes_per_el = (k == 0) ? 4.0 : 8.0;
  /* enough repetitions for ~20 ms per pass */
  size_t reps = (size_t)(2e8 / (double)n);
  if (reps < 1) reps = 1;
  double t_end = now() + 0.4;
  int passes = 0;
  while (passes < 3 || (now() < t_end && passes < 50)) {
    double t0 = now();
    float total = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      int id = omp_get_thread_num(), nt = omp_get_num_threads();
      size_t lo = n * (size_t)id / (size_t)nt, hi = n * (size_t)(id + 1) / (size_t)nt;
      for (size_t r = 0; r < reps; r++) {
        if (k == 0) {
          float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
          for (size_t i = lo; i < hi; i += 4) {
            s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3];
          }
          total += s0 + s1 + s2 + s3;
        } else if (k == 1) {
#pragma omp simd
          for (size_t i = lo; i < hi; i++) b[i] = a[i];
          total += b[lo];
        } else {
#pragma omp simd
          for (size_t i = lo; i < hi; i++) b[i] = 1.0001f * a[i];
          total += b[lo];
        }
      }
    }
    double dt = now() - t0;
    sink = total;
    double gbs = bytes_per_el * (double)n * (double)reps / dt / 1e9;
    if (gbs > best) best = gbs;
    passes++;
  }
  return best;
}

static double peak_flops(int threads) {
  double best = 0.0;
  for (int pass = 0; pass < 5; pass++) {
    const long iters = 20000000;
    double t0 = now();
    float total = 0.0f;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      v16 acc[12], m, c;
      for (int j = 0; j < 16; j++) { m[j] = 0.999999f; c[j] = 1e-7f; }
      for (int i = 0; i < 12; i++) acc[i] = m * (float)(i + 1);
      for (long it = 0; it < iters; it++) {
        for (int i = 0; i < 12; i++) acc[i] = acc[i] * m + c;   /* contracted to FMA */
        __asm__ volatile("" : "+x"(acc[0]), "+x"(acc[6]));
      }
      v16 s = acc[0];
      for (int i = 1; i < 12; i++) s += acc[i];
      for (int j = 0; j < 16; j++) total += s[j];
    }
    double dt = now() - t0;
    sink = total;
    double gf = 2.0 * 16.0 * 12.0 * (double)iters * (double)threads / dt / 1e9;
    if (gf > best) best = gf;
  }
  return best;
}

int main(int argc, char **argv) {
  int tlist[8], nt = 0;
  for (int i = 1; i < argc && nt < 8; i++) tlist[nt++] = atoi(argv[i]);
  if (nt == 0) {
    tlist[nt++] = 1;
    if (omp_get_num_procs() > 1) tlist[nt++] = omp_get_num_procs();
  }
  const size_t sizes_kib[] = {256, 1024, 4096, 16384, 262144};
  const int nsizes = (int)(sizeof sizes_kib / sizeof sizes_kib[0]);
  const char *names[] = {"read", "copy", "scale"};
  size_t maxn = sizes_kib[nsizes - 1] * 1024 / sizeof(float);
  float *a = aligned_alloc(64, maxn * sizeof(float));
  float *b = aligned_alloc(64, maxn * sizeof(float));
  if (!a || !b) { fprintf(stderr, "out of memory\n"); return 1; }
  for (size_t i = 0; i < maxn; i++) { a[i] = 1.0f + (float)(i & 7); b[i] = 0.0f; }

  printf("{\"kernels\": [");
  int first = 1;
  for (int ti = 0; ti < nt; ti++) {
    for (int si = 0; si < nsizes; si++) {
      size_t n = sizes_kib[si] * 1024 / sizeof(float);
      for (int k = 0; k < 3; k++) {
        double g = run(k, a, b, n, tlist[ti]);
        printf("%s\n  {\"threads\": %d, \"size_kib\": %zu, \"kernel\": \"%s\", \"gb_per_s\": %.2f}",
               first ? "" : ",", tlist[ti], sizes_kib[si], names[k], g);
        first = 0;
        fflush(stdout);
      }
    }
  }
  printf("\n], \"peak_gflops\": [");
  for (int ti = 0; ti < nt; ti++)
    printf("%s{\"threads\": %d, \"gflops\": %.1f}", ti ? ", " : "", tlist[ti], peak_flops(tlist[ti]));
  printf("]}\n");
  free(a);
  free(b);
  return 0;
}
