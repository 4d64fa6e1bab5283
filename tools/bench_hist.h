/* bench_hist.h - the latency histogram of `mcfast bench`: fixed,
 * log-spaced buckets in one flat array, so recording a request is a few
 * instructions and never allocates, and two histograms subtract (the live
 * line's last interval) and add (gets plus sets) bucket by bucket. */
#ifndef MCFAST_BENCH_HIST_H
#define MCFAST_BENCH_HIST_H

#include <stdint.h>

/* 2^3 = 8 linear buckets per power of two: a bucket is at most 12.5% of
 * its lower bound wide, which bounds the error of a reported percentile. */
#define BENCH_HIST_SUB_BITS 3
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
/* Values below BENCH_HIST_SUB get one bucket each; every power of two
 * from there up to 2^63 gets BENCH_HIST_SUB. */
#define BENCH_HIST_BUCKETS ((64u - BENCH_HIST_SUB_BITS + 1u) << BENCH_HIST_SUB_BITS)

typedef struct bench_hist {
    uint64_t count[BENCH_HIST_BUCKETS];
    uint64_t total;
    uint64_t sum_ns;
    uint64_t max_ns;
} bench_hist;

/* Which bucket holds ns, and the range [lo, hi) a bucket covers. */
unsigned bench_hist_index(uint64_t ns);
void bench_hist_range(unsigned index, uint64_t *lo, uint64_t *hi);

static inline void bench_hist_record(bench_hist *h, uint64_t ns)
{
    h->count[bench_hist_index(ns)]++;
    h->total++;
    h->sum_ns += ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

/* out = a + b; out = a - b (b an earlier copy of a: max is a's). */
void bench_hist_add(bench_hist *out, const bench_hist *a, const bench_hist *b);
void bench_hist_sub(bench_hist *out, const bench_hist *a, const bench_hist *b);

/* The q-quantile (0 < q <= 1) in ns: the upper end of the bucket that
 * holds it, never above the largest value recorded; 0 when empty. */
uint64_t bench_hist_quantile(const bench_hist *h, double q);

#endif
