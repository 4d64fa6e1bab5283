/* bench_hist.c - owns the bench latency histogram (see bench_hist.h).
 *
 * The layout is HdrHistogram's idea (Gil Tene) in its simplest form: the
 * top bit of a value picks a power of two, the next BENCH_HIST_SUB_BITS
 * bits a linear bucket inside it. */
#include "bench_hist.h"

#include <math.h>

unsigned bench_hist_index(uint64_t ns)
{
    if (ns < BENCH_HIST_SUB)
        return (unsigned)ns;
    unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
    unsigned shift = msb - BENCH_HIST_SUB_BITS;
    /* Group g >= 1 holds [SUB << (g-1), SUB << g); the bits below the top
     * one pick the bucket in it. */
    return ((shift + 1u) << BENCH_HIST_SUB_BITS) +
           (unsigned)((ns >> shift) & (BENCH_HIST_SUB - 1u));
}

void bench_hist_range(unsigned index, uint64_t *lo, uint64_t *hi)
{
    if (index < BENCH_HIST_SUB) {
        *lo = index;
        *hi = (uint64_t)index + 1;
        return;
    }
    unsigned group = index >> BENCH_HIST_SUB_BITS;
    uint64_t sub = index & (BENCH_HIST_SUB - 1u);
    *lo = (BENCH_HIST_SUB + sub) << (group - 1u);
    /* The very last bucket's end does not fit in 64 bits. */
    uint64_t width = (uint64_t)1 << (group - 1u);
    *hi = *lo > UINT64_MAX - width ? UINT64_MAX : *lo + width;
}

void bench_hist_add(bench_hist *out, const bench_hist *a, const bench_hist *b)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        out->count[i] = a->count[i] + b->count[i];
    out->total = a->total + b->total;
    out->sum_ns = a->sum_ns + b->sum_ns;
    out->max_ns = a->max_ns > b->max_ns ? a->max_ns : b->max_ns;
}

void bench_hist_sub(bench_hist *out, const bench_hist *a, const bench_hist *b)
{
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
        out->count[i] = a->count[i] - b->count[i];
    out->total = a->total - b->total;
    out->sum_ns = a->sum_ns - b->sum_ns;
    out->max_ns = a->max_ns;
}

uint64_t bench_hist_quantile(const bench_hist *h, double q)
{
    if (h->total == 0)
        return 0;
    /* The rank of the value at q: at least the first, at most the last. */
    uint64_t rank = (uint64_t)ceil(q * (double)h->total);
    if (rank < 1)
        rank = 1;
    if (rank > h->total)
        rank = h->total;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            uint64_t lo, hi;
            bench_hist_range(i, &lo, &hi);
            return hi - 1 < h->max_ns ? hi - 1 : h->max_ns;
        }
    }
    return h->max_ns;
}
