/* health.h - whether a server is used, as a pure state machine: failures
 * mark it down, a wait that grows while it keeps failing says when it is
 * tried again, and a server that fails again soon after coming back (a
 * flap) keeps the longer wait.  No I/O and no clock of its own: the caller
 * passes the time in and carries out what it says (heal.c starts the
 * probe).  docs/failures.md draws it.  Not installed. */
#ifndef MCF_HEALTH_H
#define MCF_HEALTH_H

#include <stdint.h>

typedef enum mcf_health_state {
    MCF_HEALTH_UP = 0, /* used; consecutive failures are counted */
    MCF_HEALTH_DOWN,   /* skipped until retry_at_us */
    MCF_HEALTH_PROBING /* skipped while a probe of it is in flight */
} mcf_health_state;

/* The policy, from the client's options.  Two ways to count:
 *   - healing (cmf_window_us == 0): failure_limit failures in a row mark
 *     the server down; it is probed after retry_us, then after waits that
 *     double (with jitter) up to retry_max_us while probes fail.  Coming
 *     back resets the wait only once it has stayed up flap_us: a server
 *     marked down again sooner goes on from its longer wait.
 *   - Cache::Memcached::Fast's (cmf_window_us > 0): failure_limit failures
 *     within cmf_window_us mark it down for cmf_window_us; then the next
 *     call uses it again, with no probe. */
typedef struct mcf_health_policy {
    unsigned failure_limit; /* 0: never marked down */
    int64_t retry_us, retry_max_us, flap_us;
    int64_t cmf_window_us;
} mcf_health_policy;

typedef struct mcf_health {
    uint8_t state;         /* mcf_health_state */
    unsigned failures;     /* counted towards failure_limit */
    unsigned level;        /* how many times the wait has doubled */
    uint64_t downs;        /* times marked down */
    int64_t window_us;     /* Cache::Memcached::Fast counting: when the window began */
    int64_t retry_at_us;   /* DOWN: when it may be tried again */
    int64_t up_at_us;      /* when a probe last brought it back; 0 never */
    int64_t wait_us;       /* the wait that retry_at_us came from */
    uint64_t rng;          /* the jitter's state (never 0) */
} mcf_health;

/* What a failure or success did. */
typedef enum mcf_health_event {
    MCF_HEALTH_NONE = 0,
    MCF_HEALTH_WENT_DOWN, /* marked down (from up, or a probe failed) */
    MCF_HEALTH_CAME_UP    /* was down or probing, used again */
} mcf_health_event;

/* seed varies the jitter between servers and clients (any value). */
void mcf_health_init(mcf_health *h, uint64_t seed);

/* The server failed (connect, I/O, timeout, a reply out of protocol). */
mcf_health_event mcf_health_failed(mcf_health *h, const mcf_health_policy *p, int64_t now_us);
/* The server answered. */
static inline mcf_health_event mcf_health_answered(mcf_health *h, int64_t now_us)
{
    if (h->state == MCF_HEALTH_UP) {
        h->failures = 0;
        return MCF_HEALTH_NONE;
    }
    h->state = MCF_HEALTH_UP;
    h->failures = 0;
    h->up_at_us = now_us;
    return MCF_HEALTH_CAME_UP;
}

/* What a call does with the server now. */
typedef enum mcf_health_use {
    MCF_HEALTH_USE = 0, /* send to it */
    MCF_HEALTH_SKIP,    /* fail its keys fast (or fail over) */
    MCF_HEALTH_PROBE    /* skip it, and start a probe (then mcf_health_probing) */
} mcf_health_use;
/* Cache::Memcached::Fast's counting comes back up here when its time is
 * over, hence not const. */
mcf_health_use mcf_health_check(mcf_health *h, const mcf_health_policy *p, int64_t now_us);

/* A probe of a DOWN server began. */
static inline void mcf_health_probing(mcf_health *h)
{
    h->state = MCF_HEALTH_PROBING;
}

/* The wait after `level` doublings, before jitter: retry_us * 2^level,
 * at most retry_max_us. */
int64_t mcf_health_base_wait(const mcf_health_policy *p, unsigned level);

#endif
