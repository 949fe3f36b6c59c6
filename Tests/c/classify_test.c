/* Classifiers and features (issue 15 item 2), from the header alone: swiftrnn_classify[_batch],
 * swiftrnn_model_label, swiftrnn_model_multi_label, swiftrnn_embed[_batch].
 *   classify_test FIXTURES_DIR
 * The classifier fixtures' PyTorch values (tools/make_classifier_fixtures.py) are read from
 * their .expected.json with a few lines of number scanning. Prints "N passed, N failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <swiftrnn.h>

#include "check.h"

/* The numbers of the JSON array after "key": (nested arrays flattened), at most cap. */
static size_t json_numbers(const char *json, const char *key, double *out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(json, pat);
  if (!p) return 0;
  p += strlen(pat);
  size_t n = 0;
  int depth = 0;
  while (*p) {
    if (*p == '[') { depth++; p++; }
    else if (*p == ']') { depth--; p++; if (depth == 0) break; }
    else if (*p == ',' || *p == ' ' || *p == '\n') p++;
    else {
      char *end;
      double v = strtod(p, &end);
      if (end == p) break;
      if (n < cap) out[n] = v;
      n++;
      p = end;
    }
  }
  return n;
}

/* The strings of the JSON array "texts" (no escapes in the fixtures' texts but \" and \\ and
 * \n handled), written into texts[] as malloc'd copies. */
static size_t json_texts(const char *json, char **texts, size_t *lens, size_t cap) {
  const char *p = strstr(json, "\"texts\":");
  if (!p) return 0;
  p = strchr(p, '[') + 1;
  size_t n = 0;
  while (*p && *p != ']') {
    if (*p != '"') { p++; continue; }
    p++;
    char *s = malloc(strlen(p) + 1);
    size_t k = 0;
    while (*p && *p != '"') {
      if (*p == '\\') {
        p++;
        char c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
        if (*p == 'u') { s[k++] = '?'; p += 5; continue; }   /* not in these fixtures */
        s[k++] = c;
        p++;
      } else s[k++] = *p++;
    }
    s[k] = 0;
    p++;
    if (n < cap) { texts[n] = s; lens[n] = k; } else free(s);
    n++;
  }
  return n;
}

/* Progress callbacks of the _ex batches: count the calls; stop once 2 texts are done. */
static int count_calls(void *user, size_t done, size_t total) {
  (void)done; (void)total;
  ++*(int *)user;
  return 0;
}
static int stop_early(void *user, size_t done, size_t total) {
  (void)user; (void)total;
  return done >= 2;
}

