/* Generator state (feed, save/load, logits) and the sampling controls (issue 15 items 1 and
 * 4), from C: usage: state_test FIXTURES_DIR */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

#define N 60

/* n characters from g into out (NUL-terminated); returns the bytes written. */
static size_t draw(swiftrnn_generator *g, int n, char *out, size_t cap) {
  size_t at = 0;
  for (int k = 0; k < n; k++) {
    char c[8];
    size_t len = 0;
    if (swiftrnn_generator_next(g, c, sizeof c, &len) != SWIFTRNN_OK || at + len + 1 > cap) break;
    memcpy(out + at, c, len);
    at += len;
  }
  out[at] = 0;
  return at;
}

static swiftrnn_generator *make(swiftrnn_model *m, const char *prime, const swiftrnn_sample_params *sp) {
  swiftrnn_generator *g = NULL;
  CHECK(swiftrnn_generator_create(m, prime, strlen(prime), sp, &g) == SWIFTRNN_OK);
  return g;
}

/* The whole state of g, malloc'd. */
static unsigned char *save(swiftrnn_generator *g, size_t *len) {
  *len = 0;
  CHECK(swiftrnn_generator_save_state(g, NULL, 0, len) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && *len > 0);
  unsigned char *buf = malloc(*len);
  size_t again = 0;
  CHECK(swiftrnn_generator_save_state(g, buf, *len, &again) == SWIFTRNN_OK && again == *len);
  return buf;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "Tests/SwiftRNNTests/Fixtures";
  swiftrnn_model *lm = NULL, *other = NULL, *sent = NULL;
  CHECK(swiftrnn_model_load(fixture(dir, "models/charlm_small.safetensors"), &lm) == SWIFTRNN_OK);
  CHECK(swiftrnn_model_load(fixture(dir, "models/charlm_gru2.safetensors"), &other) == SWIFTRNN_OK);
  CHECK(swiftrnn_model_load(fixture(dir, "models/sentiment_lstm_uni.safetensors"), &sent) == SWIFTRNN_OK);
  if (!lm || !other || !sent) return 1;

  swiftrnn_sample_params sp;
  swiftrnn_sample_params_init(&sp);
  CHECK(sp.repetition_penalty == 1.0f && sp.repetition_window == 64 && sp.min_p == 0.0f);
  CHECK(sp.stop_strings == NULL && sp.n_stop_strings == 0 && sp.banned == NULL && sp.banned_len == 0);
  sp.seed = 11;
  char a[1024], b[1024], c[1024];

  /* 1. feed("ab") + feed("c") after prime P equals prime P + "abc"; an empty feed does nothing. */
  {
    swiftrnn_generator *g1 = make(lm, "The ", &sp), *g2 = make(lm, "The sea", &sp);
    CHECK(swiftrnn_generator_feed(g1, "se", 2) == SWIFTRNN_OK);
    CHECK(swiftrnn_generator_feed(g1, "", 0) == SWIFTRNN_OK);
    CHECK(swiftrnn_generator_feed(g1, "a", 1) == SWIFTRNN_OK);
    draw(g1, N, a, sizeof a);
    draw(g2, N, b, sizeof b);
    CHECK(strcmp(a, b) == 0 && strlen(a) > 0);
    /* After drawing: feeding text continues as a prime of everything so far would. */
    size_t la = 0;
    swiftrnn_sample_params g0 = sp;
    g0.greedy = 1;
    swiftrnn_generator *x = make(lm, "The ", &g0);
    draw(x, 5, c, sizeof c);
    char prime[1100];
    snprintf(prime, sizeof prime, "The %.1000sand ", c);
    CHECK(swiftrnn_generator_feed(x, "and ", 4) == SWIFTRNN_OK);
    swiftrnn_generator *y = make(lm, prime, &g0);
    draw(x, N, a, sizeof a);
    draw(y, N, b, sizeof b);
    CHECK(strcmp(a, b) == 0);
    /* A character outside the table (U+0001) changes nothing. */
    size_t s1 = 0, s2 = 0;
    unsigned char *before = save(g1, &s1);
    CHECK(swiftrnn_generator_feed(g1, "a\x01", 2) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    unsigned char *after = save(g1, &s2);
    CHECK(s1 == s2 && memcmp(before, after, s1) == 0);
    free(before);
    free(after);
    CHECK(swiftrnn_generator_feed(NULL, "a", 1) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_generator_feed(g1, NULL, 0) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_generator_feed(g1, "a", (size_t)-1) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    (void)la;
    swiftrnn_generator_free(g1);
    swiftrnn_generator_free(g2);
    swiftrnn_generator_free(x);
    swiftrnn_generator_free(y);
  }

  /* 2. save / load: identical continuations, also into a generator created elsewhere. */
  {
    swiftrnn_generator *g = make(lm, "The sea", &sp);
    draw(g, 17, a, sizeof a);
    size_t n = 0;
    unsigned char *st = save(g, &n);
    unsigned char small[16];
    memset(small, 0xAB, sizeof small);
    size_t need = 0;
    CHECK(swiftrnn_generator_save_state(g, small, sizeof small, &need) == SWIFTRNN_ERR_BUFFER_TOO_SMALL);
    CHECK(need == n && small[0] == 0xAB && small[15] == 0xAB);
    CHECK(memcmp(st, "SRNNSTAT", 8) == 0);
    draw(g, N, a, sizeof a);
    swiftrnn_sample_params sp2 = sp;
    sp2.seed = 999;   /* the state carries the random state: the seed given here is replaced */
    swiftrnn_generator *h = make(lm, "a", &sp2);
    CHECK(swiftrnn_generator_load_state(h, st, n) == SWIFTRNN_OK);
    draw(h, N, b, sizeof b);
    CHECK(strcmp(a, b) == 0);
    /* Loading again rewinds. */
    CHECK(swiftrnn_generator_load_state(g, st, n) == SWIFTRNN_OK);
    draw(g, N, c, sizeof c);
    CHECK(strcmp(a, c) == 0);

    /* 3. Errors, and the generator unchanged after each. */
    CHECK(swiftrnn_generator_load_state(h, st, n) == SWIFTRNN_OK);
    int all_refused = 1;
    for (size_t k = 0; k < n; k++)   /* every truncation */
      if (swiftrnn_generator_load_state(h, st, k) != SWIFTRNN_ERR_FORMAT) all_refused = 0;
    CHECK(all_refused);
    unsigned char *bad = malloc(n);
    all_refused = 1;
    for (size_t k = 0; k < n; k += (k < 128 ? 1 : 7)) {   /* flipped bits anywhere */
      memcpy(bad, st, n);
      bad[k] ^= (unsigned char)(1u << (k % 8));
      if (swiftrnn_generator_load_state(h, bad, n) == SWIFTRNN_OK) all_refused = 0;
    }
    CHECK(all_refused);
    unsigned char *longer = calloc(n + 4, 1);
    memcpy(longer, st, n);
    CHECK(swiftrnn_generator_load_state(h, longer, n + 4) == SWIFTRNN_ERR_FORMAT);
    draw(h, N, b, sizeof b);
    CHECK(strcmp(a, b) == 0);   /* every refused load left h as it was */
    /* A state from another model. */
    swiftrnn_generator *o = make(other, "T", NULL);
    CHECK(o != NULL);
    if (o) {
      CHECK(swiftrnn_generator_load_state(o, st, n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
      CHECK(strstr(swiftrnn_last_error(), "another model") != NULL);
      size_t on = 0;
      unsigned char *ost = save(o, &on);
      CHECK(swiftrnn_generator_load_state(h, ost, on) == SWIFTRNN_ERR_INVALID_ARGUMENT);
      free(ost);
      swiftrnn_generator_free(o);
    }
    CHECK(swiftrnn_generator_load_state(NULL, st, n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_generator_load_state(h, NULL, 0) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_generator_load_state(h, st, (size_t)-1) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_generator_save_state(NULL, NULL, 0, &need) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_generator_save_state(h, NULL, 0, NULL) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_generator_save_state(h, NULL, 10, &need) == SWIFTRNN_ERR_BUFFER_TOO_SMALL);
    free(bad);
    free(longer);
    free(st);
    swiftrnn_generator_free(g);
    swiftrnn_generator_free(h);
  }

  /* 4. logits: one per character, the model's logits x scale_factor; reading them changes no
   *    character drawn; a state saved after reading them restores as well. */
  {
    swiftrnn_model_info info;
    info.struct_size = sizeof info;
    CHECK(swiftrnn_model_get_info(lm, &info) == SWIFTRNN_OK);
    size_t V = (size_t)info.vocab_size, n = 0;
    float *l1 = malloc(V * sizeof(float)), *l2 = malloc(V * sizeof(float));
    swiftrnn_generator *g = make(lm, "The sea", &sp), *h = make(lm, "The sea", &sp);
    CHECK(swiftrnn_generator_logits(g, NULL, 0, &n) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && n == V);
    CHECK(swiftrnn_generator_logits(g, l1, V - 1, &n) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && n == V);
    CHECK(swiftrnn_generator_logits(g, l1, V, &n) == SWIFTRNN_OK && n == V);
    CHECK(swiftrnn_generator_logits(g, l2, V, &n) == SWIFTRNN_OK && memcmp(l1, l2, V * sizeof(float)) == 0);
    /* -log softmax(logits)[c] is what log_likelihood says about c after the prime. */
    int32_t id = -1;
    size_t cnt = 0;
    CHECK(swiftrnn_encode(lm, "s", 1, &id, 1, &cnt) == SWIFTRNN_OK && cnt == 1);
    double mx = -INFINITY, sum = 0, n1 = 0, n2 = 0;
    size_t p1 = 0, p2 = 0;
    for (size_t k = 0; k < V; k++) mx = fmax(mx, l1[k]);
    for (size_t k = 0; k < V; k++) sum += exp(l1[k] - mx);
    double nll = log(sum) + mx - l1[id];
    CHECK(swiftrnn_log_likelihood(lm, "The sea", 7, &n1, &p1) == SWIFTRNN_OK);
    CHECK(swiftrnn_log_likelihood(lm, "The seas", 8, &n2, &p2) == SWIFTRNN_OK);
    CHECK(fabs((n2 - n1) - nll) < 1e-3);
    size_t sn = 0;
    unsigned char *st = save(g, &sn);   /* saved with the logits already computed */
    draw(g, N, a, sizeof a);
    draw(h, N, b, sizeof b);
    CHECK(strcmp(a, b) == 0);
    swiftrnn_generator *r = make(lm, "T", &sp);
    CHECK(swiftrnn_generator_load_state(r, st, sn) == SWIFTRNN_OK);
    draw(r, N, c, sizeof c);
    CHECK(strcmp(a, c) == 0);
    /* The characters behind the logits: swiftrnn_model_character k encodes to id k. */
    {
      int ok = 1;
      for (size_t k = 0; k < V; k++) {
        char chr[8];
        size_t cl = 0, cnt2 = 0;
        int32_t back = -1;
        if (swiftrnn_model_character(lm, (int32_t)k, chr, sizeof chr, &cl) != SWIFTRNN_OK || cl == 0 || chr[cl] != 0 ||
            swiftrnn_encode(lm, chr, cl, &back, 1, &cnt2) != SWIFTRNN_OK || back != (int32_t)k) ok = 0;
      }
      CHECK(ok);
      size_t cl = 0;
      char chr[8];
      CHECK(swiftrnn_model_character(lm, 0, NULL, 0, &cl) == SWIFTRNN_ERR_BUFFER_TOO_SMALL && cl >= 1);
      CHECK(swiftrnn_model_character(lm, 0, chr, cl, &cl) == SWIFTRNN_ERR_BUFFER_TOO_SMALL);
      CHECK(swiftrnn_model_character(lm, -1, chr, sizeof chr, &cl) == SWIFTRNN_ERR_INVALID_ARGUMENT);
      CHECK(swiftrnn_model_character(lm, (int32_t)V, chr, sizeof chr, &cl) == SWIFTRNN_ERR_INVALID_ARGUMENT);
      CHECK(swiftrnn_model_character(sent, 0, chr, sizeof chr, &cl) == SWIFTRNN_ERR_WRONG_KIND);
      CHECK(swiftrnn_model_character(NULL, 0, chr, sizeof chr, &cl) == SWIFTRNN_ERR_INVALID_ARGUMENT);
      CHECK(swiftrnn_model_character(lm, 0, chr, sizeof chr, NULL) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    }
    /* scale_factor 2: twice the logits; greedy: unscaled. */
    swiftrnn_sample_params s2 = sp;
    s2.scale_factor = 2.0f;
    swiftrnn_generator *g2 = make(lm, "The sea", &s2);
    CHECK(swiftrnn_generator_logits(g2, l2, V, &n) == SWIFTRNN_OK);
    int same = 1;
    for (size_t k = 0; k < V; k++) if (l2[k] != 2.0f * l1[k]) same = 0;
    CHECK(same);
    s2.greedy = 1;
    s2.scale_factor = NAN;   /* ignored when greedy */
    swiftrnn_generator *g3 = make(lm, "The sea", &s2);
    CHECK(g3 && swiftrnn_generator_logits(g3, l2, V, &n) == SWIFTRNN_OK && memcmp(l1, l2, V * sizeof(float)) == 0);
    CHECK(swiftrnn_generator_logits(NULL, l2, V, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_generator_logits(g, l2, V, NULL) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_generator_logits(g, NULL, V, &n) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    free(st);
    free(l1);
    free(l2);
    swiftrnn_generator_free(g);
    swiftrnn_generator_free(h);
    swiftrnn_generator_free(r);
    swiftrnn_generator_free(g2);
    swiftrnn_generator_free(g3);
  }

  /* 5. Sampling controls: deterministic under the seed, equal in sample_text and a generator. */
  {
    const char *stops[] = {"the", "e s"};
    swiftrnn_sample_params c1 = sp;
    c1.repetition_penalty = 1.3f;
    c1.repetition_window = 16;
    c1.min_p = 0.05f;
    c1.banned = "xz";
    c1.banned_len = 2;
    for (int with_stops = 0; with_stops < 2; with_stops++) {
      c1.stop_strings = with_stops ? stops : NULL;
      c1.n_stop_strings = with_stops ? 2 : 0;
      for (uint64_t seed = 1; seed <= 8; seed++) {
        c1.seed = seed;
        size_t la = 0, lb = 0;
        int32_t stop = -2;
        CHECK(swiftrnn_sample_text_ex(lm, "The sea", 7, 200, &c1, a, sizeof a, &la, &stop) == SWIFTRNN_OK);
        CHECK(swiftrnn_sample_text(lm, "The sea", 7, 200, &c1, b, sizeof b, &lb) == SWIFTRNN_OK);
        CHECK(la == lb && memcmp(a, b, la) == 0);
        CHECK(strpbrk(a + 7, "xz") == NULL);
        swiftrnn_generator *g = make(lm, "The sea", &c1);
        size_t gl = draw(g, 200, c, sizeof c);
        CHECK(gl == la - 7 && memcmp(c, a + 7, gl) == 0);
        int32_t gi = -2;
        CHECK(swiftrnn_generator_stop_index(g, &gi) == SWIFTRNN_OK && gi == stop);
        if (with_stops) {
          CHECK(stop == -1 || (stop >= 0 && stop < 2));
          if (stop >= 0) {
            size_t sl = strlen(stops[stop]);
            CHECK(la >= 7 + sl && memcmp(a + la - sl, stops[stop], sl) == 0);
            /* The first match ends it: no earlier complete stop string in the generated text. */
            char *t = a + 7;
            char *f0 = strstr(t, stops[0]), *f1 = strstr(t, stops[1]);
            size_t end0 = f0 ? (size_t)(f0 - t) + strlen(stops[0]) : (size_t)-1;
            size_t end1 = f1 ? (size_t)(f1 - t) + strlen(stops[1]) : (size_t)-1;
            CHECK((end0 < end1 ? end0 : end1) == la - 7);
            /* After the stop: empty characters, until a feed. */
            char e[8];
            size_t el = 9;
            CHECK(swiftrnn_generator_next(g, e, sizeof e, &el) == SWIFTRNN_OK && el == 0 && e[0] == 0);
            CHECK(swiftrnn_generator_feed(g, " ", 1) == SWIFTRNN_OK);
            CHECK(swiftrnn_generator_stop_index(g, &gi) == SWIFTRNN_OK && gi == -1);
            CHECK(swiftrnn_generator_next(g, e, sizeof e, &el) == SWIFTRNN_OK && el > 0);
          }
        } else {
          CHECK(stop == -1 && la > 200);
        }
        swiftrnn_generator_free(g);
      }
    }
    /* Any seed stops somewhere with a stop string that is a single common character. */
    const char *space[] = {" "};
    c1.stop_strings = space;
    c1.n_stop_strings = 1;
    size_t la = 0;
    int32_t stop = -2;
    CHECK(swiftrnn_sample_text_ex(lm, "The sea", 7, 500, &c1, a, sizeof a, &la, &stop) == SWIFTRNN_OK);
    CHECK(stop == 0 && a[la - 1] == ' ');
    /* A stopped generator's state restores stopped. */
    swiftrnn_generator *g = make(lm, "The sea", &c1);
    draw(g, 500, c, sizeof c);
    size_t sn = 0;
    unsigned char *st = save(g, &sn);
    swiftrnn_generator *h = make(lm, "The sea", &c1);
    CHECK(swiftrnn_generator_load_state(h, st, sn) == SWIFTRNN_OK);
    int32_t hi = -2;
    CHECK(swiftrnn_generator_stop_index(h, &hi) == SWIFTRNN_OK && hi == 0);
    free(st);
    swiftrnn_generator_free(g);
    swiftrnn_generator_free(h);
    /* The penalty changes the text; greedy respects bans and the penalty. */
    swiftrnn_sample_params p0 = sp, p1 = sp;
    p0.greedy = p1.greedy = 1;
    p1.repetition_penalty = 3.0f;
    size_t l0 = 0, l1 = 0;
    CHECK(swiftrnn_sample_text(lm, "The sea", 7, 100, &p0, a, sizeof a, &l0) == SWIFTRNN_OK);
    CHECK(swiftrnn_sample_text(lm, "The sea", 7, 100, &p1, b, sizeof b, &l1) == SWIFTRNN_OK);
    CHECK(!(l0 == l1 && memcmp(a, b, l0) == 0));
    p0.banned = " e";
    p0.banned_len = 2;
    CHECK(swiftrnn_sample_text(lm, "The sea", 7, 100, &p0, a, sizeof a, &l0) == SWIFTRNN_OK);
    CHECK(strpbrk(a + 7, " e") == NULL);
  }

  /* 6. Invalid values: refused with a status and a message, whatever the call. */
  {
    size_t la = 0;
    int32_t stop = 0;
    swiftrnn_generator *g = NULL;
    const char *empty[] = {""};
    const char *with_null[] = {"a", NULL};
    swiftrnn_sample_params bad;
#define REFUSED(field_setup)                                                                    \
    do {                                                                                        \
      bad = sp;                                                                                 \
      field_setup;                                                                              \
      CHECK(swiftrnn_sample_text(lm, "The", 3, 10, &bad, a, sizeof a, &la) == SWIFTRNN_ERR_INVALID_ARGUMENT); \
      CHECK(swiftrnn_last_error()[0] != 0);                                                     \
      CHECK(swiftrnn_sample_text_ex(lm, "The", 3, 10, &bad, a, sizeof a, &la, &stop) == SWIFTRNN_ERR_INVALID_ARGUMENT); \
      CHECK(swiftrnn_generator_create(lm, "The", 3, &bad, &g) == SWIFTRNN_ERR_INVALID_ARGUMENT && g == NULL); \
    } while (0)
    REFUSED(bad.repetition_penalty = 0.0f);
    REFUSED(bad.repetition_penalty = -1.0f);
    REFUSED(bad.repetition_penalty = NAN);
    REFUSED(bad.repetition_penalty = INFINITY);
    REFUSED(bad.repetition_window = -1);
    REFUSED(bad.repetition_window = 1 << 21);
    REFUSED(bad.min_p = -0.1f);
    REFUSED(bad.min_p = 1.5f);
    REFUSED(bad.min_p = NAN);
    REFUSED((bad.stop_strings = NULL, bad.n_stop_strings = 1));
    REFUSED((bad.stop_strings = empty, bad.n_stop_strings = 1));
    REFUSED((bad.stop_strings = with_null, bad.n_stop_strings = 2));
    REFUSED((bad.stop_strings = empty, bad.n_stop_strings = (size_t)-1));
    REFUSED((bad.stop_strings = empty, bad.n_stop_strings = 100000));
    REFUSED((bad.banned = NULL, bad.banned_len = 3));
    REFUSED((bad.banned = "a", bad.banned_len = (size_t)-1));
    CHECK(swiftrnn_sample_text_ex(lm, "The", 3, 10, &sp, a, sizeof a, &la, NULL) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(swiftrnn_sample_text_ex(sent, "The", 3, 10, &sp, a, sizeof a, &la, &stop) == SWIFTRNN_ERR_WRONG_KIND);
    CHECK(swiftrnn_generator_stop_index(NULL, &stop) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    /* Banning every character of the table (the fixture's table is ASCII); all but one: the
     * text is that one character. */
    char all[256];
    size_t k = 0;
    int32_t id = 0;
    size_t cnt = 0;
    for (int ch = 1; ch < 128; ch++) {
      char one = (char)ch;
      if (swiftrnn_encode(lm, &one, 1, &id, 1, &cnt) == SWIFTRNN_OK) all[k++] = one;
    }
    size_t ascii = k;
    if (swiftrnn_encode(lm, "\xc3\xa9", 2, &id, 1, &cnt) == SWIFTRNN_OK) {   /* the fixture's e-acute */
      all[k++] = '\xc3';
      all[k++] = '\xa9';
      ascii++;
    }
    swiftrnn_model_info info;
    info.struct_size = sizeof info;
    swiftrnn_model_get_info(lm, &info);
    CHECK((int)ascii == info.vocab_size);
    bad = sp;
    bad.banned = all;
    bad.banned_len = k;
    CHECK(swiftrnn_sample_text(lm, "The", 3, 10, &bad, a, sizeof a, &la) == SWIFTRNN_ERR_INVALID_ARGUMENT);
    CHECK(strstr(swiftrnn_last_error(), "every character") != NULL);
    char *t = memchr(all, 'e', k);
    if (t) {
      memmove(t, t + 1, k - (size_t)(t - all) - 1);
      bad.banned_len = k - 1;
      CHECK(swiftrnn_sample_text(lm, "The", 3, 10, &bad, a, sizeof a, &la) == SWIFTRNN_OK);
      CHECK(strcmp(a, "Theeeeeeeeeee") == 0);
    }
    /* An older struct (56 bytes: no controls) ignores what lies beyond it. */
    bad = sp;
    bad.min_p = 5.0f;            /* would be refused if read */
    bad.struct_size = 56;
    size_t l56 = 0, lnew = 0;
    CHECK(swiftrnn_sample_text(lm, "The", 3, 50, &bad, a, sizeof a, &l56) == SWIFTRNN_OK);
    CHECK(swiftrnn_sample_text(lm, "The", 3, 50, &sp, b, sizeof b, &lnew) == SWIFTRNN_OK);
    CHECK(l56 == lnew && memcmp(a, b, l56) == 0);
    /* init_sized with the old size writes only those bytes. */
    unsigned char raw[sizeof(swiftrnn_sample_params)];
    memset(raw, 0x5A, sizeof raw);
    swiftrnn_sample_params_init_sized((swiftrnn_sample_params *)(void *)raw, 56);
    CHECK(raw[56] == 0x5A && raw[sizeof raw - 1] == 0x5A);
  }

  (void)read_file;
  swiftrnn_model_free(lm);
  swiftrnn_model_free(other);
  swiftrnn_model_free(sent);
  printf("state_test: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
