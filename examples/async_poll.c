/*
 * async_poll.c - the mcfast async API driven by a plain poll() loop.
 *
 *   async_poll [-n INFLIGHT] SERVERS KEY...
 *
 * Sets every KEY to "value of KEY", then gets every KEY and prints
 * "KEY = VALUE" (or "KEY: miss", "KEY: <error>"), keeping up to INFLIGHT
 * requests in flight (default 64): each completion submits the next
 * request from inside its callback.  SERVERS is a server list as
 * mcf_set_servers takes it ("127.0.0.1:11211,[::1]:11212").  Exit status 0
 * when every set was stored and every get hit.
 *
 * The loop is the whole of driving without an event library: ask the
 * library which sockets to poll and for how long (mcf_async_pollset),
 * poll(), and hand the result back (mcf_async_process), which runs the
 * callbacks.  No mcf_async_set_loop is needed for this.
 *
 * Build: make examples (build/examples/async_poll), or by hand after
 * make install:
 *   cc -std=c11 async_poll.c $(pkg-config --cflags --libs --static mcfast)
 *
 * tests/test_async_adapters.c includes this file with
 * ASYNC_EXAMPLE_LOOP_ONLY defined, to test the same loop.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mcfast.h>
#include <mcfast_async.h>

/* ---- the loop --------------------------------------------------------- */

/* Room for a few servers before the first growth. */
#define POLL_DRIVER_INITIAL_FDS 8

typedef struct poll_driver {
    struct pollfd *fds;
    size_t cap;
} poll_driver;

static int poll_driver_init(poll_driver *pd)
{
    pd->fds = calloc(POLL_DRIVER_INITIAL_FDS, sizeof *pd->fds);
    pd->cap = pd->fds ? POLL_DRIVER_INITIAL_FDS : 0;
    return pd->fds ? 0 : -1;
}

static void poll_driver_free(poll_driver *pd)
{
    free(pd->fds);
    pd->fds = NULL;
    pd->cap = 0;
}

/* One turn: waits for the client's sockets, at most as long as the library
 * asks and, when max_wait_ms >= 0, at most max_wait_ms; then lets the
 * library handle what is ready and what is due.  0, or -1 with errno. */
static int poll_driver_turn(poll_driver *pd, mcf_client *c, int max_wait_ms)
{
    int timeout_ms;
    size_t n = mcf_async_pollset(c, pd->fds, pd->cap, &timeout_ms);
    while (n > pd->cap) { /* a fleet client: more sockets than room */
        struct pollfd *bigger = realloc(pd->fds, n * sizeof *bigger);
        if (!bigger)
            return -1;
        pd->fds = bigger;
        pd->cap = n;
        n = mcf_async_pollset(c, pd->fds, pd->cap, &timeout_ms);
    }
    if (max_wait_ms >= 0 && (timeout_ms < 0 || timeout_ms > max_wait_ms))
        timeout_ms = max_wait_ms;
    if (poll(pd->fds, (nfds_t)n, timeout_ms) < 0) {
        if (errno != EINTR)
            return -1;
        for (size_t i = 0; i < n; i++) /* nothing is known to be ready */
            pd->fds[i].revents = 0;
    }
    mcf_async_process(c, pd->fds, n);
    return 0;
}

#ifndef ASYNC_EXAMPLE_LOOP_ONLY
/* ---- the program ------------------------------------------------------ */

#define DEFAULT_INFLIGHT 64
#define VALUE_PREFIX "value of "

typedef struct job job;

/* One key: its value and what its requests need to find their job. */
typedef struct key_req {
    job *j;
    const char *key;
    char *value;
} key_req;

struct job {
    mcf_client *c;
    key_req *reqs;
    size_t n;
    size_t max_inflight;
    size_t inflight; /* counted here: the callbacks below keep it */
    size_t next;     /* the next key to submit in this phase */
    size_t finished; /* requests of this phase that completed */
    int getting;     /* phase: 0 sets, 1 gets */
    int stopping;    /* mcf_free is cancelling what is left: submit nothing */
    int failures;
};

static void top_up(job *j);

