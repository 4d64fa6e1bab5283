/* harness.h - the tiny test protocol every test program speaks.
 *
 * A test program prints one line per case:
 *   PASS: name           FAIL: name: why           SKIP: name: why
 * tests/run.sh counts them; a program that crashes or exits non-zero
 * without printing FAIL is counted as one failure.  CHECK() records a
 * failure for the current case and carries on, so one run shows every
 * broken assertion.
 *
 * Writing a test program:
 *   TEST(name) { CHECK(...); }      registers the case (once; no list in main)
 *   int main(int argc, char **argv)
 *   {
 *       ... fixtures every case needs (or start them on first use) ...
 *       int rc = t_main(argc, argv);  // runs the cases in file order
 *       ... teardown ...
 *       return rc;
 *   }
 * A case must not depend on another case having run: each one works alone.
 * SKIP_UNLESS(cond, why) as a case's first line skips it when a
 * prerequisite is missing; t_skip_all(why) before t_main skips every case.
 *
 * Running one case (or a few), by name:
 *   build/tests/test_client_single single_set_get single_add
 *   build/tests/test_client_single --list       the case names, in order
 *   TESTS=test_client_single:single_set_get,single_add tests/run.sh
 * An unknown name prints a FAIL line naming it.
 *
 * Converting a file written for the old harness (TEST + RUN in main):
 * delete the RUN() lines; `int main(void)` becomes
 * `int main(int argc, char **argv)` and its `return t_exit_code();` becomes
 * `return t_main(argc, argv);` (setup before it, teardown after it); a
 * condition around a RUN() becomes SKIP_UNLESS() in that case, and a local
 * case_skip() helper becomes t_skip_case().
 *
 * The state lives in tests/harness.c (linked into every test program),
 * so shared helpers (tests/fixtures.c) report into the same case. */
#ifndef MCF_TEST_HARNESS_H
#define MCF_TEST_HARNESS_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The case running now ("setup" before the first, "teardown" after each)
 * and whether it has failed (no PASS line then). */
extern const char *t_case_name;
extern int t_case_failed;

/* Called by TEST()'s constructor: adds a case; line orders the cases. */
void t_register(const char *name, void (*fn)(void), int line);

/* Runs the cases named in argv[1..] (every case when there are none) in
 * order; "--list" prints the names instead.  Returns the exit status:
 * 1 if any case failed or a name is unknown, else 0. */
int t_main(int argc, char **argv);

void t_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prints a SKIP line for name (which need not be a registered case). */
void t_skip(const char *name, const char *why);
/* The current case is skipped: a SKIP line, no PASS line.  Return after it. */
void t_skip_case(const char *why);
/* Every case t_main runs is reported SKIP with why (a missing program). */
void t_skip_all(const char *why);
int t_exit_code(void);

/* TEST(name) { ... }: the body is test_<name>(); a constructor registers it
 * before main runs (GCC/Clang constructor attribute), with __LINE__ so that
 * cases run in file order whatever order the constructors run in. */
#define TEST(name)                                                                  \
    static void test_##name(void);                                                  \
    __attribute__((constructor)) static void t_register_##name(void)                \
    {                                                                               \
        t_register(#name, test_##name, __LINE__);                                   \
    }                                                                               \
    static void test_##name(void)

/* RUN() is gone: TEST() registers the case.  A file still written the old
 * way stops here; convert it as described at the top of this file. */
#define RUN(name)                                                                   \
    _Static_assert(0, "RUN(" #name "): delete RUN lines; main returns t_main(argc, argv)")

#define SKIP_UNLESS(cond, why)                                                      \
    do {                                                                            \
        if (!(cond)) {                                                              \
            t_skip_case(why);                                                       \
            return;                                                                 \
        }                                                                           \
    } while (0)

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

#endif
