/* The first model load in a process that already runs other threads must not touch the
 * environment (issue 12; docs/segfault-hunt.md): setenv may free the table another thread's
 * getenv is reading. Run with OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS unset:
 *   env_test MODEL   -> "environ kept, OpenBLAS threads 1" and exit 0 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <swiftrnn.h>

extern char **environ;
static volatile int stop;

static void *reader(void *arg) {   /* another thread of the host, reading the environment */
  (void)arg;
  while (!stop) (void)getenv("HOME");
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: env_test MODEL\n"); return 2; }
  if (getenv("OPENBLAS_CORETYPE") || getenv("OPENBLAS_NUM_THREADS")) {
    fprintf(stderr, "run with OPENBLAS_CORETYPE and OPENBLAS_NUM_THREADS unset\n");
    return 2;
  }
  pthread_t t;
  pthread_create(&t, NULL, reader, NULL);
  char **before = environ;
  swiftrnn_model *m = NULL;
  int st = swiftrnn_model_load(argv[1], &m);
  char **after = environ;
  stop = 1;
  pthread_join(t, NULL);
  if (st != SWIFTRNN_OK) { fprintf(stderr, "%s\n", swiftrnn_last_error()); return 1; }
  int threads = -1;
  void *blas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD);
  if (blas) {
    int (*get)(void) = NULL;
    *(void **)&get = dlsym(blas, "openblas_get_num_threads");
    if (get) threads = get();
  }
  swiftrnn_model_free(m);
  printf("environ %s, OpenBLAS threads %d\n", before == after ? "kept" : "CHANGED", threads);
  return before == after && threads == 1 ? 0 : 1;
}
