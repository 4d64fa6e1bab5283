/*
 * mcfast/adapters/libevent.h - drives an mcfast client's async requests
 * from a libevent 2 event_base.  Header only: include it, link -levent.
 *
 *   #include <mcfast_async.h>
 *   #include <mcfast/adapters/libevent.h>
 *
 *   struct event_base *base = event_base_new();
 *   mcf_client *c = mcf_new();
 *   mcf_set_servers(c, "127.0.0.1:11211");
 *   if (mcf_libevent_attach(c, base) != MCF_OK) ... mcf_last_error(c) ...
 *   mcf_async_get(c, MCF_GET, 0, "k", 1, on_done, NULL);
 *   event_base_dispatch(base);   (or your own loop over event_base_loop)
 *   ...
 *   mcf_free(c);                 (stops every event, frees the adapter)
 *   event_base_free(base);       (after every client on it was freed)
 *
 * One event per socket the library asks for (EV_PERSIST, re-armed when the
 * interest changes, freed when the library stops watching the socket) and
 * one timer event per client.  Attaching again, another loop or NULL
 * (mcf_async_set_loop(c, NULL)), detaches this one and frees its state.
 * While idle connections stay open the library may keep watching them, so
 * event_base_dispatch returns only once the client is freed or detached;
 * a program that wants to stop earlier calls event_base_loopbreak.
 *
 * libev and libevent both name EV_READ and EV_WRITE (libevent with macros, of
 * other values): a file that includes both adapters includes
 * <mcfast/adapters/libev.h> first, and uses neither library's EV_* names
 * itself.
 *
 * Threads: everything (submits, the loop, mcf_free) on the thread that runs
 * the event_base; libevent's own locking is not needed for this.
 *
 * Out of memory in the adapter leaves that socket unwatched: its requests
 * then end at their deadline (the library's timer still runs).
 */
#ifndef MCFAST_ADAPTERS_LIBEVENT_H
#define MCFAST_ADAPTERS_LIBEVENT_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>

#include <event2/event.h>

#include "../../mcfast_async.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCF_LIBEVENT_MS_PER_S 1000
#define MCF_LIBEVENT_US_PER_MS 1000

typedef struct mcf_libevent_state {
    mcf_client *client;
    struct event_base *base;
    struct event *timer;
} mcf_libevent_state;

/* Readiness of one socket.  Nothing of the event is touched after
 * mcf_async_on_fd: the library may stop watching (free) it from there. */
static inline void mcf_libevent_on_fd(evutil_socket_t fd, short what, void *arg)
{
    mcf_libevent_state *st = (mcf_libevent_state *)arg;
    int events = 0;
    /* libevent reports an error or hang-up as readiness for what was asked. */
    if (what & EV_READ)
        events |= MCF_EV_READ;
    if (what & EV_WRITE)
        events |= MCF_EV_WRITE;
    mcf_async_on_fd(st->client, (int)fd, events);
}

static inline void mcf_libevent_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mcf_async_on_timer(((mcf_libevent_state *)arg)->client);
}

static inline void mcf_libevent_watch(void *data, int fd, int events, void **fd_data)
{
    mcf_libevent_state *st = (mcf_libevent_state *)data;
    struct event *ev = (struct event *)*fd_data;
    if (events == 0) {
        if (ev)
            event_free(ev); /* deletes it first */
        *fd_data = NULL;
        return;
    }
    short want = EV_PERSIST;
    if (events & MCF_EV_READ)
        want |= EV_READ;
    if (events & MCF_EV_WRITE)
        want |= EV_WRITE;
    if (!ev) {
        ev = event_new(st->base, fd, want, mcf_libevent_on_fd, st);
        if (!ev)
            return;
        *fd_data = ev;
    } else {
        if (event_get_events(ev) == want && event_pending(ev, EV_READ | EV_WRITE, NULL))
            return;
        /* event_assign is allowed only on an event that is neither pending
         * nor active: event_del makes it so. */
        event_del(ev);
        event_assign(ev, st->base, fd, want, mcf_libevent_on_fd, st);
    }
    event_add(ev, NULL);
}

static inline void mcf_libevent_timer(void *data, int64_t ms)
{
    mcf_libevent_state *st = (mcf_libevent_state *)data;
    if (ms < 0) {
        evtimer_del(st->timer);
        return;
    }
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / MCF_LIBEVENT_MS_PER_S);
    tv.tv_usec = (suseconds_t)(ms % MCF_LIBEVENT_MS_PER_S) * MCF_LIBEVENT_US_PER_MS;
    evtimer_add(st->timer, &tv); /* a pending timer is rescheduled */
}

static inline void mcf_libevent_detach(void *data)
{
    mcf_libevent_state *st = (mcf_libevent_state *)data;
    event_free(st->timer);
    free(st);
}

/* Attaches c to base: MCF_OK, MCF_ERR_ARG (NULL argument), MCF_ERR_NOMEM,
 * or mcf_async_set_loop's error (then nothing stays attached or allocated). */
static inline int mcf_libevent_attach(mcf_client *c, struct event_base *base)
{
    if (!c || !base)
        return MCF_ERR_ARG;
    mcf_libevent_state *st = (mcf_libevent_state *)calloc(1, sizeof *st);
    if (!st)
        return MCF_ERR_NOMEM;
    st->client = c;
    st->base = base;
    st->timer = evtimer_new(base, mcf_libevent_on_timer, st);
    if (!st->timer) {
        free(st);
        return MCF_ERR_NOMEM;
    }
    mcf_loop loop = {st, mcf_libevent_watch, mcf_libevent_timer, mcf_libevent_detach};
    int rc = mcf_async_set_loop(c, &loop);
    if (rc != MCF_OK)
        mcf_libevent_detach(st);
    return rc;
}

#ifdef __cplusplus
}
#endif

#endif
