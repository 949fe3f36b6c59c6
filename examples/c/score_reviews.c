/* score_reviews: one review per line (from files or stdin) -> "probability<TAB>label<TAB>review".
 *
 *   score_reviews MODEL [FILE...]
 *
 * Build: cc -Wall -Wextra -O2 score_reviews.c $(pkg-config --cflags --libs swiftrnn) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swiftrnn.h>

static int score_stream(const swiftrnn_model *model, FILE *in) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int failures = 0;
  while ((n = getline(&line, &cap, in)) != -1) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n == 0) continue;
    float p = 0.0f;
    if (swiftrnn_score_sentiment(model, line, (size_t)n, &p) != SWIFTRNN_OK) {
      fprintf(stderr, "score_reviews: %s\n", swiftrnn_last_error());
      failures++;
      continue;
    }
    printf("%.4f\t%s\t%.60s\n", p, p >= 0.5f ? "positive" : "negative", line);
  }
  free(line);
  return failures;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL [FILE...]  (reviews one per line; stdin without files)\n", argv[0]);
    return 2;
  }
  if (strcmp(swiftrnn_version(), SWIFTRNN_VERSION_STRING) != 0)
    fprintf(stderr, "score_reviews: header %s, library %s\n", SWIFTRNN_VERSION_STRING, swiftrnn_version());
  swiftrnn_model *model = NULL;
  swiftrnn_status st = swiftrnn_model_load(argv[1], &model);
  if (st != SWIFTRNN_OK) {
    fprintf(stderr, "score_reviews: %s: %s\n", swiftrnn_status_string(st), swiftrnn_last_error());
    return 1;
  }
  int failures = 0;
  if (argc == 2) {
    failures = score_stream(model, stdin);
  } else {
    for (int i = 2; i < argc; i++) {
      FILE *f = fopen(argv[i], "r");
      if (!f) { perror(argv[i]); failures++; continue; }
      failures += score_stream(model, f);
      fclose(f);
    }
  }
  swiftrnn_model_free(model);
  return failures ? 1 : 0;
}
