/*
 * mcfast_async.h - libmcfast's asynchronous API: many requests in flight
 * on one client, driven by the application's event loop.
 *
 * The model (hiredis's async context, curl's multi_socket):
 *   - Submitting a request never blocks and never calls a callback.  It
 *     routes and validates the keys, queues the request on its servers and
 *     starts any connect it needs (resolution, Happy Eyeballs, handshake,
 *     protocol probe: all non-blocking).  Bad input (a malformed key, an
 *     oversize value, a bad option) refuses the whole request: the submit
 *     returns NULL, nothing is sent, mcf_last_error() names the key.
 *   - Requests submitted to one server before the loop next runs go out in
 *     one write (auto-pipelining), and consecutive single-key gets (and
 *     gets) without options become one multi-get: one "get k1 k2 ..." line,
 *     or quiet mg lines under one mn.  256 single-key gets in flight thus
 *     cost the server one command, without the application collecting the
 *     keys.  Replies are matched to requests in order (text) and by opaque
 *     (meta), and checked by key: a value is only ever handed to the key it
 *     names.  In a batched get a key passed over by a later key's value is
 *     a miss (memcached answers hits in request order).
 *   - The library says what it waits for; the application's loop waits.
 *     Either attach a loop (mcf_async_set_loop: watch and timer callbacks,
 *     as curl_multi_socket_action; adapters for libevent, libuv and libev
 *     are in <mcfast/adapters/...>), or ask for a pollset each turn
 *     (mcf_async_pollset / mcf_async_process) for a plain poll() loop.
 *     A fleet client has many sockets (one per server, several per server
 *     while Happy Eyeballs races, the resolver's), so the library reports
 *     each socket's interest as it changes rather than one fd per client.
 *   - Each request completes exactly once: its done callback runs with the
 *     result, unless it was cancelled (then never).  Every request has a
 *     deadline (mcf_async_set_timeout).
 *
 * Memory: keys, values and mcf_item arrays given to a submit stay the
 * caller's and must stay valid until the request's done callback (or
 * until mcf_async_cancel returns); so must an _ex call's mcf_item_info and
 * new_value.  An _ex call's mcf_meta_opts is copied at submit.  Values are copied into the write
 * buffer when the request is built.  A value handed to a callback is valid
 * during the callback only.
 *
 * Threads: a client is not thread-safe.  Submit, drive and cancel from one
 * thread (the loop's), or serialise with your own lock.  Callbacks run on
 * the thread that drives the loop, from inside mcf_async_on_fd,
 * mcf_async_on_timer or mcf_async_process; a callback may submit and
 * cancel requests on the same client but must not free it.
 *
 * Mixing with the blocking API: a blocking call (mcf_get, ...) on a client
 * with async requests in flight fails with MCF_ERR_ARG and sends nothing.
 * Once nothing is in flight both may be used on the same client.
 */
#ifndef MCFAST_ASYNC_H
#define MCFAST_ASYNC_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "mcfast.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A request in flight.  The handle is valid from its submit until its
 * done callback returns, or until mcf_async_cancel. */
typedef struct mcf_request mcf_request;

/* Completion.  rc is the request's result:
 *   - single-key gets: MCF_OK with value (valid during the callback),
 *     MCF_MISS, or an error;
 *   - multi-key requests: MCF_OK, or the first error met (as the blocking
 *     call would return); each key's own result went to the key callback
 *     (gets) or to items[i].rc / items[i].number;
 *   - MCF_ERR_TIMEOUT when the request's deadline passed first,
 *     MCF_ERR_CANCELLED when the client was freed or disconnected first.
 * mcf_last_error() during the callback names the server, address and cause
 * of this request's error (until the callback submits another request). */
typedef void (*mcf_done_cb)(mcf_client *c, mcf_request *req, int rc, const mcf_value *value,
                            void *arg);
/* Per key of a multi-key get: as mcf_get_cb. */
typedef void (*mcf_key_cb)(mcf_client *c, mcf_request *req, size_t index, int rc,
                           const mcf_value *value, void *arg);

/* ---- submitting ---------------------------------------------------- */

/* get/gets/gat/gats of one key (exptime for gat/gats). */
MCF_API mcf_request *mcf_async_get(mcf_client *c, mcf_get_mode mode, int64_t exptime,
                                   const char *key, size_t key_len, mcf_done_cb done,
                                   void *arg);
/* Any number of keys: `each` once per key (may be NULL), then `done` with
 * value NULL.  key_lens may be NULL (NUL-terminated keys). */
MCF_API mcf_request *mcf_async_get_multi(mcf_client *c, mcf_get_mode mode, int64_t exptime,
                                         const char *const *keys, const size_t *key_lens,
                                         size_t n, mcf_key_cb each, mcf_done_cb done,
                                         void *arg);
/* One storage command (as mcf_store; call_flags MCF_CALL_NOREPLY, ...).  With
 * noreply the request is done once its bytes are written. */
MCF_API mcf_request *mcf_async_store(mcf_client *c, mcf_store_mode mode, const char *key,
                                     size_t key_len, const void *value, size_t value_len,
                                     uint32_t flags, int64_t exptime, uint64_t cas,
                                     unsigned call_flags, mcf_done_cb done, void *arg);
/* Any op over n items (as mcf_multi): a single incr, delete or touch is a
 * one-item array.  items[i].rc (and .number) are set before `done`. */
