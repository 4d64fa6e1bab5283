/* counters.h - what a client counts per server (mcf_server_stats in
 * mcfast.h): key results by code, timeouts, connects, and a latency
 * histogram.  The recording steps are inline: they run once per key or
 * per request on the hot path, into fixed arrays (no allocation, no
 * lock: a client belongs to one thread).  Not installed. */
#ifndef MCF_COUNTERS_H
#define MCF_COUNTERS_H

#include <stdint.h>

#include "mcfast.h"

_Static_assert(MCF_ERR_LAST < MCF_STATS_CODES, "MCF_STATS_CODES must hold every result code");

/* The histogram is log-linear, as HdrHistogram's (Gil Tene): each power
 * of two of microseconds is cut into 2^MCF_LAT_SUB_BITS equal buckets, so
 * a bucket's width is at most 1/8 of its value, at any scale.  Values
 * below 2^MCF_LAT_SUB_BITS get a bucket each.  Everything past the last
 * bucket (2^32 us, over an hour) lands in it. */
#define MCF_LAT_SUB_BITS 3
#define MCF_LAT_SUB (1u << MCF_LAT_SUB_BITS)
#define MCF_LAT_TOP_BIT 31 /* the highest power of two with buckets of its own */
_Static_assert(MCF_LATENCY_BUCKETS == MCF_LAT_SUB * (MCF_LAT_TOP_BIT - MCF_LAT_SUB_BITS + 2),
               "MCF_LATENCY_BUCKETS must match the histogram's shape");

typedef struct mcf_counters {
    /* Keys per result code: [1] of retrievals (hit MCF_OK, MCF_MISS), [0]
     * of every other key command. */
    uint64_t rc[2][MCF_STATS_CODES];
    uint64_t timeouts; /* I/O deadlines that passed on it, and connects that timed out */
    uint64_t connects; /* connections opened */
    uint64_t lat_sum_us, lat_max_us;
    uint64_t lat[MCF_LATENCY_BUCKETS]; /* their count is the sum of these */
} mcf_counters;

/* The bucket of a latency of v microseconds. */
static inline unsigned mcf_lat_bucket(uint64_t v)
{
    if (v < MCF_LAT_SUB)
        return (unsigned)v;
    unsigned top = 63u - (unsigned)__builtin_clzll(v);
    if (top > MCF_LAT_TOP_BIT)
        return MCF_LATENCY_BUCKETS - 1;
    unsigned shift = top - MCF_LAT_SUB_BITS;
    return (shift + 1) * MCF_LAT_SUB + (unsigned)((v >> shift) & (MCF_LAT_SUB - 1));
}

/* One request answered after `us` microseconds. */
static inline void mcf_counters_latency(mcf_counters *k, int64_t us)
{
    uint64_t v = us > 0 ? (uint64_t)us : 0;
    k->lat[mcf_lat_bucket(v)]++;
    k->lat_sum_us += v;
    if (v > k->lat_max_us)
        k->lat_max_us = v;
}

#endif
