/*
 * async_epoll.c - the mcfast async API on an epoll loop of your own,
 * attached with mcf_async_set_loop: what an adapter for any event library
 * does (mcfast/adapters/ has them for libevent, libuv and libev).
 *
 *   async_epoll SERVERS ARG...
 *
 * Each ARG is KEY=VALUE (set KEY) or KEY (get KEY).  Every request is
 * submitted at once, so the library pipelines them per server, in order: a
 * get after a set of the same key sees the new value.  Prints
 * "set KEY: stored", "KEY = VALUE" or "KEY: miss" as each completes.  Exit
 * status 0 when nothing failed (a miss is no failure).
 *
 * The loop: the library tells the loop which sockets to watch for what
 * (watch: epoll_ctl) and when to call it back (timer: here the epoll_wait
 * timeout); the loop tells the library what happened (mcf_async_on_fd,
 * mcf_async_on_timer), which runs the callbacks.
 *
 * Build: make examples (build/examples/async_epoll), or by hand after
 * make install:
 *   cc -std=c11 async_epoll.c $(pkg-config --cflags --libs --static mcfast)
 *
 * tests/test_async_adapters.c includes this file with
 * ASYNC_EXAMPLE_LOOP_ONLY defined, to test the same loop.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <mcfast.h>
#include <mcfast_async.h>

/* ---- the loop --------------------------------------------------------- */

/* Readiness reports taken per epoll_wait; more simply wait for the next. */
#define EPOLL_DRIVER_BATCH 64
#define EPOLL_DRIVER_NS_PER_MS 1000000
#define EPOLL_DRIVER_MS_PER_S 1000

/* A watched socket, in the library's *fd_data slot and in epoll's data.ptr.
 * A stopped one is only marked (fd -1) and freed after the batch of
 * readiness reports being handled: a later report in the same batch may
 * still point at it. */
typedef struct epoll_watch {
    int fd;
    struct epoll_watch *next_stopped;
} epoll_watch;

typedef struct epoll_driver {
    int epfd;
    mcf_client *client;   /* attached client; NULL once detached */
    int64_t timer_due_ms; /* monotonic ms when the library's timer is due; -1 none */
    size_t watched;       /* sockets in the epoll set */
    epoll_watch *stopped; /* to free after the current batch */
} epoll_driver;

static int64_t epoll_driver_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * EPOLL_DRIVER_MS_PER_S + ts.tv_nsec / EPOLL_DRIVER_NS_PER_MS;
}

static void epoll_driver_free_stopped(epoll_driver *ed)
{
    while (ed->stopped) {
        epoll_watch *w = ed->stopped;
        ed->stopped = w->next_stopped;
        free(w);
    }
}

