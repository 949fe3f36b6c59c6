/*
 * coldstart.c -- W3 of benchmarks/: load a model and produce the first result, in a fresh
 * process.
 *
 *   coldstart MODEL [TEXT]
 *
 * A sentiment model scores TEXT (default: a short review); a character model generates one
 * character after TEXT (default "The island"). Prints one JSON object:
 *   load_ms   swiftrnn_model_load
 *   first_ms  the first score / character
 *   total_ms  load + first result (clock_gettime(CLOCK_MONOTONIC) around both)
 *   rss_start_kb  VmHWM before loading (process + libswiftrnn + OpenBLAS already mapped)
 *   peak_rss_kb   VmHWM of /proc/self/status at the end: this process's peak RSS. (Linux
 *                 carries the parent's high-water mark across fork+exec into ru_maxrss, so
 *                 ru_maxrss of a child of a big Python process reports the parent's RSS; it
 *                 is printed too, as maxrss_kb, for reference.)
 * The harness also times the whole process (exec to exit), which adds dynamic linking and
 * OpenBLAS's start-up.
 *
 * Build: cc -O2 -std=c99 -Iinclude benchmarks/coldstart.c -Lout/lib -lswiftrnn -o coldstart
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "swiftrnn.h"

static double ms(const struct timespec *a, const struct timespec *b) {
  return 1e3 * (double)(b->tv_sec - a->tv_sec) + 1e-6 * (double)(b->tv_nsec - a->tv_nsec);
}

/* VmHWM (peak RSS of this address space, reset by exec), in kB; -1 if unavailable. */
static long vm_hwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) { v = atol(line + 6); break; }
  fclose(f);
  return v;
}

static long maxrss_kb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL [TEXT]\n", argv[0]);
    return 2;
  }
  long rss_start = vm_hwm_kb();
  struct timespec t0, t1, t2;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  swiftrnn_model *m = NULL;
  if (swiftrnn_model_load(argv[1], &m) != SWIFTRNN_OK) {
    fprintf(stderr, "load: %s\n", swiftrnn_last_error());
    return 1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  swiftrnn_model_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  if (swiftrnn_model_get_info(m, &info) != SWIFTRNN_OK) {
    fprintf(stderr, "info: %s\n", swiftrnn_last_error());
    return 1;
  }
  char result[64];
  if (info.kind == SWIFTRNN_KIND_SENTIMENT) {
    const char *text = argc > 2 ? argv[2]
                                : "A wonderful, moving film. The acting was superb and the story "
                                  "kept me watching until the very end.";
    float p = 0.0f;
    if (swiftrnn_score_sentiment(m, text, strlen(text), &p) != SWIFTRNN_OK) {
      fprintf(stderr, "score: %s\n", swiftrnn_last_error());
      return 1;
    }
    snprintf(result, sizeof result, "%.6f", (double)p);
  } else {
    const char *prime = argc > 2 ? argv[2] : "The island";
    char out[256];
    size_t out_len = 0;
    swiftrnn_sample_params params;
    swiftrnn_sample_params_init(&params);
    params.seed = 1;
    if (swiftrnn_sample_text(m, prime, strlen(prime), 1, &params, out, sizeof out, &out_len) !=
        SWIFTRNN_OK) {
      fprintf(stderr, "sample: %s\n", swiftrnn_last_error());
      return 1;
    }
    /* the generated character, as a JSON-safe code (the text itself may need escaping) */
    snprintf(result, sizeof result, "%u", (unsigned)(unsigned char)out[strlen(prime)]);
  }
  clock_gettime(CLOCK_MONOTONIC, &t2);
  long peak = vm_hwm_kb();
  long ru_peak = maxrss_kb();
  if (peak < 0) peak = ru_peak;
  printf("{\"load_ms\": %.3f, \"first_ms\": %.3f, \"total_ms\": %.3f, \"rss_start_kb\": %ld, "
         "\"peak_rss_kb\": %ld, \"maxrss_kb\": %ld, \"result\": \"%s\"}\n",
         ms(&t0, &t1), ms(&t1, &t2), ms(&t0, &t2), rss_start, peak, ru_peak, result);
  swiftrnn_model_free(m);
  return 0;
}
