/* C API contract tests, written against the header only. Run by `make test`:
 *   api_test FIXTURES_DIR
 * Prints "N passed, N failed" and exits non-zero on any failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include <swiftrnn.h>

#include "check.h"

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: api_test FIXTURES_DIR\n"); return 2; }
  const char *dir = argv[1];

  /* Version and status strings. */
  CHECK(strcmp(swiftrnn_version(), SWIFTRNN_VERSION_STRING) == 0);
  CHECK(swiftrnn_version_number() == SWIFTRNN_VERSION_NUMBER);
  CHECK(strcmp(swiftrnn_status_string(SWIFTRNN_ERR_FORMAT), "SWIFTRNN_ERR_FORMAT") == 0);
  CHECK(strcmp(swiftrnn_status_string((swiftrnn_status)999), "unknown status") == 0);
  CHECK(strcmp(swiftrnn_status_string((swiftrnn_status)-1), "unknown status") == 0);

  /* Loading: NULLs, missing file, directory, garbage, truncation. */
  swiftrnn_model *m = (swiftrnn_model *)0x1;
  CHECK(swiftrnn_model_load(NULL, &m) == SWIFTRNN_ERR_INVALID_ARGUMENT && m == NULL);
  CHECK(swiftrnn_model_load("x", NULL) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  m = (swiftrnn_model *)0x1;
  CHECK(swiftrnn_model_load("/nonexistent/model.safetensors", &m) == SWIFTRNN_ERR_IO && m == NULL);
  CHECK(strstr(swiftrnn_last_error(), "/nonexistent/model.safetensors") != NULL);
  CHECK(swiftrnn_model_load(dir, &m) == SWIFTRNN_ERR_IO && m == NULL);
  CHECK(swiftrnn_model_load_from_memory(NULL, 10, &m) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_model_load_from_memory("", 0, &m) == SWIFTRNN_ERR_FORMAT && m == NULL);
  CHECK(swiftrnn_model_load_from_memory("garbage garbage", 15, &m) == SWIFTRNN_ERR_FORMAT);
  swiftrnn_model_free(NULL);

  /* Files that are not safetensors at all are named as such (FORMAT, the first thing said). */
  {
    static const char readme[] = "# libswiftrnn\n\nAn embeddable LSTM/GRU/RNN runtime.\n";
    static const char html[] = "<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n";
    /* A zip whose first entry is PyTorch's archive/data.pkl (torch.save), and a legacy one. */
    static const unsigned char pt_zip[] = {'P', 'K', 3, 4, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                           3, 0, 0, 0, 3, 0, 0, 0, 16, 0, 0, 0,
                                           'a', 'r', 'c', 'h', 'i', 'v', 'e', '/', 'd', 'a', 't', 'a', '.', 'p', 'k', 'l',
                                           0x80, 2, '.'};
    static const unsigned char legacy_pt[] = {0x80, 2, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'};
    m = (swiftrnn_model *)0x1;
    CHECK(swiftrnn_model_load_from_memory(readme, sizeof readme - 1, &m) == SWIFTRNN_ERR_FORMAT && m == NULL &&
          strstr(swiftrnn_last_error(), "not a safetensors model file: text") != NULL);
    CHECK(swiftrnn_model_load_from_memory(html, sizeof html - 1, &m) == SWIFTRNN_ERR_FORMAT &&
          strstr(swiftrnn_last_error(), "not a safetensors model file: an HTML page") != NULL);
    CHECK(swiftrnn_model_load_from_memory(pt_zip, sizeof pt_zip, &m) == SWIFTRNN_ERR_FORMAT &&
          strstr(swiftrnn_last_error(), "a PyTorch checkpoint; convert it with python -m swiftrnn.export") != NULL);
    CHECK(swiftrnn_model_load_from_memory(legacy_pt, sizeof legacy_pt, &m) == SWIFTRNN_ERR_FORMAT &&
          strstr(swiftrnn_last_error(), "a PyTorch checkpoint; convert it with python -m swiftrnn.export") != NULL);
  }

  size_t size = 0;
  unsigned char *bytes = read_file(fixture(dir, "models/sentiment_lstm_bi.safetensors"), &size);
  CHECK(bytes != NULL && size > 100);
  int truncated_ok = 1;
  for (size_t cut = 0; bytes && cut < size; cut += (cut < 600 ? 1 : 97)) {
    swiftrnn_model *t = (swiftrnn_model *)0x1;
    swiftrnn_status st = swiftrnn_model_load_from_memory(bytes, cut, &t);
    if (st != SWIFTRNN_ERR_FORMAT || t != NULL) { truncated_ok = 0; fprintf(stderr, "cut %zu -> %d\n", cut, st); }
  }
  CHECK(truncated_ok);

  /* A sentiment model. */
  swiftrnn_model *sent = NULL;
  CHECK(swiftrnn_model_load_from_memory(bytes, size, &sent) == SWIFTRNN_OK && sent != NULL);
  free(bytes); /* the model copied what it needs */
  swiftrnn_model_info info;
  memset(&info, 0, sizeof info);
  CHECK(swiftrnn_model_get_info(sent, &info) == SWIFTRNN_ERR_INVALID_ARGUMENT); /* struct_size 0 */
  info.struct_size = sizeof info;
  CHECK(swiftrnn_model_get_info(sent, &info) == SWIFTRNN_OK);
  CHECK(info.kind == SWIFTRNN_KIND_SENTIMENT && info.cell == SWIFTRNN_CELL_LSTM && info.bidirectional == 1);
  CHECK(info.num_layers == 1 && info.head_layers == 2 && info.n_parameters > 0);
  CHECK(info.precision == SWIFTRNN_PRECISION_F32);
  /* A program built against the 0.2 header (48 bytes, no precision) gets the fields it knows. */
  info.struct_size = offsetof(swiftrnn_model_info, precision);
  info.precision = (swiftrnn_precision)77;
  CHECK(swiftrnn_model_get_info(sent, &info) == SWIFTRNN_OK && info.precision == (swiftrnn_precision)77);
  info.struct_size = sizeof info;
  CHECK(swiftrnn_model_get_info(NULL, &info) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_model_describe(sent) != NULL && strstr(swiftrnn_model_describe(sent), "sentiment") != NULL);
  CHECK(swiftrnn_model_describe(NULL) == NULL);

  float p = -1.0f, q = -1.0f;
  const char *review = "A great movie, I loved it :)";
  CHECK(swiftrnn_score_sentiment(sent, review, strlen(review), &p) == SWIFTRNN_OK && p >= 0.0f && p <= 1.0f);
  CHECK(swiftrnn_score_sentiment(sent, NULL, 0, &p) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_score_sentiment(sent, review, strlen(review), NULL) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_score_sentiment(NULL, review, strlen(review), &p) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_score_sentiment(sent, "", 0, &p) == SWIFTRNN_OK && p >= 0.0f && p <= 1.0f);
  CHECK(swiftrnn_score_sentiment(sent, "!!! ...", 7, &q) == SWIFTRNN_OK && q == p); /* no tokens */
  CHECK(swiftrnn_score_sentiment(sent, "\xff\xfe bad \xc3 utf8", 14, &p) == SWIFTRNN_OK);
  CHECK(swiftrnn_score_sentiment(sent, "nul\0inside", 10, &p) == SWIFTRNN_OK);
  {
    /* A 10 MB review (API_TEST_BIG_MB overrides: sanitizer builds are 20-50x slower). */
    const char *mb = getenv("API_TEST_BIG_MB");
    size_t big = (size_t)(mb ? atoi(mb) : 10) << 20;
    char *huge = malloc(big);
    for (size_t i = 0; i < big; i++) huge[i] = "a great film, awful plot <br /> "[i % 32];
    p = -1.0f;
    CHECK(swiftrnn_score_sentiment(sent, huge, big, &p) == SWIFTRNN_OK && p >= 0.0f && p <= 1.0f);
    free(huge);
  }

  const char *texts[3] = {review, "", "terrible, boring"};
  size_t lens[3] = {strlen(review), 0, strlen("terrible, boring")};
  float probs[3];
  CHECK(swiftrnn_score_sentiment_batch(sent, texts, lens, 3, 2, probs) == SWIFTRNN_OK);
  for (int i = 0; i < 3; i++) {
    float single = -1;
    swiftrnn_score_sentiment(sent, texts[i], lens[i], &single);
    CHECK(single == probs[i]);
  }
  CHECK(swiftrnn_score_sentiment_batch(sent, NULL, NULL, 0, 0, NULL) == SWIFTRNN_OK);
  CHECK(swiftrnn_score_sentiment_batch(sent, texts, lens, 3, -1, probs) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  const char *with_null[2] = {review, NULL};
  size_t null_lens[2] = {strlen(review), 3};
  CHECK(swiftrnn_score_sentiment_batch(sent, with_null, null_lens, 2, 1, probs) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  null_lens[1] = 0; /* NULL with length 0 is an empty text */
  CHECK(swiftrnn_score_sentiment_batch(sent, with_null, null_lens, 2, 1, probs) == SWIFTRNN_OK);
  CHECK(swiftrnn_score_sentiment(sent, "", 0, &q) == SWIFTRNN_OK && q == probs[1]);

  /* encode: two-call sizing. */
  size_t count = 0;
  CHECK(swiftrnn_encode(sent, review, strlen(review), NULL, 0, &count) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && count > 0);
  int32_t *ids = malloc(count * sizeof *ids);
  size_t count2 = 0;
  CHECK(swiftrnn_encode(sent, review, strlen(review), ids, count, &count2) == SWIFTRNN_OK && count2 == count);
  free(ids);
  CHECK(swiftrnn_encode(sent, "", 0, NULL, 0, &count) == SWIFTRNN_OK && count == 0);

  /* tokenize */
  char tok[64];
  size_t tl = 0;
  CHECK(swiftrnn_tokenize("Hello <br/>World :)", 19, tok, sizeof tok, &tl) == SWIFTRNN_OK);
  CHECK(strcmp(tok, "hello\nworld\n:)\n") == 0 && tl == strlen(tok));
  CHECK(swiftrnn_tokenize("Hello World", 11, tok, 3, &tl) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && tl == 12);
  CHECK(swiftrnn_tokenize("Hello World", 11, NULL, 0, &tl) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && tl == 12);

  /* Wrong kind. */
  char out[256];
  size_t out_len = 0;
  CHECK(swiftrnn_sample_text(sent, "a", 1, 5, NULL, out, sizeof out, &out_len) == SWIFTRNN_ERR_WRONG_KIND);
  double nats = 0;
  size_t predicted = 0;
  CHECK(swiftrnn_log_likelihood(sent, "ab", 2, &nats, &predicted) == SWIFTRNN_ERR_WRONG_KIND);

  /* A character model. */
  swiftrnn_model *lm = NULL;
  CHECK(swiftrnn_model_load(fixture(dir, "models/charlm_small.safetensors"), &lm) == SWIFTRNN_OK);
  CHECK(swiftrnn_score_sentiment(lm, "x", 1, &p) == SWIFTRNN_ERR_WRONG_KIND);
  swiftrnn_sample_params sp;
  swiftrnn_sample_params_init(&sp);
  CHECK(sp.struct_size == sizeof sp && sp.scale_factor == 1.0f && sp.top_p == 1.0f && sp.top_k == 0);
  sp.seed = 42;
  char a[512], b[512];
  size_t la = 0, lb = 0;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 100, &sp, a, sizeof a, &la) == SWIFTRNN_OK);
  CHECK(swiftrnn_sample_text(lm, "The", 3, 100, &sp, b, sizeof b, &lb) == SWIFTRNN_OK);
  CHECK(la == lb && memcmp(a, b, la) == 0 && strncmp(a, "The", 3) == 0 && strlen(a) == la);
  sp.seed = 43;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 100, &sp, b, sizeof b, &lb) == SWIFTRNN_OK);
  CHECK(!(la == lb && memcmp(a, b, la) == 0));
  CHECK(swiftrnn_sample_text(lm, "The", 3, 0, NULL, a, sizeof a, &la) == SWIFTRNN_OK && strcmp(a, "The") == 0);
  CHECK(swiftrnn_sample_text(lm, "The", 3, 100, NULL, a, 0, &la) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && la >= 103);
  CHECK(swiftrnn_sample_text(lm, "The", 3, 100, NULL, NULL, 0, &la) == SWIFTRNN_ERR_BUFFER_TOO_SMALL);
  {
    /* Exact size once generated; a too-small buffer stays untouched. */
    size_t exact = 0, again = 0;
    char small[600];
    CHECK(swiftrnn_sample_text(lm, "The", 3, 20, NULL, small, sizeof small, &exact) == SWIFTRNN_OK);
    memset(small, 'X', sizeof small);
    CHECK(swiftrnn_sample_text(lm, "The", 3, 20, NULL, small, exact, &again) == SWIFTRNN_ERR_BUFFER_TOO_SMALL);
    CHECK(again == exact && small[0] == 'X' && small[exact - 1] == 'X');
    CHECK(swiftrnn_sample_text(lm, "The", 3, 20, NULL, small, exact + 1, &again) == SWIFTRNN_OK && again == exact);
  }
  CHECK(swiftrnn_sample_text(lm, "The", 3, (size_t)1000000000, NULL, a, sizeof a, &la) == SWIFTRNN_ERR_BUFFER_TOO_SMALL
        && la >= 1000000003u);
  CHECK(swiftrnn_sample_text(lm, "The", 3, (size_t)-1, NULL, a, sizeof a, &la) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_sample_text(lm, "", 0, 10, NULL, a, sizeof a, &la) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_sample_text(lm, "Q#", 2, 10, NULL, a, sizeof a, &la) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(swiftrnn_last_error(), "not in the model's character table") != NULL);
  sp.scale_factor = 0.0f;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 10, &sp, a, sizeof a, &la) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  sp.scale_factor = NAN;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 10, &sp, a, sizeof a, &la) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  sp.scale_factor = 1.0f;
  sp.top_p = 1.5f;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 10, &sp, a, sizeof a, &la) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  sp.top_p = 1.0f;
  sp.top_k = -3;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 10, &sp, a, sizeof a, &la) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  sp.top_k = 0;
  sp.struct_size = 4;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 10, &sp, a, sizeof a, &la) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  sp.struct_size = sizeof sp;
  /* n_threads: default 1; any count gives the same text; negative is an error; a struct
   * without the field (struct_size 32) means 1. */
  CHECK(sp.n_threads == 1);
  sp.seed = 7;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 50, &sp, a, sizeof a, &la) == SWIFTRNN_OK);
  sp.n_threads = 2;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 50, &sp, b, sizeof b, &lb) == SWIFTRNN_OK && la == lb && memcmp(a, b, la) == 0);
  sp.n_threads = 0;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 50, &sp, b, sizeof b, &lb) == SWIFTRNN_OK && la == lb && memcmp(a, b, la) == 0);
  sp.n_threads = -1;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 50, &sp, b, sizeof b, &lb) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(strstr(swiftrnn_last_error(), "n_threads") != NULL);
  sp.struct_size = 32;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 50, &sp, b, sizeof b, &lb) == SWIFTRNN_OK && la == lb && memcmp(a, b, la) == 0);
  sp.struct_size = sizeof sp;
  sp.n_threads = 1;
  {
    /* An older program's smaller struct: init writes only its bytes. */
    union { swiftrnn_sample_params p; unsigned char bytes[sizeof(swiftrnn_sample_params) + 8]; } u;
    memset(u.bytes, 0xAB, sizeof u.bytes);
    swiftrnn_sample_params_init_sized(&u.p, 32);
    CHECK(u.p.struct_size == 32 && u.p.seed == 0 && u.bytes[32] == 0xAB && u.bytes[39] == 0xAB);
    swiftrnn_sample_params_init_sized(&u.p, sizeof u.bytes);
    CHECK(u.p.struct_size == sizeof(swiftrnn_sample_params) && u.p.n_threads == 1 && u.p.progress == NULL && u.bytes[sizeof(swiftrnn_sample_params)] == 0xAB);
    /* The struct before the sampling controls (56 bytes): none of them is written. */
    memset(u.bytes, 0xAB, sizeof u.bytes);
    swiftrnn_sample_params_init_sized(&u.p, 56);
    CHECK(u.p.struct_size == 56 && u.p.n_threads == 1 && u.bytes[56] == 0xAB && u.bytes[103] == 0xAB);
  }

  /* Greedy and top_k = 1 agree; the stream equals sample_text. */
  sp.greedy = 1;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 50, &sp, a, sizeof a, &la) == SWIFTRNN_OK);
  sp.greedy = 0;
  sp.top_k = 1;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 50, &sp, b, sizeof b, &lb) == SWIFTRNN_OK);
  CHECK(la == lb && memcmp(a, b, la) == 0);
  sp.top_k = 5;
  sp.top_p = 0.9f;
  sp.seed = 7;
  CHECK(swiftrnn_sample_text(lm, "The", 3, 60, &sp, a, sizeof a, &la) == SWIFTRNN_OK);
  swiftrnn_generator *g = NULL;
  CHECK(swiftrnn_generator_create(lm, "The", 3, &sp, &g) == SWIFTRNN_OK && g != NULL);
  size_t pos = 3;
  int same = 1;
  char ch[8];
  size_t cl = 0;
  CHECK(swiftrnn_generator_next(g, ch, 1, &cl) == SWIFTRNN_ERR_BUFFER_TOO_SMALL);
  for (int i = 0; i < 60; i++) {
    if (swiftrnn_generator_next(g, ch, sizeof ch, &cl) != SWIFTRNN_OK) { same = 0; break; }
    if (pos + cl > la || memcmp(a + pos, ch, cl) != 0) same = 0;
    pos += cl;
  }
  CHECK(same && pos == la);
  swiftrnn_model_free(lm); /* the generator keeps the model alive */
  CHECK(swiftrnn_generator_next(g, ch, sizeof ch, &cl) == SWIFTRNN_OK);
  swiftrnn_generator_free(g);
  swiftrnn_generator_free(NULL);
  CHECK(swiftrnn_generator_create(sent, "The", 3, NULL, &g) == SWIFTRNN_ERR_WRONG_KIND && g == NULL);

  /* Log-likelihood. */
  CHECK(swiftrnn_model_load(fixture(dir, "models/charlm_small.safetensors"), &lm) == SWIFTRNN_OK);
  CHECK(swiftrnn_log_likelihood(lm, "The sea", 7, &nats, &predicted) == SWIFTRNN_OK && predicted == 6 && nats > 0);
  CHECK(swiftrnn_log_likelihood(lm, "T", 1, &nats, &predicted) == SWIFTRNN_OK && predicted == 0 && nats == 0);
  CHECK(swiftrnn_log_likelihood(lm, "T#", 2, &nats, &predicted) == SWIFTRNN_ERR_INVALID_ARGUMENT);
  CHECK(swiftrnn_encode(lm, "The", 3, NULL, 0, &count) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && count == 3);
  swiftrnn_model_free(lm);
  swiftrnn_model_free(sent);

  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
