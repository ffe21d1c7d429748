/* A tiny test harness: CHECK records a failure and goes on; main returns the failure count. */
#ifndef MEMIFD_TEST_H
#define MEMIFD_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failures, test_checks;

#define CHECK(cond)                                                              \
  do {                                                                           \
    test_checks++;                                                               \
    if (!(cond)) {                                                               \
      test_failures++;                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
    }                                                                            \
  } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                                          \
  do {                                                                                           \
    test_checks++;                                                                               \
    if (!strstr((hay), (needle))) {                                                              \
      test_failures++;                                                                           \
      fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, (hay), (needle)); \
    }                                                                                            \
  } while (0)

#define RUN(fn)                          \
  do {                                   \
    int before_ = test_failures;         \
    fn();                                \
    fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL", #fn); \
  } while (0)

static inline int test_summary(const char *name) {
  fprintf(stderr, "%s: %d checks, %d failed\n", name, test_checks, test_failures);
  return test_failures ? 1 : 0;
}

#endif
