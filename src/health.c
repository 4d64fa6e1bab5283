/* health.c - the server health state machine of health.h.  The shape is
 * memcached's built-in proxy's (a failure limit, a retry wait, a longer
 * hold-down for a backend that flaps: docs.memcached.org, "proxy
 * configuration"); the wait doubles with jitter so that many clients that
 * saw one server fail do not all probe it at the same moment. */
#include "health.h"

/* Jitter: the wait is scaled by a factor in [1 - JITTER, 1 + JITTER). */
#define JITTER_NUM 1
#define JITTER_DEN 4

void mcf_health_init(mcf_health *h, uint64_t seed)
{
    *h = (mcf_health){.state = MCF_HEALTH_UP};
    /* splitmix64 of the seed: a well-mixed, never-zero xorshift state. */
    uint64_t z = seed + 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    h->rng = z ? z : 1;
}

/* xorshift64* (Vigna, "An experimental exploration of Marsaglia's
 * xorshift generators"): the top 32 bits. */
static uint32_t next_random(mcf_health *h)
{
    uint64_t x = h->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    h->rng = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dULL) >> 32);
}

int64_t mcf_health_base_wait(const mcf_health_policy *p, unsigned level)
{
    int64_t w = p->retry_us;
    for (unsigned i = 0; i < level && w < p->retry_max_us; i++)
        w *= 2;
    return w < p->retry_max_us ? w : p->retry_max_us;
}

/* Down from now, for the wait of the current level with jitter. */
static void go_down(mcf_health *h, const mcf_health_policy *p, int64_t now)
{
    int64_t base = mcf_health_base_wait(p, h->level);
    /* base * (1 - J + 2J * r / 2^32), J = JITTER_NUM / JITTER_DEN */
    int64_t span = base / JITTER_DEN * JITTER_NUM * 2;
    int64_t w = base - span / 2 + (int64_t)(((uint64_t)span * next_random(h)) >> 32);
    if (w > p->retry_max_us)
        w = p->retry_max_us;
    h->state = MCF_HEALTH_DOWN;
    h->failures = 0;
    h->wait_us = w;
    h->retry_at_us = now + w;
}

/* The next doubling, unless the wait is at its maximum already. */
static void grow(mcf_health *h, const mcf_health_policy *p)
{
    if (mcf_health_base_wait(p, h->level) < p->retry_max_us)
        h->level++;
}

static mcf_health_event cmf_failed(mcf_health *h, const mcf_health_policy *p, int64_t now)
{
    if (h->state != MCF_HEALTH_UP)
        return MCF_HEALTH_NONE;
    if (h->failures == 0 || now - h->window_us > p->cmf_window_us) {
        h->window_us = now;
        h->failures = 0;
    }
    if (++h->failures < p->failure_limit)
        return MCF_HEALTH_NONE;
    h->state = MCF_HEALTH_DOWN;
    h->failures = 0;
    h->downs++;
    h->wait_us = p->cmf_window_us;
    h->retry_at_us = now + p->cmf_window_us;
    return MCF_HEALTH_WENT_DOWN;
}

mcf_health_event mcf_health_failed(mcf_health *h, const mcf_health_policy *p, int64_t now)
{
    if (p->failure_limit == 0)
        return MCF_HEALTH_NONE;
    if (p->cmf_window_us > 0)
        return cmf_failed(h, p, now);
    switch (h->state) {
    case MCF_HEALTH_UP:
        if (++h->failures < p->failure_limit)
            return MCF_HEALTH_NONE;
        /* Back less than flap_us ago: it flaps, and waits longer than last
         * time; up longer than that: a new failure, from the first wait. */
        if (h->up_at_us && now - h->up_at_us < p->flap_us)
            grow(h, p);
        else
            h->level = 0;
        h->downs++;
        go_down(h, p, now);
        return MCF_HEALTH_WENT_DOWN;
    case MCF_HEALTH_PROBING:
        grow(h, p);
        go_down(h, p, now);
        return MCF_HEALTH_NONE; /* down already */
    default:
        return MCF_HEALTH_NONE; /* a request that was in flight when it went down */
    }
}

mcf_health_use mcf_health_check(mcf_health *h, const mcf_health_policy *p, int64_t now)
{
    if (h->state == MCF_HEALTH_UP)
        return MCF_HEALTH_USE;
    if (h->state == MCF_HEALTH_PROBING || now < h->retry_at_us)
        return MCF_HEALTH_SKIP;
    if (p->cmf_window_us > 0) {
        /* Cache::Memcached::Fast: the next call simply tries it again. */
        h->state = MCF_HEALTH_UP;
        h->failures = 0;
        return MCF_HEALTH_USE;
    }
    return MCF_HEALTH_PROBE;
}
