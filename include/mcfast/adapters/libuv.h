/*
 * mcfast/adapters/libuv.h - drives an mcfast client's async requests from
 * a libuv loop.  Header only: include it, link -luv.
 *
 *   #include <mcfast_async.h>
 *   #include <mcfast/adapters/libuv.h>
 *
 *   uv_loop_t *loop = uv_default_loop();
 *   mcf_client *c = mcf_new();
 *   mcf_set_servers(c, "127.0.0.1:11211");
 *   if (mcf_libuv_attach(c, loop) != MCF_OK) ... mcf_last_error(c) ...
 *   mcf_async_get(c, MCF_GET, 0, "k", 1, on_done, NULL);
 *   uv_run(loop, UV_RUN_DEFAULT);
 *   ...
 *   mcf_free(c);                   (stops and closes every handle)
 *   uv_run(loop, UV_RUN_NOWAIT);   (runs the close callbacks that free them)
 *   uv_loop_close(loop);
 *
 * One uv_poll_t per socket the library asks for, one uv_timer_t per
 * client.  libuv forbids closing a descriptor a uv_poll_t still watches;
 * the library always stops watching a socket before it closes it, and the
 * stop here is uv_poll_stop + uv_close at once (the handle's memory goes in
 * its close callback).  So after mcf_free, or after detaching
 * (mcf_async_set_loop(c, NULL), or attaching another loop), the loop must
 * run once more before uv_loop_close, or that returns UV_EBUSY.
 * While idle connections stay open the library may keep watching them, so
 * UV_RUN_DEFAULT returns only once the client is freed or detached; a
 * program that wants to stop earlier calls uv_stop.
 *
 * uv.h itself needs POSIX declarations: under -std=c11 define
 * _POSIX_C_SOURCE 200809L (or _GNU_SOURCE) before the first #include.
 *
 * Threads: everything (submits, uv_run, mcf_free) on the loop's thread.
 *
 * A socket libuv cannot poll (uv_poll_init fails, e.g. out of memory)
 * stays unwatched: its requests then end at their deadline.
 */
#ifndef MCFAST_ADAPTERS_LIBUV_H
#define MCFAST_ADAPTERS_LIBUV_H

#include <stdint.h>
#include <stdlib.h>

#include <uv.h>

#include "../../mcfast_async.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mcf_libuv_state {
    mcf_client *client;
    uv_loop_t *loop;
    uv_timer_t timer; /* freed with the state, in the timer's close callback */
} mcf_libuv_state;

/* One watched socket, in the library's *fd_data slot. */
typedef struct mcf_libuv_watch_slot {
    uv_poll_t poll; /* first: the handle's address is the slot's */
    mcf_client *client;
    int fd;
    int events; /* UV_READABLE / UV_WRITABLE asked for */
} mcf_libuv_watch_slot;

static inline void mcf_libuv_on_poll(uv_poll_t *handle, int status, int uv_events)
{
    mcf_libuv_watch_slot *slot = (mcf_libuv_watch_slot *)handle;
    mcf_client *c = slot->client;
    int fd = slot->fd;
    int events = 0;
    if (status < 0) {
        /* A socket error: libuv has stopped the handle.  Start it again
         * with the same interest, so it keeps matching what the library
         * asked for (the library sees the error as both events and decides
         * whether to go on watching). */
        uv_poll_start(handle, slot->events, mcf_libuv_on_poll);
        events = MCF_EV_READ | MCF_EV_WRITE;
    } else {
        /* libuv reports a hang-up as readiness for what was asked. */
        if (uv_events & UV_READABLE)
            events |= MCF_EV_READ;
        if (uv_events & UV_WRITABLE)
            events |= MCF_EV_WRITE;
    }
    /* The slot may be closed from inside this call: not touched after. */
    mcf_async_on_fd(c, fd, events);
}

static inline void mcf_libuv_free_handle(uv_handle_t *handle) { free(handle); }

static inline void mcf_libuv_watch(void *data, int fd, int events, void **fd_data)
{
    mcf_libuv_state *st = (mcf_libuv_state *)data;
    mcf_libuv_watch_slot *slot = (mcf_libuv_watch_slot *)*fd_data;
    if (events == 0) {
        if (slot) {
            /* uv_close stops the poll and takes the descriptor out of the
             * loop's poller now (only the memory waits for the callback),
             * so the library may close fd right after. */
            uv_close((uv_handle_t *)&slot->poll, mcf_libuv_free_handle);
        }
        *fd_data = NULL;
        return;
    }
    int want = 0;
    if (events & MCF_EV_READ)
        want |= UV_READABLE;
    if (events & MCF_EV_WRITE)
        want |= UV_WRITABLE;
    if (!slot) {
        slot = (mcf_libuv_watch_slot *)calloc(1, sizeof *slot);
        if (!slot)
            return;
        if (uv_poll_init_socket(st->loop, &slot->poll, fd) != 0) {
            free(slot); /* never a handle of the loop: no uv_close */
            return;
        }
        slot->client = st->client;
        slot->fd = fd;
        *fd_data = slot;
    } else if (slot->events == want && uv_is_active((uv_handle_t *)&slot->poll)) {
        return;
    }
    slot->events = want;
    uv_poll_start(&slot->poll, want, mcf_libuv_on_poll); /* replaces the old interest */
}

static inline void mcf_libuv_on_timer(uv_timer_t *timer)
{
    mcf_libuv_state *st = (mcf_libuv_state *)timer->data;
    mcf_async_on_timer(st->client);
}

static inline void mcf_libuv_timer(void *data, int64_t ms)
{
    mcf_libuv_state *st = (mcf_libuv_state *)data;
    if (ms < 0)
        uv_timer_stop(&st->timer);
    else
        uv_timer_start(&st->timer, mcf_libuv_on_timer, (uint64_t)ms, 0); /* restarts it */
}

static inline void mcf_libuv_free_state(uv_handle_t *timer)
{
    free(timer->data);
}

static inline void mcf_libuv_detach(void *data)
{
    mcf_libuv_state *st = (mcf_libuv_state *)data;
    uv_close((uv_handle_t *)&st->timer, mcf_libuv_free_state);
}

/* Attaches c to loop: MCF_OK, MCF_ERR_ARG (NULL argument), MCF_ERR_NOMEM,
 * or mcf_async_set_loop's error (then nothing stays attached; the state is
 * freed once the loop runs). */
static inline int mcf_libuv_attach(mcf_client *c, uv_loop_t *loop)
{
    if (!c || !loop)
        return MCF_ERR_ARG;
    mcf_libuv_state *st = (mcf_libuv_state *)calloc(1, sizeof *st);
    if (!st)
        return MCF_ERR_NOMEM;
    st->client = c;
    st->loop = loop;
    if (uv_timer_init(loop, &st->timer) != 0) { /* cannot fail on Unix; checked anyway */
        free(st);
        return MCF_ERR_NOMEM;
    }
    st->timer.data = st;
    mcf_loop ml = {st, mcf_libuv_watch, mcf_libuv_timer, mcf_libuv_detach};
    int rc = mcf_async_set_loop(c, &ml);
    if (rc != MCF_OK)
        mcf_libuv_detach(st);
    return rc;
}

#ifdef __cplusplus
}
#endif

#endif
