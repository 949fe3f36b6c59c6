/* Prints the OpenBLAS core libswiftrnn ended up with, and checks that loading a model left the
 * environment as it was. Used by Tests/c/run.sh:  blas_core MODEL  ->  "core=SkylakeX env=unset" */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <swiftrnn.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *before = getenv("OPENBLAS_CORETYPE");
  swiftrnn_model *m = NULL;
  if (swiftrnn_model_load(argv[1], &m) != SWIFTRNN_OK) { fprintf(stderr, "%s\n", swiftrnn_last_error()); return 1; }
  void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_NOLOAD);
  char *(*corename)(void) = NULL;
  if (h) *(void **)(&corename) = dlsym(h, "openblas_get_corename"); /* POSIX's idiom for dlsym */
  const char *after = getenv("OPENBLAS_CORETYPE");
  printf("core=%s env=%s\n", corename ? corename() : "not-loaded", after ? after : "unset");
  swiftrnn_model_free(m);
  return (before == NULL) == (after == NULL) ? 0 : 1;
}
