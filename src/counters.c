/* counters.c - the per-server counters as the public API gives them
 * (mcf_server_stats): totals from the per-code counts, the histogram's
 * bucket bounds and quantiles, and resetting.  The counting itself is
 * counters.h's, inline where it happens. */
#include <string.h>

#include "counters.h"
#include "internal.h"

int mcf_server_stats_get(const mcf_client *c, size_t server, mcf_server_stats *out, size_t size)
{
    if (!c || !out || server >= c->nservers)
        return MCF_ERR_ARG;
    const mcf_counters *k = &c->servers[server].ctr;
    mcf_server_stats st;
    memset(&st, 0, sizeof st);
    for (int rc = 0; rc < MCF_STATS_CODES; rc++) {
        st.by_code[rc] = k->rc[0][rc] + k->rc[1][rc];
        st.requests += st.by_code[rc];
        if (mcf_is_error(rc))
            st.errors += st.by_code[rc];
    }
    st.hits = k->rc[1][MCF_OK];
    st.misses = k->rc[1][MCF_MISS];
    st.timeouts = k->timeouts;
    st.connects = k->connects;
    st.reconnects = k->connects ? k->connects - 1 : 0;
    for (size_t b = 0; b < MCF_LATENCY_BUCKETS; b++)
        st.latency_count += k->lat[b];
    st.latency_sum_us = k->lat_sum_us;
    st.latency_max_us = k->lat_max_us;
    memcpy(st.latency, k->lat, sizeof st.latency);
    memcpy(out, &st, size < sizeof st ? size : sizeof st);
    return MCF_OK;
}

void mcf_stats_reset(mcf_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nservers; i++)
        memset(&c->servers[i].ctr, 0, sizeof c->servers[i].ctr);
}

void mcf_latency_bucket_us(size_t b, uint64_t *lo, uint64_t *hi)
{
    uint64_t l, h;
    if (b >= MCF_LATENCY_BUCKETS) {
        l = h = UINT64_MAX;
    } else if (b < MCF_LAT_SUB) {
        l = b;
        h = b + 1;
    } else {
        /* The inverse of mcf_lat_bucket: b = (shift + 1) * SUB + sub. */
        unsigned shift = (unsigned)(b / MCF_LAT_SUB) - 1, sub = (unsigned)(b % MCF_LAT_SUB);
        l = (uint64_t)(MCF_LAT_SUB + sub) << shift;
        h = b == MCF_LATENCY_BUCKETS - 1 ? UINT64_MAX : l + ((uint64_t)1 << shift);
    }
    if (lo)
        *lo = l;
    if (hi)
        *hi = h;
}

uint64_t mcf_latency_quantile_us(const mcf_server_stats *st, double q)
{
    if (!st || st->latency_count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    /* The rank of the q-th latency, counting from 1. */
    uint64_t rank = (uint64_t)(q * (double)st->latency_count + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (size_t b = 0; b < MCF_LATENCY_BUCKETS; b++) {
        seen += st->latency[b];
        if (seen >= rank) {
            uint64_t hi;
            mcf_latency_bucket_us(b, NULL, &hi);
            /* hi is exclusive: the largest value the bucket holds. */
            return hi - 1 < st->latency_max_us ? hi - 1 : st->latency_max_us;
        }
    }
    return st->latency_max_us;
}
