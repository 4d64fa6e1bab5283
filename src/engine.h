/* engine.h - the core of a call, driven by a driver (sync.c) that owns
 * the waiting: it starts every server of the call, sends, takes what was
 * read, and ends the call.  Not installed. */
#ifndef MCF_ENGINE_H
#define MCF_ENGINE_H

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#include "call.h"
#include "clock.h"

/* Begins a blocking call: drops connections inherited across fork(),
 * clears the client's error, routes and groups the items (route.c),
 * queues each slice on its server and makes the server ready
 * (mcf_engine_ready; a connect that fails at once fails that server's
 * items).  MCF_OK and *connecting servers still connecting, or an error for
 * the whole call; *now_us is when it began.  The driver then steps each connecting server
 * (mcf_engine_connect_step) until none is, then mcf_engine_start. */
int mcf_engine_begin(mcf_client *c, mcf_call *call, size_t *connecting, size_t *started,
                     int64_t *now_us);
/* Makes s ready for the requests queued on it: a connection in step (an
 * idle one out of step is closed and reopened), connected, and probed
 * (MCF_PROTO_AUTO).  MCF_OK, MCF_IN_PROGRESS while it connects (step it),
 * or the error every queued request was failed with. */
int mcf_engine_ready(mcf_client *c, mcf_server *s, int64_t now);
/* Advances the connect of s, and then MCF_PROTO_AUTO's probe (when a socket
 * of mcf_engine_connect_pollset is ready or its wake time came): 1 still
 * connecting, 0 done (ready, or failed with every queued request). */
int mcf_engine_connect_step(mcf_client *c, mcf_server *s, int64_t now);
/* The sockets s's connect or probe waits on, and when to step it anyway. */
size_t mcf_engine_connect_pollset(const mcf_client *c, const mcf_server *s,
                                  struct pollfd *out, size_t cap, int64_t *wake_us);
/* s is connecting or being probed. */
static inline int mcf_engine_connecting(const mcf_server *s)
{
    return s->connecting || s->probing;
}
/* Starts every slice of a blocking call not started yet whose server is
 * ready: protocol known, meta checks passed, request built (one that
 * cannot start fails its items).  mcf_engine_begin already started
 * (*started) the servers whose connection was ready.  Returns the number
 * it started. */
size_t mcf_engine_start(mcf_client *c, mcf_call *call);
/* Builds every request queued on a ready s, in order, into its write
 * buffer (requests queued together go out in one write).  A meta request
 * that needs the server's version first begins the version probe when
 * nothing is in flight, else waits (s->build_blocked): never blocks. */
void mcf_engine_build(mcf_client *c, mcf_server *s, int64_t now);
/* Opens s's connection, blocking under the connect timeout (a failure is
 * counted against the server unless it was ours: MCF_ERR_RESOURCE,
 * MCF_ERR_NOMEM): mcf_connect_server. */
int mcf_engine_connect(mcf_client *c, mcf_server *s);
/* Sends what the socket takes now of s's requests (a noreply request is
 * done once it is all sent); a send error fails the server. */
void mcf_engine_send(mcf_client *c, mcf_server *s);
/* Reads and handles every reply s has ready, without blocking. */
void mcf_engine_read(mcf_client *c, mcf_server *s);
/* Handles the outcome of a read into s's buffer (mcf_conn_recv): parses
 * every complete reply when got > 0, fails the server on EOF or an error.
 * 1 bytes taken, 0 nothing to read now (-EAGAIN), -1 the server failed. */
int mcf_engine_take(mcf_client *c, mcf_server *s, ssize_t got);
/* s missed a deadline of timeout_ms: fails every request on it and resets
 * the connection. */
void mcf_engine_time_out(mcf_client *c, mcf_server *s, int timeout_ms);
/* Ends a blocking call once no server has its requests (end: about now):
 * the call's first error.  Inline: it runs once per call, single gets included, and is a
 * few stores. */
static inline int mcf_engine_end(mcf_call *call, int64_t end)
{
    for (size_t k = 0; k < call->nslices; k++)
        if (call->slices[k].count)
            call->slices[k].server->last_used_us = end;
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
