/* What the C test programs share: CHECK (counts, and on failure prints the condition with the
 * library's last error), fixture paths, and reading a whole file. Header-only: each test is one
 * .c file built against include/swiftrnn.h. */
#ifndef SWIFTRNN_TEST_CHECK_H
#define SWIFTRNN_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include <swiftrnn.h>

static int passed, failed;
#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (cond) passed++;                                                             \
    else { failed++; fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n",  \
                             __FILE__, __LINE__, #cond, swiftrnn_last_error()); }  \
  } while (0)

/* dir/name in a static buffer (valid until the next call). */
static char path_buf[4096];
static const char *fixture(const char *dir, const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s", dir, name);
  return path_buf;
}

/* The whole file, malloc'd (the caller frees it); NULL when it cannot be read. */
static unsigned char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
  *size = buf ? fread(buf, 1, (size_t)n, f) : 0;
  fclose(f);
  return buf;
}

#endif
