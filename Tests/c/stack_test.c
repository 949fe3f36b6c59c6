/* The header promises that 64 KiB of thread stack is enough for every call: load, score,
 * batch, sample (two threads) and log-likelihood on a thread with that stack. Issue 12.
 *   stack_test SENTIMENT_MODEL CHAR_MODEL STACK_KIB */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <swiftrnn.h>
static const char *S, *L;
static void *work(void *arg) {  /* NULL when every call succeeded */
  (void)arg;
  swiftrnn_model *m = NULL, *lm = NULL;
  if (swiftrnn_model_load(S, &m) || swiftrnn_model_load(L, &lm)) { puts(swiftrnn_last_error()); return (void*)1; }
  float p; const char *t = "A wonderful, moving film. I loved it :) <br/> really";
  int bad = swiftrnn_score_sentiment(m, t, strlen(t), &p) != SWIFTRNN_OK;
  const char *ts[3] = {t, t, "bad"}; size_t ls[3] = {strlen(t), 5, 3}; float o[3];
  bad |= swiftrnn_score_sentiment_batch(m, ts, ls, 3, 2, o) != SWIFTRNN_OK;
  char buf[4096]; size_t n;
  swiftrnn_sample_params sp; swiftrnn_sample_params_init(&sp); sp.n_threads = 2;
  bad |= swiftrnn_sample_text(lm, "The island", 10, 300, &sp, buf, sizeof buf, &n) != SWIFTRNN_OK;
  double nats; size_t pr;
  bad |= swiftrnn_log_likelihood(lm, "The island is big", 17, &nats, &pr) != SWIFTRNN_OK;
  swiftrnn_model_free(m); swiftrnn_model_free(lm);
  return bad ? (void *)1 : NULL;
}
int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: stack_test SENTIMENT CHARLM STACK_KIB\n"); return 2; }
  S = argv[1]; L = argv[2];
  pthread_attr_t a; pthread_attr_init(&a);
  pthread_attr_setstacksize(&a, (size_t)atol(argv[3]) * 1024);
  pthread_t th; void *r;
  if (pthread_create(&th, &a, work, NULL)) { puts("create failed"); return 2; }
  pthread_join(th, &r);
  printf("ok stack %s KiB\n", argv[3]);
  return r != NULL;
}
