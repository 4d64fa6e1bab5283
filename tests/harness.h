/* harness.h - the tiny test protocol every test program speaks.
 *
 * A test program prints one line per case:
 *   PASS: name           FAIL: name: why           SKIP: name: why
 * tests/run.sh counts them; a program that crashes or exits non-zero
 * without printing FAIL is counted as one failure.  CHECK() records a
 * failure for the current case and carries on, so one run shows every
 * broken assertion. */
#ifndef MCF_TEST_HARNESS_H
#define MCF_TEST_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed_total;
static int t_case_failed;
static const char *t_case_name;

static inline void t_begin(const char *name)
{
    t_case_name = name;
    t_case_failed = 0;
}

static inline void t_end(void)
{
    if (!t_case_failed)
        printf("PASS: %s\n", t_case_name);
    fflush(stdout);
}

static inline void t_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    if (!t_case_failed)
        t_failed_total++;
    t_case_failed = 1;
    printf("FAIL: %s: %s:%d: ", t_case_name, file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static inline void t_skip(const char *name, const char *why)
{
    printf("SKIP: %s: %s\n", name, why);
    fflush(stdout);
}

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond))                                                                \
            t_fail(__FILE__, __LINE__, "%s", #cond);                                \
    } while (0)
#define CHECKF(cond, ...)                                                           \
    do {                                                                            \
        if (!(cond))                                                                \
            t_fail(__FILE__, __LINE__, __VA_ARGS__);                                \
    } while (0)
#define CHECK_RC(expr, want)                                                        \
    do {                                                                            \
        int rc_ = (expr);                                                           \
        if (rc_ != (want))                                                          \
            t_fail(__FILE__, __LINE__, "%s = %d (%s), want %d", #expr, rc_,         \
                   mcf_strerror(rc_), (int)(want));                                 \
    } while (0)

/* Run a case: TEST(name) { ... } is a static function called by RUN(name). */
#define TEST(name) static void test_##name(void)
#define RUN(name)                                                                   \
    do {                                                                            \
        t_begin(#name);                                                             \
        test_##name();                                                              \
        t_end();                                                                    \
    } while (0)

static inline int t_exit_code(void) { return t_failed_total ? 1 : 0; }

#endif
