/* route.h - which server each item of a call goes to.  Not installed. */
#ifndef MCF_ROUTE_H
#define MCF_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"

/* The server a key goes to (mcf_server_for_key): MCF_OK, or an error with
 * the client's message set. */
int mcf_route_key(mcf_client *c, const char *key, size_t len, size_t *server);

/* Notes why server s is skipped (MCF_ERR_SERVER_DOWN): down, or being
 * probed, and when it is tried next (health.h). */
void mcf_route_note_down(mcf_client *c, const mcf_server *s, int64_t now_us);

/* How many slices a call has (call.h): one per server, or 1. */
static inline size_t mcf_route_nslices(const mcf_client *c, const mcf_call *call)
{
    return call->kind == CALL_FLUSH || call->n > 1 ? c->nservers : 1;
}
/* Grows the client's reusable per-item arrays to n: 0, or -1 (ENOMEM). */
int mcf_route_grow_scratch(mcf_client *c, size_t n);
/* Points a blocking call's per-item arrays and slices at the client's
 * reusable ones (grown to the call's size): MCF_OK or MCF_ERR_NOMEM.
 * Inline: once per call, single gets included. */
static inline int mcf_route_lend_scratch(mcf_client *c, mcf_call *call)
{
    if (call->n > c->scratch_cap && mcf_route_grow_scratch(c, call->n) < 0)
        return mcf_set_error(c, MCF_ERR_NOMEM, "out of memory");
    call->srv_of = c->srv_of;
    call->order = c->order;
    call->zoff = c->zoff;
    call->zlen = c->zlen;
    call->answered = c->answered;
    call->kptr = c->kptr;
    call->klen = c->klen;
    call->slices = c->sync_slices;
    call->nslices = mcf_route_nslices(c, call);
    return MCF_OK;
}

/* Validates and routes every item of a call, then groups them per server
 * into its slices: a slice's items are call->order[first .. first + count).
 * An item that cannot be sent (bad key, value too large, server down) is
 * finished with its error here.  MCF_OK, or an error for the whole call
 * (message set, every item finished when there are no servers). */
int mcf_route_call(mcf_client *c, mcf_call *call, int64_t now);

#endif
