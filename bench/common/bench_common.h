/* bench_common.h - what both bench programs share (build/mcfast-bench from
 * the sources in bench/, build/mcfast-bench-tls from those in bench/tls/): the keys, the
 * statistics of timed rounds, and the "target:" lines. */
#ifndef MCF_BENCH_COMMON_H
#define MCF_BENCH_COMMON_H

#include <stddef.h>

/* Every bench key: a 3-byte prefix and 8 decimal digits ("bk:00000042"),
 * so every reply has a known size. */
#define BENCH_KLEN 11

/* n keys prefix + index into text (n * (BENCH_KLEN + 1) bytes), NUL-terminated,
 * out[i] pointing at each. */
void bench_make_keys(const char **out, char *text, const char *prefix, size_t n);

/* Monotonic seconds, and this process's user and system CPU seconds. */
double bench_now_s(void);
void bench_cpu_times(double *user, double *sys);

/* Median, least and greatest of n > 0 values (a is not changed). */
double bench_median(const double *a, int n);
double bench_min(const double *a, int n);
double bench_max(const double *a, int n);

/* Targets met and missed so far, for the summary line. */
typedef struct bench_targets {
    int met, missed;
} bench_targets;
/* Prints "target: W WHAT=GOT >= WANT met|MISSED" (<= when ge is 0) and counts it. */
void bench_target(bench_targets *t, const char *wname, const char *what, double got,
                  double want, int ge);

#endif
