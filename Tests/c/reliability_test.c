/* Regression tests for issue 12's defects F1-F10 (an outside attack on 0.1.0) and for
 * cancellation, written against the header only. Each test failed on the code before its fix.
 *   reliability_test FIXTURES_DIR TMPDIR
 * Prints "N passed, N failed"; exits non-zero on any failure. A hang is a failure too: every
 * test runs under alarm(), and a signal (SIGBUS, SIGILL, SIGSEGV) kills the process, which the
 * runner reports. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <swiftrnn.h>

#include "check.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Sets every F32 value of tensor `name` in a safetensors image to `value`. */
static int set_tensor(unsigned char *file, const char *name, float value) {
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | file[i];
  char key[256];
  snprintf(key, sizeof key, "\"%s\"", name);
  char *header = malloc(hlen + 1);
  memcpy(header, file + 8, hlen);
  header[hlen] = 0;
  char *at = strstr(header, key), *offs = at ? strstr(at, "\"data_offsets\":[") : NULL;
  if (!offs) { free(header); return 0; }
  unsigned long long a, b;
  if (sscanf(offs, "\"data_offsets\":[%llu,%llu]", &a, &b) != 2) { free(header); return 0; }
  for (unsigned long long o = a; o + 4 <= b; o += 4) memcpy(file + 8 + hlen + o, &value, 4);
  free(header);
  return 1;
}

/* Replaces the first occurrence of `from` by `to` (same length) in the header. */
static int patch_header(unsigned char *file, const char *from, const char *to) {
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; i--) hlen = hlen << 8 | file[i];
  size_t n = strlen(from);
  for (uint64_t i = 8; i + n <= 8 + hlen; i++)
    if (memcmp(file + i, from, n) == 0) { memcpy(file + i, to, n); return 1; }
  return 0;
}

/* F2: a writer that keeps rewriting and truncating the model file while the loader reads it. */
struct churn { const char *path; const unsigned char *bytes; size_t size; volatile int stop; };
static void *churn_file(void *arg) {
  struct churn *c = arg;
  while (!c->stop) {
    FILE *f = fopen(c->path, "r+b");
    if (!f) f = fopen(c->path, "wb");
    if (!f) continue;
    fwrite(c->bytes, 1, c->size, f);
    fflush(f);
    if (ftruncate(fileno(f), (off_t)(c->size / 3)) != 0) { /* keep going */ }
    fclose(f);
  }
  return NULL;
}

