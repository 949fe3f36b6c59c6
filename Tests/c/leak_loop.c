/* leak_loop MODEL_SENT MODEL_LM N: N x (load, score, sample, stream, free); then
 * with RSS: 100,000 score calls, resident memory sampled at 10,000 and at the end.
 * Prints "rss_kb_after_10k=... rss_kb_after_100k=..." for Tests/c/run.sh and valgrind runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swiftrnn.h>

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (f) { if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0; fclose(f); }
  return resident * 4;
}

int main(int argc, char **argv) {
  if (argc < 4) return 2;
  int n = atoi(argv[3]);
  long calls = argc > 4 ? atol(argv[4]) : 0;
  char out[512];
  size_t len;
  for (int i = 0; i < n; i++) {
    swiftrnn_model *s = NULL, *lm = NULL;
    if (swiftrnn_model_load(argv[1], &s) != SWIFTRNN_OK || swiftrnn_model_load(argv[2], &lm) != SWIFTRNN_OK) {
      fprintf(stderr, "%s\n", swiftrnn_last_error());
      return 1;
    }
    float p;
    swiftrnn_score_sentiment(s, "a great film", 12, &p);
    swiftrnn_sample_text(lm, "The", 3, 50, NULL, out, sizeof out, &len);
    swiftrnn_sample_text(lm, "The", 3, 50, NULL, out, 2, &len);       /* an error path too */
    swiftrnn_generator *g = NULL;
    swiftrnn_generator_create(lm, "The", 3, NULL, &g);
    for (int k = 0; k < 20; k++) swiftrnn_generator_next(g, out, sizeof out, &len);
    swiftrnn_generator_free(g);
    swiftrnn_model_free(lm);
    swiftrnn_model_free(s);
  }
  if (calls > 0) {
    swiftrnn_model *s = NULL;
    if (swiftrnn_model_load(argv[1], &s) != SWIFTRNN_OK) return 1;
    const char *review = "An excellent film with a boring middle part, but great acting :) <br />";
    long at10k = 0;
    float p;
    for (long i = 0; i < calls; i++) {
      swiftrnn_score_sentiment(s, review, strlen(review), &p);
      if (i % 7 == 0) swiftrnn_score_sentiment(s, NULL, 0, &p);         /* failures set messages */
      if (i + 1 == calls / 10) at10k = rss_kb();
    }
    printf("rss_kb_after_10pct=%ld rss_kb_after_all=%ld\n", at10k, rss_kb());
    swiftrnn_model_free(s);
  }
  return 0;
}