static void on_set(mcf_client *c, mcf_request *req, int rc, const mcf_value *value, void *arg)
{
    (void)req;
    (void)value;
    key_req *kr = arg;
    if (rc != MCF_OK) {
        printf("set %s: %s (%s)\n", kr->key, mcf_strerror(rc), mcf_last_error(c));
        kr->j->failures++;
    }
    kr->j->inflight--;
    kr->j->finished++;
    top_up(kr->j);
}

static void on_get(mcf_client *c, mcf_request *req, int rc, const mcf_value *value, void *arg)
{
    (void)req;
    key_req *kr = arg;
    if (rc == MCF_OK) {
        printf("%s = %.*s\n", kr->key, (int)value->len, value->data);
    } else {
        printf("%s: %s%s%s\n", kr->key, mcf_strerror(rc), mcf_is_error(rc) ? ": " : "",
               mcf_is_error(rc) ? mcf_last_error(c) : "");
        kr->j->failures++;
    }
    kr->j->inflight--;
    kr->j->finished++;
    top_up(kr->j);
}

/* Submits until INFLIGHT are in flight or the phase has nothing left, and
 * moves from sets to gets once every set completed.  Called first from
 * main, then from each completion. */
static void top_up(job *j)
{
    while (!j->stopping) {
        while (j->inflight < j->max_inflight && j->next < j->n) {
            key_req *kr = &j->reqs[j->next++];
            mcf_request *r =
                j->getting ? mcf_async_get(j->c, MCF_GET, 0, kr->key, strlen(kr->key), on_get, kr)
                           : mcf_async_store(j->c, MCF_SET, kr->key, strlen(kr->key), kr->value,
                                             strlen(kr->value), 0, 0, 0, 0, on_set, kr);
            if (!r) { /* refused before anything was sent (a bad key, ...) */
                printf("%s %s: %s\n", j->getting ? "get" : "set", kr->key, mcf_last_error(j->c));
                j->failures++;
                j->finished++;
                continue;
            }
            j->inflight++;
        }
        if (!j->getting && j->finished == j->n) {
            j->getting = 1;
            j->next = 0;
            j->finished = 0;
            continue;
        }
        return;
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: async_poll [-n INFLIGHT] SERVERS KEY...\n");
    return 2;
}

int main(int argc, char **argv)
{
    size_t max_inflight = DEFAULT_INFLIGHT;
    int arg = 1;
    if (arg + 1 < argc && strcmp(argv[arg], "-n") == 0) {
        char *end;
        unsigned long v = strtoul(argv[arg + 1], &end, 10);
        if (*end || v == 0)
            return usage();
        max_inflight = v;
        arg += 2;
    }
    if (argc - arg < 2)
        return usage();

    mcf_client *c = mcf_new();
    if (!c)
        return 1;
    if (mcf_set_servers(c, argv[arg]) != MCF_OK) {
        fprintf(stderr, "async_poll: %s\n", mcf_last_error(c));
        mcf_free(c);
        return 2;
    }
    job j = {.c = c, .n = (size_t)(argc - arg - 1), .max_inflight = max_inflight};
    poll_driver pd = {0};
    int status = 1;
    j.reqs = calloc(j.n, sizeof *j.reqs);
    if (!j.reqs || poll_driver_init(&pd) < 0)
        goto out_of_memory;
    for (size_t i = 0; i < j.n; i++) {
        key_req *kr = &j.reqs[i];
        kr->j = &j;
        kr->key = argv[arg + 1 + (int)i];
        size_t size = sizeof VALUE_PREFIX + strlen(kr->key);
        kr->value = malloc(size);
        if (!kr->value)
            goto out_of_memory;
        snprintf(kr->value, size, VALUE_PREFIX "%s", kr->key);
    }

    top_up(&j);
    /* Every request has a deadline, so this ends. */
    while (j.inflight > 0)
        if (poll_driver_turn(&pd, c, -1) < 0) {
            perror("async_poll: poll");
            j.failures++;
            break;
        }
    status = j.failures ? 1 : 0;
    goto done;

out_of_memory:
    fprintf(stderr, "async_poll: out of memory\n");
done:
    j.stopping = 1;
    mcf_free(c); /* completes anything left with MCF_ERR_CANCELLED */
    poll_driver_free(&pd);
    for (size_t i = 0; j.reqs && i < j.n; i++)
        free(j.reqs[i].value);
    free(j.reqs);
    return status;
}
#endif
