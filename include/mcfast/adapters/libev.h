/*
 * mcfast/adapters/libev.h - drives an mcfast client's async requests from
 * a libev loop.  Header only: include it, link -lev.
 *
 *   #include <mcfast_async.h>
 *   #include <mcfast/adapters/libev.h>
 *
 *   struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);   (or EV_DEFAULT)
 *   mcf_client *c = mcf_new();
 *   mcf_set_servers(c, "127.0.0.1:11211");
 *   if (mcf_libev_attach(c, loop) != MCF_OK) ... mcf_last_error(c) ...
 *   mcf_async_get(c, MCF_GET, 0, "k", 1, on_done, NULL);
 *   ev_run(loop, 0);
 *   ...
 *   mcf_free(c);                 (stops every watcher, frees the adapter)
 *   ev_loop_destroy(loop);
 *
 * One ev_io per socket the library asks for (re-armed when the interest
 * changes, stopped and freed when the library stops watching the socket,
 * which it always does before closing it) and one ev_timer per client.
 * Attaching again, another loop or NULL (mcf_async_set_loop(c, NULL)),
 * detaches this one and frees its state.  While idle connections stay open
 * the library may keep watching them, so ev_run returns only once the
 * client is freed or detached; a program that wants to stop earlier calls
 * ev_break.  Needs libev built with EV_MULTIPLICITY (the default).
 *
 * libev times timers from the loop's cached time (ev_now), so the timer
 * may fire a little early after a long callback; the library then asks for
 * the time that is left.
 *
 * libev and libevent both name EV_READ and EV_WRITE (libevent with macros, of
 * other values): a file that includes both adapters includes this one
 * first, and uses neither library's EV_* names itself.
 *
 * Threads: everything (submits, ev_run, mcf_free) on the loop's thread.
 *
 * Out of memory in the adapter leaves that socket unwatched: its requests
 * then end at their deadline (the library's timer still runs).
 */
#ifndef MCFAST_ADAPTERS_LIBEV_H
#define MCFAST_ADAPTERS_LIBEV_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h> /* ev_set_cb uses memmove */

#include <ev.h>

#include "../../mcfast_async.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCF_LIBEV_MS_PER_S 1000.0

typedef struct mcf_libev_state {
    mcf_client *client;
    struct ev_loop *loop;
    ev_timer timer;
} mcf_libev_state;

static inline void mcf_libev_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    mcf_libev_state *st = (mcf_libev_state *)w->data;
    int events = 0;
    if (revents & EV_ERROR) {
        /* libev stopped the watcher (a bad descriptor): report both so the
         * library finds the error; a later watch() starts it again. */
        events = MCF_EV_READ | MCF_EV_WRITE;
    } else {
        /* libev reports a socket error or hang-up as readiness for what
         * was asked. */
        if (revents & EV_READ)
            events |= MCF_EV_READ;
        if (revents & EV_WRITE)
            events |= MCF_EV_WRITE;
    }
    /* The watcher may be freed from inside this call: not touched after. */
    mcf_async_on_fd(st->client, w->fd, events);
}

static inline void mcf_libev_watch(void *data, int fd, int events, void **fd_data)
{
    mcf_libev_state *st = (mcf_libev_state *)data;
    ev_io *w = (ev_io *)*fd_data;
    if (events == 0) {
        if (w) {
            ev_io_stop(st->loop, w);
            free(w);
        }
        *fd_data = NULL;
        return;
    }
    int want = 0;
    if (events & MCF_EV_READ)
        want |= EV_READ;
    if (events & MCF_EV_WRITE)
        want |= EV_WRITE;
    if (!w) {
        w = (ev_io *)malloc(sizeof *w);
        if (!w)
            return;
        ev_io_init(w, mcf_libev_on_io, fd, want);
        w->data = st;
        *fd_data = w;
    } else {
        if ((w->events & (EV_READ | EV_WRITE)) == want && ev_is_active(w))
            return;
        /* An active watcher's events may not be changed in place. */
        ev_io_stop(st->loop, w);
        ev_io_set(w, fd, want);
    }
    ev_io_start(st->loop, w);
}

static inline void mcf_libev_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    mcf_async_on_timer(((mcf_libev_state *)w->data)->client);
}

static inline void mcf_libev_timer(void *data, int64_t ms)
{
    mcf_libev_state *st = (mcf_libev_state *)data;
    ev_timer_stop(st->loop, &st->timer);
    if (ms < 0)
        return;
    ev_timer_set(&st->timer, (ev_tstamp)ms / MCF_LIBEV_MS_PER_S, 0.0); /* one-shot */
    ev_timer_start(st->loop, &st->timer);
}

static inline void mcf_libev_detach(void *data)
{
    mcf_libev_state *st = (mcf_libev_state *)data;
    ev_timer_stop(st->loop, &st->timer);
    free(st);
}

/* Attaches c to loop: MCF_OK, MCF_ERR_ARG (NULL argument), MCF_ERR_NOMEM,
 * or mcf_async_set_loop's error (then nothing stays attached or allocated). */
static inline int mcf_libev_attach(mcf_client *c, struct ev_loop *loop)
{
    if (!c || !loop)
        return MCF_ERR_ARG;
    mcf_libev_state *st = (mcf_libev_state *)calloc(1, sizeof *st);
    if (!st)
        return MCF_ERR_NOMEM;
    st->client = c;
    st->loop = loop;
    ev_timer_init(&st->timer, mcf_libev_on_timer, 0.0, 0.0);
    st->timer.data = st;
    mcf_loop ml = {st, mcf_libev_watch, mcf_libev_timer, mcf_libev_detach};
    int rc = mcf_async_set_loop(c, &ml);
    if (rc != MCF_OK)
        mcf_libev_detach(st);
    return rc;
}

#ifdef __cplusplus
}
#endif

#endif
