/* generate: sample text from a character model, streaming it as it is drawn.
 *
 *   generate MODEL PRIME [LENGTH=500] [SCALE=1.0] [SEED=1] [TOP_K=0] [TOP_P=1.0]
 *
 * Build: cc -Wall -Wextra -O2 generate.c $(pkg-config --cflags --libs swiftrnn) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swiftrnn.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL PRIME [LENGTH] [SCALE] [SEED] [TOP_K] [TOP_P]\n", argv[0]);
    return 2;
  }
  size_t length = argc > 3 ? strtoul(argv[3], NULL, 10) : 500;
  swiftrnn_sample_params params;
  swiftrnn_sample_params_init(&params);
  if (argc > 4) params.scale_factor = strtof(argv[4], NULL);
  params.seed = argc > 5 ? strtoull(argv[5], NULL, 10) : 1;
  if (argc > 6) params.top_k = (int32_t)strtol(argv[6], NULL, 10);
  if (argc > 7) params.top_p = strtof(argv[7], NULL);

  swiftrnn_model *model = NULL;
  if (swiftrnn_model_load(argv[1], &model) != SWIFTRNN_OK) {
    fprintf(stderr, "generate: %s\n", swiftrnn_last_error());
    return 1;
  }
  swiftrnn_generator *gen = NULL;
  if (swiftrnn_generator_create(model, argv[2], strlen(argv[2]), &params, &gen) != SWIFTRNN_OK) {
    fprintf(stderr, "generate: %s\n", swiftrnn_last_error());
    swiftrnn_model_free(model);
    return 1;
  }
  fputs(argv[2], stdout);
  char ch[8];
  size_t n = 0;
  for (size_t i = 0; i < length; i++) {
    if (swiftrnn_generator_next(gen, ch, sizeof ch, &n) != SWIFTRNN_OK) {
      fprintf(stderr, "generate: %s\n", swiftrnn_last_error());
      break;
    }
    fwrite(ch, 1, n, stdout);
  }
  putchar('\n');
  swiftrnn_generator_free(gen);
  swiftrnn_model_free(model);
  return 0;
}
