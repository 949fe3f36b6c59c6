/* Peak memory of scoring one long review (issue 12, F4).
 *   memory_test MODEL BYTES text|smileys [AS_LIMIT_MB]
 * Builds a review of BYTES bytes (real-looking English, or ":)" repeated), scores it once and
 * prints one line: bytes, kind, status, probability, peak RSS growth over the loaded model (kB),
 * and that growth divided by the review's size. With AS_LIMIT_MB the address space is limited
 * (setrlimit RLIMIT_AS) after the model is loaded: the call must then return a probability or
 * SWIFTRNN_ERR_OUT_OF_MEMORY, never abort. Exit 0 when the status is OK or OUT_OF_MEMORY. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <swiftrnn.h>

static long vm_hwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return kb;
}

static void reset_hwm(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");  /* "5" resets VmHWM to the current RSS */
  if (f) { fputs("5", f); fclose(f); }
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: memory_test MODEL BYTES text|smileys [AS_LIMIT_MB]\n"); return 2; }
  size_t n = strtoull(argv[2], NULL, 10);
  int smileys = strcmp(argv[3], "smileys") == 0;
  swiftrnn_model *m = NULL;
  if (swiftrnn_model_load(argv[1], &m) != SWIFTRNN_OK) { fprintf(stderr, "%s\n", swiftrnn_last_error()); return 2; }
  float p = -1;
  swiftrnn_score_sentiment(m, "warm up", 7, &p);

  static const char *words =
      "The film opens slowly, but the acting is superb and the story builds to a moving, "
      "honest ending. I was not bored for a minute; the score is wonderful and the cast "
      "clearly cared. Some scenes drag <br /><br />and the villain is thin, yet overall a fine movie. ";
  char *text = malloc(n + 1);
  if (!text) return 2;
  size_t wl = strlen(words);
  for (size_t i = 0; i < n; i++) text[i] = smileys ? ":)"[i % 2] : words[i % wl];
  text[n] = 0;

  if (argc > 4) {
    struct rlimit r;
    r.rlim_cur = r.rlim_max = (rlim_t)strtoull(argv[4], NULL, 10) << 20;
    if (setrlimit(RLIMIT_AS, &r) != 0) { perror("setrlimit"); return 2; }
  }
  reset_hwm();
  long before = vm_hwm_kb();
  swiftrnn_status s = swiftrnn_score_sentiment(m, text, n, &p);
  long after = vm_hwm_kb();
  long growth = after - before;
  printf("bytes=%zu kind=%s status=%s p=%.6f peak_growth_kb=%ld ratio=%.1f\n", n, smileys ? "smileys" : "text",
         swiftrnn_status_string(s), s == SWIFTRNN_OK ? p : -1.0, growth,
         n ? (double)growth * 1024.0 / (double)n : 0.0);
  if (s != SWIFTRNN_OK) fprintf(stderr, "%s\n", swiftrnn_last_error());
  free(text);
  swiftrnn_model_free(m);
  return s == SWIFTRNN_OK || s == SWIFTRNN_ERR_OUT_OF_MEMORY ? 0 : 1;
}