MCF_API mcf_request *mcf_async_multi(mcf_client *c, mcf_op op, mcf_item *items, size_t n,
                                     unsigned call_flags, mcf_done_cb done, void *arg);

/* The meta-protocol calls (as the _ex calls of mcfast.h); *info (may be
 * NULL) and *new_value are set before `done`. */
MCF_API mcf_request *mcf_async_get_ex(mcf_client *c, const char *key, size_t key_len,
                                      const mcf_meta_opts *opts, mcf_item_info *info,
                                      mcf_done_cb done, void *arg);
MCF_API mcf_request *mcf_async_store_ex(mcf_client *c, mcf_store_mode mode, const char *key,
                                        size_t key_len, const void *value, size_t value_len,
                                        uint32_t flags, int64_t exptime, uint64_t cas,
                                        const mcf_meta_opts *opts, mcf_item_info *info,
                                        mcf_done_cb done, void *arg);
MCF_API mcf_request *mcf_async_delete_ex(mcf_client *c, const char *key, size_t key_len,
                                         const mcf_meta_opts *opts, mcf_done_cb done,
                                         void *arg);
/* incr (1) or decr (0). */
MCF_API mcf_request *mcf_async_arith_ex(mcf_client *c, int incr, const char *key,
                                        size_t key_len, uint64_t delta,
                                        const mcf_meta_opts *opts, uint64_t *new_value,
                                        mcf_item_info *info, mcf_done_cb done, void *arg);

/* The server commands (as mcf_version, mcf_stats, mcf_flush_all): buf,
 * stats_arg and ctx are the caller's until done; cb runs once per STAT
 * line, before done. */
MCF_API mcf_request *mcf_async_version(mcf_client *c, size_t server, char *buf, size_t buflen,
                                       mcf_done_cb done, void *arg);
MCF_API mcf_request *mcf_async_stats(mcf_client *c, size_t server, const char *stats_arg,
                                     mcf_stat_cb cb, void *ctx, mcf_done_cb done, void *arg);
MCF_API mcf_request *mcf_async_flush_all(mcf_client *c, int64_t delay, unsigned call_flags,
                                         mcf_done_cb done, void *arg);

/* The request's deadline, timeout_ms from now (call it right after the
 * submit).  The default is the client's connect timeout plus its I/O
 * timeout from the submit.  When a deadline passes before the reply, the
 * request completes with MCF_ERR_TIMEOUT; if it was the oldest request on
 * its connection (the server has not answered it), the connection is
 * reset and the server's other requests fail with MCF_ERR_TIMEOUT too, as
 * memcached's proxy does: an in-order stream cannot skip a reply. */
MCF_API void mcf_async_set_timeout(mcf_request *req, int timeout_ms);

/* Cancels a request: its callbacks are never called, and it is gone when
 * this returns (its keys and values may be freed).  Bytes already written
 * stay written; the replies to them are read and dropped. */
MCF_API void mcf_async_cancel(mcf_client *c, mcf_request *req);

/* Requests submitted and not yet completed or cancelled. */
MCF_API size_t mcf_async_inflight(const mcf_client *c);

/* ---- driving: an attached loop -------------------------------------- */

#define MCF_EV_READ 0x1
#define MCF_EV_WRITE 0x2

typedef struct mcf_loop {
    void *data; /* the adapter's own state */
    /* Watch fd for `events` (MCF_EV_*) from now on, replacing what was
     * asked for it before; events 0: stop watching it.  Stop is always
     * asked before the library closes fd.  *fd_data is the adapter's per-fd
     * slot: NULL the first time fd is watched, kept by the library until
     * the stop. */
    void (*watch)(void *data, int fd, int events, void **fd_data);
    /* Call mcf_async_on_timer() in ms milliseconds (0: as soon as the loop
     * can), replacing any earlier timer; -1: no timer. */
    void (*timer)(void *data, int64_t ms);
    /* The client lets go of the loop (mcf_free, or another loop set): every
     * watch was stopped and the timer cancelled.  May be NULL. */
    void (*detach)(void *data);
} mcf_loop;

/* Attaches a loop (NULL: detach).  The library copies *loop. */
MCF_API int mcf_async_set_loop(mcf_client *c, const mcf_loop *loop);
/* fd became ready for `events` (MCF_EV_*; an error or hang-up counts as
 * both). */
MCF_API void mcf_async_on_fd(mcf_client *c, int fd, int events);
/* The timer asked for came due. */
MCF_API void mcf_async_on_timer(mcf_client *c);

/* ---- driving: a plain poll() loop ------------------------------------ */

/* Without an attached loop: the sockets to poll now and the timeout to
 * poll with (-1: none).  Returns how many fds there are; only the first
 * `cap` are written, so call again with more room if it returns more. */
MCF_API size_t mcf_async_pollset(mcf_client *c, struct pollfd *fds, size_t cap,
                                 int *timeout_ms);
/* After poll() (or its timeout): handles what is ready, runs the due
 * timers and the callbacks. */
MCF_API void mcf_async_process(mcf_client *c, const struct pollfd *fds, size_t n);

/* Drives the client with its own poll() until nothing is in flight or
 * timeout_ms passed (-1: no limit): for tests and scripts.  Returns the
 * number of requests still in flight. */
MCF_API size_t mcf_async_run(mcf_client *c, int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