static void classifier_fixture(const char *dir, const char *name, size_t want_labels, int want_multi) {
  char path[256];
  snprintf(path, sizeof path, "models/%s.expected.json", name);
  size_t size = 0;
  char *json = (char *)read_file(fixture(dir, path), &size);
  CHECK(json != NULL);
  if (!json) return;
  json = realloc(json, size + 1);
  json[size] = 0;
  char *texts[64];
  size_t lens[64];
  size_t n_texts = json_texts(json, texts, lens, 64);
  static double probs[64 * 16], feats[64 * 64];
  size_t n_probs = json_numbers(json, "probabilities", probs, 64 * 16);
  size_t n_feats = json_numbers(json, "features", feats, 64 * 64);
  CHECK(n_texts > 3 && n_probs == n_texts * want_labels);

  snprintf(path, sizeof path, "models/%s.safetensors", name);
  swiftrnn_model *m = NULL;
  CHECK(swiftrnn_model_load(fixture(dir, path), &m) == SWIFTRNN_OK);
  if (!m) { free(json); return; }
  swiftrnn_model_info info;
  info.struct_size = sizeof info;
  CHECK(swiftrnn_model_get_info(m, &info) == SWIFTRNN_OK && info.kind == SWIFTRNN_KIND_CLASSIFIER);
  size_t width = 0;   /* D x hidden, or D x proj_size for an LSTM with a projection */
  CHECK(swiftrnn_embed(m, "", 0, NULL, 0, &width) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && width > 0 && width <= 64);
  CHECK(n_feats == n_texts * width);

  /* Labels and the multi-label flag. */
  size_t n_labels = 0, len = 0;
  CHECK(swiftrnn_model_label(m, -1, NULL, 0, &len, &n_labels) == SWIFTRNN_ERR_INVALID_ARGUMENT && n_labels == want_labels);
  char label[64];
  CHECK(swiftrnn_model_label(m, 0, NULL, 0, &len, NULL) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && len > 0);
  CHECK(swiftrnn_model_label(m, 0, label, len, &len, NULL) == SWIFTRNN_ERR_BUFFER_TOO_SMALL);
  CHECK(swiftrnn_model_label(m, 0, label, sizeof label, &len, NULL) == SWIFTRNN_OK && strlen(label) == len);
  CHECK(swiftrnn_model_label(m, (int32_t)want_labels, label, sizeof label, &len, NULL) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_model_label(m, 0, label, sizeof label, NULL, NULL) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  int multi = -1;
  CHECK(swiftrnn_model_multi_label(m, &multi) == SWIFTRNN_OK && multi == want_multi);
  CHECK(swiftrnn_model_multi_label(m, NULL) == SWIFTRNN_ERR_INVALID_ARGUMENT);

  /* Each text: within 1e-5 of PyTorch; softmax rows sum to 1. */
  float p[16], f[64];
  double worst_p = 0, worst_f = 0;
  for (size_t i = 0; i < n_texts && i < 64; i++) {
    size_t n = 0;
    CHECK(swiftrnn_classify(m, texts[i], lens[i], p, 16, &n) == SWIFTRNN_OK && n == want_labels);
    double sum = 0;
    for (size_t j = 0; j < n; j++) {
      worst_p = fmax(worst_p, fabs(p[j] - probs[i * want_labels + j]));
      sum += p[j];
    }
    if (!want_multi) CHECK(fabs(sum - 1) < 1e-5);
    CHECK(swiftrnn_embed(m, texts[i], lens[i], f, 64, &n) == SWIFTRNN_OK && n == width);
    for (size_t j = 0; j < n; j++) worst_f = fmax(worst_f, fabs(f[j] - feats[i * width + j]));
  }
  CHECK(worst_p < 1e-5);
  CHECK(worst_f < 1e-5);
  if (worst_p >= 1e-5 || worst_f >= 1e-5) fprintf(stderr, "%s: worst %g %g\n", name, worst_p, worst_f);

  /* Batches: every row the bits of the single call, with 1 and 2 threads. */
  float *bp = malloc(sizeof(float) * n_texts * want_labels), *bf = malloc(sizeof(float) * n_texts * width);
  for (int threads = 1; threads <= 2; threads++) {
    size_t n = 0;
    CHECK(swiftrnn_classify_batch(m, (const char *const *)texts, lens, n_texts, threads, bp,
                                  n_texts * want_labels, &n) == SWIFTRNN_OK && n == want_labels);
    CHECK(swiftrnn_embed_batch(m, (const char *const *)texts, lens, n_texts, threads, bf, n_texts * width, &n) ==
          SWIFTRNN_OK && n == width);
    int same = 1;
    for (size_t i = 0; i < n_texts; i++) {
      swiftrnn_classify(m, texts[i], lens[i], p, 16, &n);
      same &= memcmp(p, bp + i * want_labels, sizeof(float) * want_labels) == 0;
      swiftrnn_embed(m, texts[i], lens[i], f, 64, &n);
      same &= memcmp(f, bf + i * width, sizeof(float) * width) == 0;
    }
    CHECK(same);
    /* The _ex forms (0.4.0): the same bits with params and a progress callback, NULL params
     * as the defaults, CANCELLED when the callback asks, INVALID_ARGUMENT without an init. */
    swiftrnn_batch_params params;
    swiftrnn_batch_params_init(&params);
    int calls = 0;
    params.n_threads = threads;
    params.progress = count_calls;
    params.progress_user_data = &calls;
    float *bp2 = malloc(sizeof(float) * n_texts * want_labels), *bf2 = malloc(sizeof(float) * n_texts * width);
    CHECK(swiftrnn_classify_batch_ex(m, (const char *const *)texts, lens, n_texts, &params, bp2,
                                     n_texts * want_labels, &n) == SWIFTRNN_OK && n == want_labels);
    CHECK(calls > 0);
    CHECK(swiftrnn_embed_batch_ex(m, (const char *const *)texts, lens, n_texts, NULL, bf2, n_texts * width, &n) ==
          SWIFTRNN_OK && n == width);
    CHECK(memcmp(bp, bp2, sizeof(float) * n_texts * want_labels) == 0);
    CHECK(memcmp(bf, bf2, sizeof(float) * n_texts * width) == 0);
    params.progress = stop_early;
    CHECK(swiftrnn_classify_batch_ex(m, (const char *const *)texts, lens, n_texts, &params, bp2,
                                     n_texts * want_labels, &n) == SWIFTRNN_ERR_CANCELLED);
    CHECK(swiftrnn_embed_batch_ex(m, (const char *const *)texts, lens, n_texts, &params, bf2,
                                  n_texts * width, &n) == SWIFTRNN_ERR_CANCELLED);
    params.struct_size = 0;
    CHECK(swiftrnn_embed_batch_ex(m, (const char *const *)texts, lens, n_texts, &params, bf2,
                                  n_texts * width, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    free(bp2);
    free(bf2);
  }

  /* Capacities, NULLs, sizes. */
  size_t n = 0;
  CHECK(swiftrnn_classify(m, "good", 4, NULL, 0, &n) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && n == want_labels);
  CHECK(swiftrnn_classify(m, "good", 4, p, want_labels - 1, &n) == SWIFTRNN_ERR_BUFFER_TOO_SMALL);
  CHECK(swiftrnn_classify(m, "good", 4, NULL, 16, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_classify(m, NULL, 0, p, 16, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_classify(m, "good", 4, p, 16, NULL) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_classify(m, "good", (size_t)-1, p, 16, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_classify(NULL, "good", 4, p, 16, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_classify(m, "", 0, p, 16, &n) == SWIFTRNN_OK);
  CHECK(swiftrnn_embed(m, "good", 4, NULL, 0, &n) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && n == width);
  CHECK(swiftrnn_embed(m, "good", 4, f, (size_t)-1, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_classify_batch(m, (const char *const *)texts, lens, n_texts, 0, bp, n_texts * want_labels - 1, &n) ==
        SWIFTRNN_ERR_BUFFER_TOO_SMALL && n == want_labels);
  CHECK(swiftrnn_classify_batch(m, NULL, NULL, 0, 0, NULL, 0, &n) == SWIFTRNN_OK && n == want_labels);
  CHECK(swiftrnn_classify_batch(m, NULL, lens, 2, 0, bp, 2 * want_labels, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_classify_batch(m, (const char *const *)texts, lens, 2, -1, bp, 2 * want_labels, &n) ==
        SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_classify_batch(m, (const char *const *)texts, lens, (size_t)-1, 0, bp, 16, &n) ==
        SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_embed_batch(m, (const char *const *)texts, lens, 2, 0, bf, 2 * width, NULL) ==
        SWIFTRNN_ERR_INVALID_ARGUMENT);
  const char *null_text[1] = {NULL};
  size_t one = 3;
  CHECK(swiftrnn_embed_batch(m, null_text, &one, 1, 0, bf, width, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  one = 0;
  CHECK(swiftrnn_embed_batch(m, null_text, &one, 1, 0, bf, width, &n) == SWIFTRNN_OK);
  /* The other calls know the kind: a classifier is WRONG_KIND for score_sentiment. */
  float prob;
  CHECK(swiftrnn_score_sentiment(m, "good", 4, &prob) == SWIFTRNN_ERR_WRONG_KIND);

  free(bp);
  free(bf);
  for (size_t i = 0; i < n_texts && i < 64; i++) free(texts[i]);
  free(json);
  swiftrnn_model_free(m);
}

/* A sentiment model with a hashed n-gram term (format version 4; tools/make_ngram_fixtures.py):
 * the probabilities PyTorch gives (network + nn.EmbeddingBag), one text at a time and batched. */
static void ngram_fixture(const char *dir) {
  size_t size = 0;
  char *json = (char *)read_file(fixture(dir, "models/sentiment_gru_bi_ngram.expected.json"), &size);
  CHECK(json != NULL);
  if (!json) return;
  char *texts[32];
  size_t lens[32];
  double want[32];
  size_t n = json_texts(json, texts, lens, 32);
  size_t np = json_numbers(json, "probabilities", want, 32);
  CHECK(n > 0 && n <= 32 && np == n);
  swiftrnn_model *m = NULL;
  CHECK(swiftrnn_model_load(fixture(dir, "models/sentiment_gru_bi_ngram.safetensors"), &m) == SWIFTRNN_OK);
  if (m && n <= 32 && np == n) {
    float one[32], batch[32];
    for (size_t i = 0; i < n; i++) {
      CHECK(swiftrnn_score_sentiment(m, texts[i], lens[i], &one[i]) == SWIFTRNN_OK);
      CHECK(fabs((double)one[i] - want[i]) < 1e-5);
    }
    CHECK(swiftrnn_score_sentiment_batch(m, (const char *const *)texts, lens, n, 2, batch) == SWIFTRNN_OK);
    CHECK(memcmp(one, batch, n * sizeof(float)) == 0);
  }
  swiftrnn_model_free(m);
  for (size_t i = 0; i < n && i < 32; i++) free(texts[i]);
  free(json);
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: classify_test FIXTURES_DIR\n"); return 2; }
  const char *dir = argv[1];
  classifier_fixture(dir, "classifier_lstm_bi_3class", 3, 0);
  classifier_fixture(dir, "classifier_gru_multilabel_nobias", 4, 1);
  classifier_fixture(dir, "classifier_rnn_tanh_nobias", 3, 0);
  classifier_fixture(dir, "classifier_lstm_multilabel_nobias", 2, 1);
  classifier_fixture(dir, "classifier_lstm_proj_bi", 3, 0);
  classifier_fixture(dir, "classifier_lstm_proj_multilabel_nobias", 2, 1);
  classifier_fixture(dir, "classifier_gru_bi_concat_2layer", 3, 0);
  ngram_fixture(dir);

  /* A sentiment model is the one-label multi-label classifier "positive". */
  swiftrnn_model *s = NULL, *lm = NULL;
  CHECK(swiftrnn_model_load(fixture(dir, "models/sentiment_lstm_bi.safetensors"), &s) == SWIFTRNN_OK);
  CHECK(swiftrnn_model_load(fixture(dir, "models/charlm_small.safetensors"), &lm) == SWIFTRNN_OK);
  if (s && lm) {
    float p = -1, q = -1, f[64];
    size_t n = 0, len = 0;
    char label[16];
    CHECK(swiftrnn_score_sentiment(s, "a great film", 12, &p) == SWIFTRNN_OK);
    CHECK(swiftrnn_classify(s, "a great film", 12, &q, 1, &n) == SWIFTRNN_OK && n == 1 && memcmp(&p, &q, sizeof p) == 0);
    CHECK(swiftrnn_model_label(s, 0, label, sizeof label, &len, &n) == SWIFTRNN_OK && strcmp(label, "positive") == 0 && n == 1);
    int multi = 0;
    CHECK(swiftrnn_model_multi_label(s, &multi) == SWIFTRNN_OK && multi == 1);
    swiftrnn_model_info info;
    info.struct_size = sizeof info;
    CHECK(swiftrnn_model_get_info(s, &info) == SWIFTRNN_OK);
    CHECK(swiftrnn_embed(s, "a great film", 12, f, 64, &n) == SWIFTRNN_OK && n == 2 * (size_t)info.hidden_size);
    /* A character model: WRONG_KIND everywhere, even when asking for sizes. */
    CHECK(swiftrnn_classify(lm, "abc", 3, &q, 1, &n) == SWIFTRNN_ERR_WRONG_KIND);
    CHECK(swiftrnn_classify_batch(lm, NULL, NULL, 0, 0, NULL, 0, &n) == SWIFTRNN_ERR_WRONG_KIND);
    CHECK(swiftrnn_embed(lm, "abc", 3, NULL, 0, &n) == SWIFTRNN_ERR_WRONG_KIND);
    CHECK(swiftrnn_embed_batch(lm, NULL, NULL, 0, 0, NULL, 0, &n) == SWIFTRNN_ERR_WRONG_KIND);
    CHECK(swiftrnn_model_label(lm, 0, label, sizeof label, &len, &n) == SWIFTRNN_ERR_WRONG_KIND);
    CHECK(swiftrnn_model_multi_label(lm, &multi) == SWIFTRNN_ERR_WRONG_KIND);
  }
  swiftrnn_model_free(s);
  swiftrnn_model_free(lm);

  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