/* Cancellation: stop at the `limit`-th call, count the calls. */
struct stopper { int calls, limit; size_t last_done, total; };
static int stop_after(void *user, size_t done, size_t total) {
  struct stopper *s = user;
  s->calls++;
  s->last_done = done;
  s->total = total;
  return s->calls >= s->limit;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: reliability_test FIXTURES_DIR TMPDIR\n"); return 2; }
  const char *dir = argv[1], *tmp = argv[2];
  char path[4096];
  const size_t BIG = SIZE_MAX, HALF = (size_t)1 << 63;

  /* F6: a host that loaded OpenBLAS itself and set 2 threads still has 2 after our first model
   * load (0.1.0 called openblas_set_num_threads(1) on the shared instance). Runs first: the
   * library looks at OpenBLAS once per process. */
  void *blas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_GLOBAL);
  void (*set_threads)(int) = NULL;
  int (*get_threads)(void) = NULL;
  if (blas) {   /* POSIX's way to get a function pointer from dlsym without a cast */
    *(void **)&set_threads = dlsym(blas, "openblas_set_num_threads");
    *(void **)&get_threads = dlsym(blas, "openblas_get_num_threads");
  }
  if (set_threads && get_threads) set_threads(2);

  swiftrnn_model *sent = NULL, *lm = NULL;
  CHECK(swiftrnn_model_load(fixture(dir, "models/sentiment_lstm_uni.safetensors"), &sent) == SWIFTRNN_OK);
  CHECK(swiftrnn_model_load(fixture(dir, "models/charlm_small.safetensors"), &lm) == SWIFTRNN_OK);
  if (!sent || !lm) { fprintf(stderr, "fixtures missing\n"); return 2; }
  if (get_threads) CHECK(get_threads() == 2); /* F6 */

  /* F1: a FIFO (nobody writing) is IO at once, never a hang. */
  alarm(10);
  snprintf(path, sizeof path, "%s/fifo.safetensors", tmp);
  unlink(path);
  if (mkfifo(path, 0600) == 0) {
    swiftrnn_model *m = (swiftrnn_model *)0x1;
    double t0 = now();
    CHECK(swiftrnn_model_load(path, &m) == SWIFTRNN_ERR_IO && m == NULL);
    CHECK(now() - t0 < 1.0);
    CHECK(strstr(swiftrnn_last_error(), "not a regular file") != NULL);
    unlink(path);
  }
  {
    swiftrnn_model *m = (swiftrnn_model *)0x1;
    CHECK(swiftrnn_model_load("/dev/zero", &m) == SWIFTRNN_ERR_IO && m == NULL);
  }
  alarm(0);

  /* F2: a file truncated and rewritten while it loads: every load is OK or an error status,
   * never SIGBUS (the process would die here). */
  {
    size_t n;
    unsigned char *bytes = read_file(fixture(dir, "models/charlm_small.safetensors"), &n);
    if (!bytes) { fprintf(stderr, "cannot read the fixtures\n"); return 2; }
    snprintf(path, sizeof path, "%s/churn.safetensors", tmp);
    struct churn c = {path, bytes, n, 0};
    pthread_t t;
    pthread_create(&t, NULL, churn_file, &c);
    int ok = 0, errors = 0, other = 0;
    double t0 = now();
    while (now() - t0 < 1.5) {
      swiftrnn_model *m = NULL;
      swiftrnn_status s = swiftrnn_model_load(path, &m);
      if (s == SWIFTRNN_OK) ok++;
      else if (s == SWIFTRNN_ERR_IO || s == SWIFTRNN_ERR_FORMAT) errors++;
      else other++;
      swiftrnn_model_free(m);
    }
    c.stop = 1;
    pthread_join(t, NULL);
    fprintf(stderr, "F2: %d loads OK, %d IO/FORMAT errors while the file changed\n", ok, errors);
    CHECK(other == 0 && ok + errors > 0);
    free(bytes);
  }

  /* F3: every size_t above SIZE_MAX / 2 is INVALID_ARGUMENT, never a trap. */
  {
    const char *t = "hello";
    float p = -1;
    size_t n = 0, len = 0, pred = 0;
    double nats = 0;
    int32_t ids[4];
    char buf[64];
    swiftrnn_generator *g = (swiftrnn_generator *)0x1;
    swiftrnn_model *m = (swiftrnn_model *)0x1;
    CHECK(swiftrnn_score_sentiment(sent, t, BIG, &p) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_score_sentiment(sent, t, HALF, &p) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(swiftrnn_last_error(), "text_len") != NULL);
    CHECK(swiftrnn_tokenize(t, BIG, buf, sizeof buf, &len) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_tokenize(t, 5, buf, BIG, &len) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_encode(sent, t, BIG, ids, 4, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_encode(sent, t, 5, ids, BIG, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_sample_text(lm, "The", BIG, 10, NULL, buf, sizeof buf, &len) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_sample_text(lm, "The", 3, BIG, NULL, buf, sizeof buf, &len) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_sample_text(lm, "The", 3, 10, NULL, buf, BIG, &len) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_generator_create(lm, "The", BIG, NULL, &g) == SWIFTRNN_ERR_INVALID_ARGUMENT && g == NULL);
    CHECK(swiftrnn_log_likelihood(lm, "The", BIG, &nats, &pred) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_model_load_from_memory("x", BIG, &m) == SWIFTRNN_ERR_INVALID_ARGUMENT && m == NULL);
    const char *texts[2] = {"good", "bad"};
    size_t lens[2] = {4, BIG};
    float out[2];
    CHECK(swiftrnn_score_sentiment_batch(sent, texts, lens, 2, 1, out) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(swiftrnn_last_error(), "text_lens[1]") != NULL);
    /* F8: a count of SIZE_MAX (n - 1 at n = 0) is not "nothing to do". */
    lens[1] = 3;
    CHECK(swiftrnn_score_sentiment_batch(sent, texts, lens, BIG, 1, out) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_score_sentiment_batch(sent, texts, lens, HALF, 1, out) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    swiftrnn_generator *ok = NULL;
    CHECK(swiftrnn_generator_create(lm, "The", 3, NULL, &ok) == SWIFTRNN_OK);
    CHECK(swiftrnn_generator_next(ok, buf, BIG, &len) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    swiftrnn_generator_free(ok);
  }

  /* F10: greedy ignores top_k and top_p, whatever their values. */
  {
    swiftrnn_sample_params p;
    swiftrnn_sample_params_init(&p);
    p.greedy = 1;
    char a[64], b[64];
    size_t la = 0, lb = 0;
    CHECK(swiftrnn_sample_text(lm, "The", 3, 20, &p, a, sizeof a, &la) == SWIFTRNN_OK);
    p.top_k = -5;
    p.top_p = 7.0f;
    CHECK(swiftrnn_sample_text(lm, "The", 3, 20, &p, b, sizeof b, &lb) == SWIFTRNN_OK);
    CHECK(la == lb && memcmp(a, b, la) == 0);
    p.greedy = 0;
    CHECK(swiftrnn_sample_text(lm, "The", 3, 20, &p, b, sizeof b, &lb) == SWIFTRNN_ERR_INVALID_ARGUMENT);

    /* F7: a scale_factor near Float's limit is the argmax in the limit, not '\n' forever. */
    swiftrnn_sample_params_init(&p);
    p.scale_factor = 3.0e38f;
    CHECK(swiftrnn_sample_text(lm, "The", 3, 20, &p, b, sizeof b, &lb) == SWIFTRNN_OK);
    CHECK(la == lb && memcmp(a, b, la) == 0);
  }

  /* F5: weights that overflow Float give NON_FINITE, never OK with NaN. */
  {
    size_t n;
    unsigned char *bytes = read_file(fixture(dir, "models/sentiment_rnn_tanh_uni.safetensors"), &n);
    if (!bytes) { fprintf(stderr, "cannot read the fixtures\n"); return 2; }
    CHECK(patch_header(bytes, "\"rnn_tanh\"", "\"rnn_relu\""));
    CHECK(set_tensor(bytes, "rnn.weight_hh_l0", 1.0e30f));
    CHECK(set_tensor(bytes, "rnn.bias_ih_l0", 1.0f));
    swiftrnn_model *m = NULL;
    CHECK(swiftrnn_model_load_from_memory(bytes, n, &m) == SWIFTRNN_OK);
    if (m) {
      const char *review = "the acting was great and the story was great and i liked it a lot";
      float p = 0.5f;
      CHECK(swiftrnn_score_sentiment(m, review, strlen(review), &p) == SWIFTRNN_ERR_NON_FINITE);
      CHECK(strcmp(swiftrnn_status_string(SWIFTRNN_ERR_NON_FINITE), "SWIFTRNN_ERR_NON_FINITE") == 0);
      const char *texts[3] = {"", review, "great"};
      size_t lens[3] = {0, strlen(review), 5};
      float out[3] = {-1, -1, -1};
      CHECK(swiftrnn_score_sentiment_batch(m, texts, lens, 3, 1, out) == SWIFTRNN_ERR_NON_FINITE);
      CHECK(strstr(swiftrnn_last_error(), "texts[1]") != NULL);
      CHECK(isnan(out[1]));
      swiftrnn_model_free(m);
    }
    free(bytes);

    bytes = read_file(fixture(dir, "models/charlm_small.safetensors"), &n);
    if (!bytes) { fprintf(stderr, "cannot read the fixtures\n"); return 2; }
    CHECK(set_tensor(bytes, "rnn.weight_hh_l0", 1.0e30f));
    CHECK(set_tensor(bytes, "fc.weight", 3.0e38f));
    m = NULL;
    CHECK(swiftrnn_model_load_from_memory(bytes, n, &m) == SWIFTRNN_OK);
    if (m) {
      double nats = 0;
      size_t pred = 0, len = 0;
      char buf[64];
      CHECK(swiftrnn_log_likelihood(m, "The sea", 7, &nats, &pred) == SWIFTRNN_ERR_NON_FINITE);
      CHECK(swiftrnn_sample_text(m, "The", 3, 20, NULL, buf, sizeof buf, &len) == SWIFTRNN_ERR_NON_FINITE);
      swiftrnn_generator *g = NULL;
      CHECK(swiftrnn_generator_create(m, "The", 3, NULL, &g) == SWIFTRNN_OK);
      swiftrnn_status st = SWIFTRNN_OK;   /* the first steps may still be finite */
      for (int k = 0; k < 20 && st == SWIFTRNN_OK; k++) st = swiftrnn_generator_next(g, buf, sizeof buf, &len);
      CHECK(st == SWIFTRNN_ERR_NON_FINITE);
      swiftrnn_generator_free(g);
      swiftrnn_model_free(m);
    }
    free(bytes);
  }

  /* Cancellation: a progress callback stops a batch and a generation; the model stays usable. */
  {
    enum { N = 4000 };
    static const char *texts[N];
    static size_t lens[N];
    static float out[N];
    const char *review = "the acting was great and the story was great but the film was far too long";
    for (int i = 0; i < N; i++) { texts[i] = review; lens[i] = strlen(review) - (size_t)(i % 40); }
    swiftrnn_batch_params bp;
    swiftrnn_batch_params_init(&bp);
    CHECK(bp.struct_size == sizeof bp && bp.n_threads == 0 && bp.progress == NULL);
    CHECK(swiftrnn_score_sentiment_batch_ex(sent, texts, lens, N, &bp, out) == SWIFTRNN_OK);
    float first = out[7];
    struct stopper st = {0, 1000000, 0, 0};
    bp.progress = stop_after;
    bp.progress_user_data = &st;
    bp.n_threads = 2;
    CHECK(swiftrnn_score_sentiment_batch_ex(sent, texts, lens, N, &bp, out) == SWIFTRNN_OK);
    CHECK(st.calls >= 1 && st.last_done == N && st.total == N && out[7] == first);
    struct stopper stop = {0, 1, 0, 0};
    bp.progress_user_data = &stop;
    CHECK(swiftrnn_score_sentiment_batch_ex(sent, texts, lens, N, &bp, out) == SWIFTRNN_ERR_CANCELLED);
    CHECK(stop.calls == 1 && stop.last_done < N);
    CHECK(strcmp(swiftrnn_status_string(SWIFTRNN_ERR_CANCELLED), "SWIFTRNN_ERR_CANCELLED") == 0);
    float p = -1;
    CHECK(swiftrnn_score_sentiment(sent, texts[7], lens[7], &p) == SWIFTRNN_OK && p == first);

    swiftrnn_sample_params sp;
    swiftrnn_sample_params_init(&sp);
    CHECK(sp.progress == NULL && sp.progress_user_data == NULL);
    struct stopper gen = {0, 1, 0, 0};
    sp.progress = stop_after;
    sp.progress_user_data = &gen;
    size_t cap = 4000000, len = 0;
    char *buf = malloc(cap);
    memset(buf, 0x5A, 16);
    double t0 = now();
    CHECK(swiftrnn_sample_text(lm, "The", 3, cap - 100, &sp, buf, cap, &len) == SWIFTRNN_ERR_CANCELLED);
    CHECK(now() - t0 < 1.0 && gen.calls == 1 && gen.total == cap - 100 && buf[0] == 0x5A);
    sp.progress = NULL;
    CHECK(swiftrnn_sample_text(lm, "The", 3, 50, &sp, buf, cap, &len) == SWIFTRNN_OK && len >= 53);
    free(buf);
  }

  swiftrnn_model_free(sent);
  swiftrnn_model_free(lm);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
