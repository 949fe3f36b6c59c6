/* Compiled by `make test` as C99 and C++ with -Wall -Wextra -Werror -pedantic: the header must
 * build cleanly, and the struct layouts must be the ones the Swift side reads and writes. */
#include <stddef.h>
#include <swiftrnn.h>

#ifdef __cplusplus
#define STATIC_ASSERT static_assert
#else
#define STATIC_ASSERT _Static_assert
#endif

STATIC_ASSERT(offsetof(swiftrnn_sample_params, scale_factor) == 8, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, top_k) == 12, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, top_p) == 16, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, greedy) == 20, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, seed) == 24, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, n_threads) == 32, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, progress) == 40, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, progress_user_data) == 48, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, stop_strings) == 56, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, n_stop_strings) == 64, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, repetition_penalty) == 72, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, repetition_window) == 76, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, min_p) == 80, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, banned) == 88, "layout");
STATIC_ASSERT(offsetof(swiftrnn_sample_params, banned_len) == 96, "layout");
STATIC_ASSERT(sizeof(swiftrnn_sample_params) == 104, "layout");
STATIC_ASSERT(offsetof(swiftrnn_batch_params, n_threads) == 8, "layout");
STATIC_ASSERT(offsetof(swiftrnn_batch_params, progress) == 16, "layout");
STATIC_ASSERT(offsetof(swiftrnn_batch_params, progress_user_data) == 24, "layout");
STATIC_ASSERT(sizeof(swiftrnn_batch_params) == 32, "layout");
STATIC_ASSERT(offsetof(swiftrnn_model_info, kind) == 8, "layout");
STATIC_ASSERT(offsetof(swiftrnn_model_info, cell) == 12, "layout");
STATIC_ASSERT(offsetof(swiftrnn_model_info, vocab_size) == 16, "layout");
STATIC_ASSERT(offsetof(swiftrnn_model_info, bidirectional) == 32, "layout");
STATIC_ASSERT(offsetof(swiftrnn_model_info, head_layers) == 36, "layout");
STATIC_ASSERT(offsetof(swiftrnn_model_info, n_parameters) == 40, "layout");
STATIC_ASSERT(offsetof(swiftrnn_model_info, precision) == 48, "layout");
STATIC_ASSERT(sizeof(swiftrnn_model_info) == 56, "layout");
STATIC_ASSERT(SWIFTRNN_KIND_SENTIMENT == 1 && SWIFTRNN_KIND_CHARLM == 2 && SWIFTRNN_KIND_WORDLM == 3 && SWIFTRNN_KIND_CLASSIFIER == 4, "kinds");

int main(void) {
  return swiftrnn_version_number() == SWIFTRNN_VERSION_NUMBER ? 0 : 1;
}