/* mcf_loop.watch */
static void epoll_driver_watch(void *data, int fd, int events, void **fd_data)
{
    epoll_driver *ed = data;
    epoll_watch *w = *fd_data;
    if (events == 0) {
        if (w) {
            epoll_ctl(ed->epfd, EPOLL_CTL_DEL, fd, NULL); /* before the library closes fd */
            ed->watched--;
            w->fd = -1;
            w->next_stopped = ed->stopped;
            ed->stopped = w;
        }
        *fd_data = NULL;
        return;
    }
    struct epoll_event ev = {0};
    if (events & MCF_EV_READ)
        ev.events |= EPOLLIN;
    if (events & MCF_EV_WRITE)
        ev.events |= EPOLLOUT;
    if (w) {
        ev.data.ptr = w;
        if (epoll_ctl(ed->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
            perror("async_epoll: epoll_ctl MOD");
        return;
    }
    w = calloc(1, sizeof *w);
    if (!w) { /* unwatched: its requests end at their deadline */
        perror("async_epoll: watch");
        return;
    }
    w->fd = fd;
    ev.data.ptr = w;
    if (epoll_ctl(ed->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        perror("async_epoll: epoll_ctl ADD");
        free(w);
        return;
    }
    ed->watched++;
    *fd_data = w;
}

/* mcf_loop.timer */
static void epoll_driver_timer(void *data, int64_t ms)
{
    epoll_driver *ed = data;
    ed->timer_due_ms = ms < 0 ? -1 : epoll_driver_now_ms() + ms;
}

/* mcf_loop.detach: the library has stopped every watch and the timer. */
static void epoll_driver_detach(void *data)
{
    epoll_driver *ed = data;
    ed->client = NULL;
    ed->timer_due_ms = -1;
}

static int epoll_driver_init(epoll_driver *ed)
{
    *ed = (epoll_driver){.epfd = epoll_create1(EPOLL_CLOEXEC), .timer_due_ms = -1};
    return ed->epfd < 0 ? -1 : 0;
}

/* One turn: waits for the watched sockets until the library's timer is due
 * and, when max_wait_ms >= 0, at most max_wait_ms; reports what is ready,
 * then the timer if due.  0, or -1 with errno. */
static int epoll_driver_turn(epoll_driver *ed, int max_wait_ms)
{
    int timeout_ms = -1;
    if (ed->timer_due_ms >= 0) {
        int64_t left = ed->timer_due_ms - epoll_driver_now_ms();
        timeout_ms = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
    }
    if (max_wait_ms >= 0 && (timeout_ms < 0 || timeout_ms > max_wait_ms))
        timeout_ms = max_wait_ms;
    struct epoll_event evs[EPOLL_DRIVER_BATCH];
    int n = epoll_wait(ed->epfd, evs, EPOLL_DRIVER_BATCH, timeout_ms);
    if (n < 0 && errno != EINTR)
        return -1;
    for (int i = 0; i < n && ed->client; i++) {
        epoll_watch *w = evs[i].data.ptr;
        if (w->fd < 0)
            continue; /* stopped by an earlier report of this batch */
        int events = 0;
        if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
            events |= MCF_EV_READ;
        if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            events |= MCF_EV_WRITE;
        mcf_async_on_fd(ed->client, w->fd, events);
    }
    epoll_driver_free_stopped(ed);
    if (ed->client && ed->timer_due_ms >= 0 && epoll_driver_now_ms() >= ed->timer_due_ms) {
        ed->timer_due_ms = -1; /* one-shot: the library asks again if it needs to */
        mcf_async_on_timer(ed->client);
        epoll_driver_free_stopped(ed);
    }
    return 0;
}

/* After the client was freed or detached. */
static void epoll_driver_close(epoll_driver *ed)
{
    epoll_driver_free_stopped(ed);
    if (ed->epfd >= 0)
        close(ed->epfd);
    ed->epfd = -1;
}

#ifndef ASYNC_EXAMPLE_LOOP_ONLY
/* ---- the program ------------------------------------------------------ */

static size_t inflight;
static int failures;

/* Hands the loop's callbacks to the library (the test wraps them instead). */
static int epoll_driver_attach(epoll_driver *ed, mcf_client *c)
{
    mcf_loop loop = {ed, epoll_driver_watch, epoll_driver_timer, epoll_driver_detach};
    ed->client = c; /* before: attaching may already watch sockets */
    int rc = mcf_async_set_loop(c, &loop);
    if (rc != MCF_OK)
        ed->client = NULL;
    return rc;
}

static size_t key_len_of(const char *arg)
{
    const char *eq = strchr(arg, '=');
    return eq ? (size_t)(eq - arg) : strlen(arg);
}

static void on_set(mcf_client *c, mcf_request *req, int rc, const mcf_value *value, void *arg)
{
    (void)req;
    (void)value;
    const char *a = arg;
    int klen = (int)key_len_of(a);
    if (rc == MCF_OK) {
        printf("set %.*s: stored\n", klen, a);
    } else {
        printf("set %.*s: %s (%s)\n", klen, a, mcf_strerror(rc), mcf_last_error(c));
        failures++;
    }
    inflight--;
}

static void on_get(mcf_client *c, mcf_request *req, int rc, const mcf_value *value, void *arg)
{
    (void)req;
    const char *key = arg;
    if (rc == MCF_OK) {
        printf("%s = %.*s\n", key, (int)value->len, value->data);
    } else if (rc == MCF_MISS) {
        printf("%s: miss\n", key);
    } else {
        printf("%s: %s (%s)\n", key, mcf_strerror(rc), mcf_last_error(c));
        failures++;
    }
    inflight--;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: async_epoll SERVERS KEY=VALUE|KEY...\n");
        return 2;
    }
    mcf_client *c = mcf_new();
    epoll_driver ed;
    if (!c || epoll_driver_init(&ed) < 0) {
        perror("async_epoll");
        mcf_free(c);
        return 1;
    }
    int rc = mcf_set_servers(c, argv[1]);
    if (rc == MCF_OK)
        rc = epoll_driver_attach(&ed, c);
    if (rc != MCF_OK) {
        fprintf(stderr, "async_epoll: %s\n", mcf_last_error(c));
        mcf_free(c);
        epoll_driver_close(&ed);
        return 2;
    }

    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        mcf_request *r =
            eq ? mcf_async_store(c, MCF_SET, a, (size_t)(eq - a), eq + 1, strlen(eq + 1), 0, 0, 0,
                                 0, on_set, argv[i])
               : mcf_async_get(c, MCF_GET, 0, a, strlen(a), on_get, argv[i]);
        if (!r) { /* refused before anything was sent (a bad key, ...) */
            printf("%s: %s\n", a, mcf_last_error(c));
            failures++;
            continue;
        }
        inflight++;
    }
    /* Every request has a deadline, so this ends. */
    while (inflight > 0)
        if (epoll_driver_turn(&ed, -1) < 0) {
            perror("async_epoll: epoll_wait");
            failures++;
            break;
        }

    mcf_free(c); /* stops every watch and detaches: epoll set empty */
    epoll_driver_close(&ed);
    return failures ? 1 : 0;
}
#endif
