/* bench_common.c - clocks, keys, round statistics and target lines for the
 * bench programs (bench_common.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_common.h"

#define KEY_PREFIX_LEN 3
#define KEY_INDEX_MOD 100000000u /* 8 digits */

double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_cpu_times(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

void bench_make_keys(const char **out, char *text, const char *prefix, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *k = text + i * (BENCH_KLEN + 1);
        unsigned v = (unsigned)(i % KEY_INDEX_MOD);
        memcpy(k, prefix, KEY_PREFIX_LEN);
        for (int d = BENCH_KLEN - 1; d >= KEY_PREFIX_LEN; d--, v /= 10)
            k[d] = (char)('0' + v % 10);
        k[BENCH_KLEN] = 0;
        out[i] = k;
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(const double *in, int n)
{
    double *a = malloc((size_t)n * sizeof *a);
    if (!a)
        return in[0];
    memcpy(a, in, (size_t)n * sizeof *a);
    qsort(a, (size_t)n, sizeof *a, cmp_d);
    double m = n % 2 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
    free(a);
    return m;
}

double bench_min(const double *a, int n)
{
    double m = a[0];
    for (int i = 1; i < n; i++)
        m = a[i] < m ? a[i] : m;
    return m;
}

double bench_max(const double *a, int n)
{
    double m = a[0];
    for (int i = 1; i < n; i++)
        m = a[i] > m ? a[i] : m;
    return m;
}

void bench_target(bench_targets *t, const char *wname, const char *what, double got,
                  double want, int ge)
{
    int met = ge ? got >= want : got <= want;
    printf("target: %s %s=%.3f %s %.2f %s\n", wname, what, got, ge ? ">=" : "<=", want,
           met ? "met" : "MISSED");
    if (met)
        t->met++;
    else
        t->missed++;
}
