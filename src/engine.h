/* engine.h - the core of a call, driven by a driver (sync.c) that owns
 * the waiting: it starts every server of the call, sends, takes what was
 * read, and ends the call.  Not installed. */
#ifndef MCF_ENGINE_H
#define MCF_ENGINE_H

#include <stddef.h>
#include <sys/types.h>

#include "call.h"
#include "clock.h"

/* Starts a call: drops connections inherited across fork(), clears the
 * client's error, routes and groups the items
 * (route.c), then starts each server that has items (connect, protocol,
 * request built; a server that cannot start fails its items).  MCF_OK and
 * *started servers now active, or an error for the whole call. */
int mcf_engine_begin(mcf_client *c, mcf_call *call, size_t *started);
/* Opens s's connection (the one connect step: blocking, under the connect
 * timeout; a failure is counted against the server unless it was ours:
 * MCF_ERR_RESOURCE, MCF_ERR_NOMEM). */
int mcf_engine_connect(mcf_client *c, mcf_server *s);
/* Sends what the socket takes now of s's request (a noreply request is done
 * once it is all sent); a send error fails the server. */
void mcf_engine_send(mcf_client *c, mcf_call *call, mcf_server *s);
/* Reads and handles every reply s has ready, without blocking. */
void mcf_engine_read(mcf_client *c, mcf_call *call, mcf_server *s);
/* Handles the outcome of a read into s's buffer (mcf_conn_recv): parses
 * every complete reply when got > 0, fails the server on EOF or an error.
 * 1 bytes taken, 0 nothing to read now (-EAGAIN), -1 the server failed. */
int mcf_engine_take(mcf_client *c, mcf_call *call, mcf_server *s, ssize_t got);
/* s missed the call's I/O deadline: fails its unanswered items. */
void mcf_engine_time_out(mcf_client *c, mcf_call *call, mcf_server *s);
/* Ends the call once no server is active: the call's first error.  Inline:
 * it runs once per call, single gets included, and is a few stores. */
static inline int mcf_engine_end(mcf_client *c, mcf_call *call)
{
    int64_t end = mcf_now_us();
    for (size_t k = 0; k < c->nservers; k++)
        if (c->servers[k].count)
            c->servers[k].last_used_us = end;
    if (call->held_server) {
        /* The single get's value, kept by offset while rbuf could move. */
        mcf_server *s = call->held_server;
        if (s->held_off != SIZE_MAX)
            call->held->data = s->rbuf + s->held_off;
        s->held_off = SIZE_MAX;
    }
    return call->first_error;
}

#endif
