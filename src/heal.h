/* heal.h - bringing down servers back: when a down server's wait is over
 * (health.h), a probe connects to it and asks its version, beside the
 * caller's traffic and without blocking; the server is used again once it
 * answers.  No request of the caller's waits for a probe: the blocking
 * driver steps probes at the start of each call, the async core from its
 * timer and the probes' sockets.  Not installed. */
#ifndef MCF_HEAL_H
#define MCF_HEAL_H

#include <stdint.h>

#include "internal.h"

/* Starts the probe of every server whose wait is over and steps every
 * probe running, without blocking.  Cheap to call when nothing is down. */
void mcf_heal_tick(mcf_client *c, int64_t now_us);
/* Steps the probe of s (s->healing): its socket is ready or its wake time
 * (mcf_engine_connect_pollset) came.  1 still running, 0 over: s answered
 * and is up (its connection kept for the next call), or it failed and is
 * down with a longer wait (why in s->down_why). */
int mcf_heal_step(mcf_client *c, mcf_server *s, int64_t now_us);
/* When the earliest wait of a down server ends (INT64_MAX: none), for a
 * driver's timer. */
int64_t mcf_heal_next_retry(const mcf_client *c);

#endif
