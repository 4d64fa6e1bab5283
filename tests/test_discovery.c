/* test_discovery.c - ElastiCache-style discovery (mcf_set_discovery,
 * src/discovery.c) against a scripted configuration endpoint that speaks
 * AWS's documented reply format (src/discovery_parse.h), with REAL
 * memcached processes as the nodes:
 *   - the first poll installs the nodes and keys land on them (read back
 *     through a second client per node);
 *   - a newer version (a node added, one removed) is installed, the nodes
 *     that stay keep their connections;
 *   - the same version with another body, and an older version, change
 *     nothing;
 *   - async: thousands of requests in flight while the list changes: each
 *     completes once, with its own value or a typed error; the new list is
 *     in use once they drain, never before;
 *   - endpoint silent, down or talking garbage: calls keep working on the
 *     last list, complete while the poll is outstanding, and the info call
 *     names the error;
 *   - an endpoint without "config" (engines before 1.4.14) is asked the
 *     legacy way.
 * The endpoint is a thread here (ep_*): the test changes its answer at run
 * time. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "fixtures.h"
#include "harness.h"
#include "mcfast.h"
#include "mcfast_async.h"
#include "mcserver.h"

#define NNODES 3
#define EP_CONNS_MAX 16
#define EP_LINE_MAX 512
#define EP_TURN_MS 20
#define INTERVAL_MS 20
/* Bounds for things that must happen (never speeds asserted). */
#define SETTLE_MS 5000
#define TIMEOUT_MS 2000
#define NKEYS 300
#define ASYNC_KEYS 3000
#define ASYNC_WAVE 1000
#define ASYNC_MAX (ASYNC_KEYS * 100)

/* ---- the scripted endpoint ---------------------------------------------- */

enum { EP_OK, EP_GARBAGE, EP_SILENT, EP_LEGACY };

typedef struct endpoint {
    pthread_t th;
    pthread_mutex_t mu;
    int port;
    int lfd;
    int conns[EP_CONNS_MAX];
    char in[EP_CONNS_MAX][EP_LINE_MAX];
    size_t inlen[EP_CONNS_MAX];
    int stop, want_down, want_up, is_down;
    int mode;
    unsigned long long version;
    char nodes[2048];
    int asked;    /* requests seen */
    int accepted; /* connections accepted */
} endpoint;

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* AWS's format: the body's two lines, counted, then CRLF END CRLF. */
static void send_config(endpoint *ep, int fd, const char *hdr)
{
    char body[2200], out[2400];
    int bl = snprintf(body, sizeof body, "%llu\n%s\n", ep->version, ep->nodes);
    int n = snprintf(out, sizeof out, "%s %d\r\n%s\r\nEND\r\n", hdr, bl, body);
    /* In two pieces: the client's parser sees a short read. */
    size_t half = (size_t)n / 2;
    send_all(fd, out, half);
    send_all(fd, out + half, (size_t)n - half);
}

static void answer(endpoint *ep, int fd, const char *line)
{
    ep->asked++;
    int config = strcmp(line, "config get cluster") == 0;
    int legacy = strcmp(line, "get AmazonElastiCache:cluster") == 0;
    if (!config && !legacy) {
        send_all(fd, "ERROR\r\n", 7);
        return;
    }
    switch (ep->mode) {
    case EP_SILENT:
        return;
    case EP_GARBAGE:
        send_all(fd, "HELLO THERE\r\n", 13);
        return;
    case EP_LEGACY:
        if (config)
            send_all(fd, "ERROR\r\n", 7);
        else
            send_config(ep, fd, "VALUE AmazonElastiCache:cluster 0");
        return;
    default:
        if (config)
            send_config(ep, fd, "CONFIG cluster 0");
        else
            send_all(fd, "END\r\n", 5);
    }
}

static void drop_conn(endpoint *ep, int i)
{
    close(ep->conns[i]);
    ep->conns[i] = -1;
    ep->inlen[i] = 0;
}

static void *ep_main(void *arg)
{
    endpoint *ep = arg;
    for (;;) {
        struct pollfd p[EP_CONNS_MAX + 1];
        int idx[EP_CONNS_MAX + 1];
        nfds_t n = 0;
        pthread_mutex_lock(&ep->mu);
        if (ep->stop) {
            pthread_mutex_unlock(&ep->mu);
            break;
        }
        if (ep->want_down) {
            if (ep->lfd >= 0)
                close(ep->lfd);
            ep->lfd = -1;
            for (int i = 0; i < EP_CONNS_MAX; i++)
                if (ep->conns[i] >= 0)
                    drop_conn(ep, i);
            ep->want_down = 0;
            ep->is_down = 1;
        }
        if (ep->want_up) {
            ep->lfd = listen_on(ep->port);
            ep->want_up = 0;
            ep->is_down = ep->lfd < 0;
        }
        if (ep->lfd >= 0) {
            p[n] = (struct pollfd){ep->lfd, POLLIN, 0};
            idx[n++] = -1;
        }
        for (int i = 0; i < EP_CONNS_MAX; i++)
            if (ep->conns[i] >= 0) {
                p[n] = (struct pollfd){ep->conns[i], POLLIN, 0};
                idx[n++] = i;
            }
        pthread_mutex_unlock(&ep->mu);
        if (poll(p, n, EP_TURN_MS) <= 0)
            continue;
        pthread_mutex_lock(&ep->mu);
        for (nfds_t k = 0; k < n; k++) {
            if (!p[k].revents)
                continue;
            if (idx[k] < 0) {
                int fd = accept(ep->lfd, NULL, NULL);
                ep->accepted += fd >= 0;
                int placed = 0;
                for (int i = 0; fd >= 0 && i < EP_CONNS_MAX && !placed; i++)
                    if (ep->conns[i] < 0) {
                        ep->conns[i] = fd;
                        placed = 1;
                    }
                if (fd >= 0 && !placed)
                    close(fd);
                continue;
            }
            int i = idx[k];
            if (ep->conns[i] < 0)
                continue;
            ssize_t r = recv(ep->conns[i], ep->in[i] + ep->inlen[i],
                             EP_LINE_MAX - 1 - ep->inlen[i], 0);
            if (r <= 0) {
                drop_conn(ep, i);
                continue;
            }
            ep->inlen[i] += (size_t)r;
            char *lf;
            while ((lf = memchr(ep->in[i], '\n', ep->inlen[i])) != NULL) {
                size_t ll = (size_t)(lf - ep->in[i]) + 1;
                char line[EP_LINE_MAX];
                size_t tl = ll - 1 - (ll >= 2 && ep->in[i][ll - 2] == '\r');
                memcpy(line, ep->in[i], tl);
                line[tl] = 0;
                answer(ep, ep->conns[i], line);
                memmove(ep->in[i], ep->in[i] + ll, ep->inlen[i] - ll);
                ep->inlen[i] -= ll;
            }
            if (ep->inlen[i] == EP_LINE_MAX - 1)
                drop_conn(ep, i);
        }
        pthread_mutex_unlock(&ep->mu);
    }
    return NULL;
}

static int ep_start(endpoint *ep)
{
    memset(ep, 0, sizeof *ep);
    pthread_mutex_init(&ep->mu, NULL);
    for (int i = 0; i < EP_CONNS_MAX; i++)
        ep->conns[i] = -1;
    ep->port = mcserver_free_port("127.0.0.1");
    ep->lfd = ep->port > 0 ? listen_on(ep->port) : -1;
    if (ep->lfd < 0)
        return -1;
    return pthread_create(&ep->th, NULL, ep_main, ep) == 0 ? 0 : -1;
}

static void ep_stop(endpoint *ep)
{
    pthread_mutex_lock(&ep->mu);
    ep->stop = 1;
    pthread_mutex_unlock(&ep->mu);
    pthread_join(ep->th, NULL);
    if (ep->lfd >= 0)
        close(ep->lfd);
    for (int i = 0; i < EP_CONNS_MAX; i++)
        if (ep->conns[i] >= 0)
            close(ep->conns[i]);
    pthread_mutex_destroy(&ep->mu);
}

/* The answer from now on: version and the nodes srv[which[0..n)]; empty
 * ip for node index `noip` (-1: none), so the host is used. */
static void ep_set(endpoint *ep, int mode, unsigned long long version, const mcserver *srv,
                   const int *which, int n, int noip)
{
    pthread_mutex_lock(&ep->mu);
    ep->mode = mode;
    ep->version = version;
    ep->nodes[0] = 0;
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const mcserver *s = &srv[which[i]];
        const char *sep = i ? " " : "";
        if (which[i] == noip) /* the host field carries the address */
            off += (size_t)snprintf(ep->nodes + off, sizeof ep->nodes - off, "%s%s||%d", sep,
                                    s->host, s->port);
        else
            off += (size_t)snprintf(ep->nodes + off, sizeof ep->nodes - off,
                                    "%snode%d.test|%s|%d", sep, which[i], s->host, s->port);
    }
    pthread_mutex_unlock(&ep->mu);
}

/* The raw node line (same-version and garbage cases). */
static void ep_set_raw(endpoint *ep, int mode, unsigned long long version, const char *nodes)
{
    pthread_mutex_lock(&ep->mu);
    ep->mode = mode;
    ep->version = version;
    snprintf(ep->nodes, sizeof ep->nodes, "%s", nodes);
    pthread_mutex_unlock(&ep->mu);
}

/* Down (listener and connections closed) or up again on the same port;
 * returns once the thread did it. */
static void ep_updown(endpoint *ep, int down)
{
    pthread_mutex_lock(&ep->mu);
    if (down)
        ep->want_down = 1;
    else
        ep->want_up = 1;
    pthread_mutex_unlock(&ep->mu);
    for (int i = 0; i < SETTLE_MS; i++) {
        pthread_mutex_lock(&ep->mu);
        int done = !ep->want_down && !ep->want_up;
        pthread_mutex_unlock(&ep->mu);
        if (done)
            return;
        sleep_ms(1);
    }
}

static char ep_spec[64];
static const char *ep_name(const endpoint *ep)
{
    snprintf(ep_spec, sizeof ep_spec, "127.0.0.1:%d", ep->port);
    return ep_spec;
}

/* ---- helpers -------------------------------------------------------------- */

static mcf_discovery_info info_of(mcf_client *c)
{
    mcf_discovery_info i;
    CHECK_RC(mcf_discovery_info_get(c, &i), MCF_OK);
    return i;
}

/* Blocking calls (each steps the poll) until pred holds or SETTLE_MS. */
static int calls_until(mcf_client *c, int (*pred)(mcf_client *, uint64_t), uint64_t arg)
{
    double end = now_ms() + SETTLE_MS;
    while (now_ms() < end) {
        if (pred(c, arg))
            return 1;
        int rc = mcf_set(c, KS("pace"), "x", 1, 0, 0);
        CHECKF(rc == MCF_OK, "a call while polling: %s (%s)", mcf_strerror(rc),
               mcf_last_error(c));
        sleep_ms(2);
    }
    return pred(c, arg);
}

static int has_version(mcf_client *c, uint64_t v)
{
    mcf_discovery_info i;
    mcf_discovery_info_get(c, &i);
    return i.have_version && i.version == v;
}

static int polls_reach(mcf_client *c, uint64_t n)
{
    mcf_discovery_info i;
    mcf_discovery_info_get(c, &i);
    return i.polls >= n;
}

/* Which of srv[] server i of c is (-1: none). */
static int node_of(mcf_client *c, size_t i, const mcserver *srv)
{
    mcf_server_info si;
    if (mcf_server_info_get(c, i, &si) != MCF_OK)
        return -1;
    for (int k = 0; k < NNODES; k++)
        if (strcmp(si.spec, srv[k].spec) == 0)
            return k;
    return -1;
}

/* c's list is exactly srv[want[0..n)], in order. */
static int list_is(mcf_client *c, const mcserver *srv, const int *want, int n)
{
    if (mcf_server_count(c) != (size_t)n)
        return 0;
    for (int i = 0; i < n; i++)
        if (node_of(c, (size_t)i, srv) != want[i])
            return 0;
    return 1;
}

static mcf_client *disc_client(const endpoint *ep, int interval_ms)
{
    mcf_client *c = new_client();
    if (!c)
        return NULL;
    mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, TIMEOUT_MS);
    mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, TIMEOUT_MS);
    CHECK_RC(mcf_set_discovery(c, ep_name(ep), interval_ms), MCF_OK);
    return c;
}

/* Sets NKEYS keys through c and checks each is on the node c routes it to
 * and on no other, through a second client per node; returns how many
 * landed on each node in per_node[]. */
static void check_placement(mcf_client *c, const mcserver *srv, const char *prefix,
                            int per_node[NNODES])
{
    mcf_client *direct[NNODES];
    for (int k = 0; k < NNODES; k++) {
        per_node[k] = 0;
        direct[k] = mcf_new();
        CHECK(direct[k] && mcf_set_servers(direct[k], srv[k].spec) == MCF_OK);
    }
    for (int i = 0; i < NKEYS; i++) {
        char key[64], val[80];
        snprintf(key, sizeof key, "%s:%d", prefix, i);
        val_of(key, val, sizeof val);
        CHECK_RC(mcf_set(c, KS(key), val, strlen(val), 0, 0), MCF_OK);
        int home = node_of(c, server_of(c, key), srv);
        CHECKF(home >= 0, "key %s: on no known node", key);
        if (home < 0)
            continue;
        per_node[home]++;
        for (int k = 0; k < NNODES; k++) {
            mcf_value v;
            int rc = mcf_get(direct[k], KS(key), &v);
            if (k == home)
                CHECKF(rc == MCF_OK && v.len == strlen(val) && memcmp(v.data, val, v.len) == 0,
                       "key %s not on its node %d: %s", key, k, mcf_strerror(rc));
            else
                CHECKF(rc == MCF_MISS, "key %s also on node %d (rc %d)", key, k, rc);
        }
    }
    for (int k = 0; k < NNODES; k++)
        mcf_free(direct[k]);
}

/* Connections memcached has accepted in all (each raw stat adds its own). */
static long long accepted(const mcserver *s)
{
    return raw_stat(s, NULL, "total_connections");
}

#define SETUP_EP()                                                                  \
    mcserver srv[NNODES];                                                           \
    endpoint ep;                                                                    \
    if (start_n(srv, NNODES, NULL) < 0) {                                           \
        t_fail(__FILE__, __LINE__, "cannot start memcached");                       \
        return;                                                                     \
    }                                                                               \
    if (ep_start(&ep) < 0) {                                                        \
        t_fail(__FILE__, __LINE__, "cannot start the scripted endpoint");           \
        stop_n(srv, NNODES);                                                        \
        return;                                                                     \
    }
#define TEARDOWN_EP()                                                               \
    do {                                                                            \
        ep_stop(&ep);                                                               \
        stop_n(srv, NNODES);                                                        \
    } while (0)

/* ---- cases ---------------------------------------------------------------- */

/* The first call waits for the first poll (there is no list without it);
 * node 1 comes with an empty ip, so its host field is used. */
TEST(first_poll_installs)
{
    SETUP_EP();
    const int ab[] = {0, 1};
    ep_set(&ep, EP_OK, 7, srv, ab, 2, 1);
    mcf_client *c = disc_client(&ep, SETTLE_MS * 10);
    CHECK(mcf_server_count(c) == 0);
    CHECK_RC(mcf_set(c, KS("first"), "1", 1, 0, 0), MCF_OK);
    mcf_discovery_info i = info_of(c);
    CHECK(i.enabled && i.have_version && i.version == 7 && i.nodes == 2 && !i.pending);
    CHECK(i.polls == 1 && i.failures == 0 && i.last_rc == MCF_OK && i.last_error[0] == 0);
    CHECK(list_is(c, srv, ab, 2));
    int per[NNODES];
    check_placement(c, srv, "first", per);
    CHECK(per[0] > 0 && per[1] > 0 && per[2] == 0);
    mcf_free(c);
    TEARDOWN_EP();
}

TEST(discover_now_and_change)
{
    SETUP_EP();
    const int ab[] = {0, 1}, ac[] = {0, 2};
    ep_set(&ep, EP_OK, 1, srv, ab, 2, -1);
    mcf_client *c = disc_client(&ep, INTERVAL_MS);
    CHECK_RC(mcf_discover_now(c), MCF_OK);
    CHECK(list_is(c, srv, ab, 2));
    int per[NNODES];
    check_placement(c, srv, "before", per);
    CHECK(per[0] > 0 && per[1] > 0 && per[2] == 0);
    long long a0 = accepted(&srv[0]);
    long long calib = accepted(&srv[0]) - a0; /* the raw stat's own connection */

    /* Node 1 leaves, node 2 joins: installed after the next poll. */
    a0 = accepted(&srv[0]);
    ep_set(&ep, EP_OK, 2, srv, ac, 2, -1);
    CHECK(calls_until(c, has_version, 2));
    CHECK(list_is(c, srv, ac, 2));
    /* Node 0 stayed: it serves its keys on the connection it had (checked
     * before the placement check's own clients connect to it). */
    for (int k = 0; k < NKEYS; k++) {
        char key[32];
        snprintf(key, sizeof key, "stay:%d", k);
        CHECK_RC(mcf_set(c, KS(key), "1", 1, 0, 0), MCF_OK);
    }
    long long a1 = accepted(&srv[0]);
    CHECKF(a1 - a0 == calib, "node 0 accepted %lld connections over the change (want %lld)",
           a1 - a0, calib);
    mcf_server_info si;
    CHECK(mcf_server_info_get(c, 0, &si) == MCF_OK && si.connected);
    check_placement(c, srv, "after", per);
    CHECK(per[0] > 0 && per[2] > 0 && per[1] == 0);
    mcf_free(c);
    TEARDOWN_EP();
}

TEST(same_or_older_version_ignored)
{
    SETUP_EP();
    const int ab[] = {0, 1}, c2[] = {2}, bc[] = {1, 2};
    ep_set(&ep, EP_OK, 5, srv, ab, 2, -1);
    mcf_client *c = disc_client(&ep, INTERVAL_MS);
    CHECK_RC(mcf_discover_now(c), MCF_OK);
    CHECK(list_is(c, srv, ab, 2));
    /* The same version, another body. */
    ep_set(&ep, EP_OK, 5, srv, c2, 1, -1);
    uint64_t p = info_of(c).polls;
    CHECK(calls_until(c, polls_reach, p + 2));
    CHECK(list_is(c, srv, ab, 2));
    CHECK(info_of(c).version == 5 && !info_of(c).pending);
    /* An older one. */
    ep_set(&ep, EP_OK, 4, srv, c2, 1, -1);
    p = info_of(c).polls;
    CHECK(calls_until(c, polls_reach, p + 2));
    CHECK(list_is(c, srv, ab, 2));
    CHECK(info_of(c).version == 5 && info_of(c).last_rc == MCF_OK);
    /* A newer one still goes in (the polls above were answered). */
    ep_set(&ep, EP_OK, 6, srv, bc, 2, -1);
    CHECK(calls_until(c, has_version, 6));
    CHECK(list_is(c, srv, bc, 2));
    mcf_free(c);
    TEARDOWN_EP();
}

/* ---- async: the list changes under requests in flight ---- */

typedef struct async_run {
    mcf_client *c;
    const mcserver *srv;
    keyset ks;
    int calls[ASYNC_MAX];
    size_t submitted;
    size_t hits, misses, errors, wrong, untyped;
    int saw_pending_inflight; /* a new list waited while requests flew */
    int list_kept_while_pending;
    mcserver *held; /* SIGSTOPped until the new list is pending */
} async_run;

static async_run *AR;

static void got(mcf_client *c, mcf_request *req, int rc, const mcf_value *v, void *arg)
{
    (void)c;
    (void)req;
    size_t id = (size_t)(uintptr_t)arg;
    AR->calls[id]++;
    const char *key = AR->ks.k[id % ASYNC_KEYS];
    char want[80];
    val_of(key, want, sizeof want);
    if (rc == MCF_OK) {
        AR->hits++;
        if (!v || v->len != strlen(want) || memcmp(v->data, want, v->len) != 0)
            AR->wrong++;
    } else if (rc == MCF_MISS) {
        AR->misses++;
    } else {
        AR->errors++;
        if (rc < MCF_ERR_FIRST || rc > MCF_ERR_LAST)
            AR->untyped++;
    }
}

static void submit_wave(async_run *r)
{
    for (int k = 0; k < ASYNC_WAVE && r->submitted < ASYNC_MAX; k++) {
        size_t id = r->submitted;
        const char *key = r->ks.k[id % ASYNC_KEYS];
        if (!mcf_async_get(r->c, MCF_GET, 0, KS(key), got, (void *)(uintptr_t)id))
            break;
        r->submitted++;
    }
}

static void on_turn(void *arg)
{
    async_run *r = arg;
    const int ab[] = {0, 1};
    mcf_discovery_info i;
    mcf_discovery_info_get(r->c, &i);
    if (i.pending && mcf_async_inflight(r->c) > 0) {
        if (!r->saw_pending_inflight)
            r->list_kept_while_pending = list_is(r->c, r->srv, ab, 2) && i.version == 1;
        r->saw_pending_inflight = 1;
        if (r->held) { /* its requests now drain, and the list goes in */
            kill(r->held->pid, SIGCONT);
            r->held = NULL;
        }
    }
    /* Kept in flight until the new list is pending, then drained. */
    if (!r->saw_pending_inflight && mcf_async_inflight(r->c) < ASYNC_WAVE)
        submit_wave(r);
}

TEST(async_change_in_flight)
{
    SETUP_EP();
    const int ab[] = {0, 1}, ac[] = {0, 2};
    ep_set(&ep, EP_OK, 1, srv, ab, 2, -1);
    mcf_client *c = disc_client(&ep, INTERVAL_MS);
    async_run *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    if (!c || !r) {
        free(r);
        mcf_free(c);
        TEARDOWN_EP();
        return;
    }
    AR = r;
    r->c = c;
    r->srv = srv;
    CHECK_RC(mcf_discover_now(c), MCF_OK);
    ks_make(&r->ks, ASYNC_KEYS, "async");
    CHECK(set_keys(c, r->ks.k, ASYNC_KEYS, 0, 0) == 0);

    /* Node 1 (leaving) is stopped: its requests stay in flight whatever
     * the speed of the replies from node 0, so the poll's answer always
     * finds requests in flight (with both serving, a turn could drain
     * them all before the answer was read). */
    mcserver_kill(&srv[1], SIGSTOP);
    r->held = &srv[1];
    ep_set(&ep, EP_OK, 2, srv, ac, 2, -1);
    submit_wave(r);
    CHECK(drive_pollset(c, SETTLE_MS * 2, on_turn, r) == 0);
    if (r->held)
        kill(r->held->pid, SIGCONT);
    CHECKF(r->saw_pending_inflight, "the poll never ended while requests were in flight "
                                    "(%zu submitted, polls %llu, error '%s')", r->submitted,
           (unsigned long long)info_of(c).polls, info_of(c).last_error);
    CHECK(r->list_kept_while_pending);
    size_t once = 0;
    for (size_t id = 0; id < r->submitted; id++)
        once += r->calls[id] == 1;
    CHECKF(once == r->submitted, "%zu of %zu requests completed exactly once", once,
           r->submitted);
    CHECK(r->wrong == 0 && r->untyped == 0);
    CHECK(r->hits > 0);
    /* Drained: the new list is in. */
    mcf_discovery_info i = info_of(c);
    CHECK(!i.pending && i.version == 2);
    CHECK(list_is(c, srv, ac, 2));
    /* And used: an async set lands on node 2 for some key. */
    int per[NNODES];
    check_placement(c, srv, "drained", per);
    CHECK(per[0] > 0 && per[2] > 0 && per[1] == 0);
    ks_free(&r->ks);
    free(r);
    AR = NULL;
    mcf_free(c);
    TEARDOWN_EP();
}

/* Nothing in flight: the loop's timer and the poll's socket alone bring
 * the new list (no call of the caller's steps it). */
TEST(async_idle_loop_polls)
{
    SETUP_EP();
    const int ab[] = {0, 1}, bc[] = {1, 2};
    ep_set(&ep, EP_OK, 1, srv, ab, 2, -1);
    mcf_client *c = disc_client(&ep, INTERVAL_MS);
    CHECK_RC(mcf_discover_now(c), MCF_OK);
    ep_set(&ep, EP_OK, 2, srv, bc, 2, -1);
    struct pollfd fds[64];
    int timed = 1;
    for (double end = now_ms() + SETTLE_MS; now_ms() < end && !has_version(c, 2);) {
        int t = -1;
        size_t n = mcf_async_pollset(c, fds, 64, &t);
        CHECK(n <= 64);
        timed &= t >= 0; /* the next poll is always due at some time */
        poll(fds, (nfds_t)(n < 64 ? n : 64), t < 0 || t > EP_TURN_MS ? EP_TURN_MS : t);
        mcf_async_process(c, fds, n < 64 ? n : 64);
    }
    CHECK(timed);
    CHECK(has_version(c, 2));
    CHECK(list_is(c, srv, bc, 2));
    mcf_free(c);
    TEARDOWN_EP();
}

/* ---- a failing endpoint never fails a call ---- */

TEST(endpoint_failures_keep_list)
{
    SETUP_EP();
    const int ab[] = {0, 1}, ac[] = {0, 2};
    ep_set(&ep, EP_OK, 1, srv, ab, 2, -1);
    mcf_client *c = new_client();
    mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, TIMEOUT_MS);
    /* Long enough that a call waiting for the silent endpoint would still
     * be waiting when the calls below are done. */
    mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, SETTLE_MS * 2);
    CHECK_RC(mcf_set_discovery(c, ep_name(&ep), INTERVAL_MS), MCF_OK);
    CHECK_RC(mcf_discover_now(c), MCF_OK);
    CHECK(list_is(c, srv, ab, 2));

    /* Silent: the poll is asked and never answered; calls go on meanwhile
     * and all end before it does. */
    ep_set(&ep, EP_SILENT, 2, srv, ac, 2, -1);
    pthread_mutex_lock(&ep.mu);
    int asked0 = ep.asked;
    pthread_mutex_unlock(&ep.mu);
    uint64_t polls0 = info_of(c).polls;
    int asked = 0, calls = 0;
    for (double end = now_ms() + SETTLE_MS; now_ms() < end && !asked; calls++) {
        CHECK_RC(mcf_set(c, KS("silent"), "1", 1, 0, 0), MCF_OK);
        sleep_ms(2);
        pthread_mutex_lock(&ep.mu);
        asked = ep.asked > asked0;
        pthread_mutex_unlock(&ep.mu);
    }
    CHECK(asked);
    for (int k = 0; k < 50; k++) {
        char v[16];
        snprintf(v, sizeof v, "%d", k);
        CHECK_RC(mcf_set(c, KS("silent"), v, strlen(v), 0, 0), MCF_OK);
        CHECK(get_eq(c, "silent", v));
    }
    CHECKF(info_of(c).polls == polls0, "the silent poll ended (%s)", info_of(c).last_error);

    /* Down: the connection closes under the poll, then connects are
     * refused.  The list stays, calls work, the error is named. */
    ep_updown(&ep, 1);
    CHECK(calls_until(c, polls_reach, polls0 + 2));
    mcf_discovery_info i = info_of(c);
    CHECKF(i.last_rc != MCF_OK && contains(i.last_error, ep_name(&ep)),
           "last_rc %d, last_error '%s'", i.last_rc, i.last_error);
    CHECK(i.failures >= 2 && i.version == 1);
    CHECK(list_is(c, srv, ab, 2));
    CHECK(get_eq(c, "pace", "x"));

    /* Up, but talking garbage. */
    ep_set(&ep, EP_GARBAGE, 2, srv, ac, 2, -1);
    ep_updown(&ep, 0);
    uint64_t f = info_of(c).failures;
    CHECK(calls_until(c, polls_reach, info_of(c).polls + 2));
    i = info_of(c);
    CHECKF(i.last_rc == MCF_ERR_PROTOCOL && contains(i.last_error, "unexpected answer") &&
               i.failures > f,
           "last_rc %d, last_error '%s'", i.last_rc, i.last_error);
    CHECK(list_is(c, srv, ab, 2));

    /* A version with no node is refused the same way. */
    ep_set_raw(&ep, EP_OK, 3, "");
    CHECK(calls_until(c, polls_reach, info_of(c).polls + 2));
    i = info_of(c);
    CHECKF(contains(i.last_error, "no node"), "last_error '%s'", i.last_error);
    CHECK(list_is(c, srv, ab, 2));

    /* Healthy again: the newer list goes in and the error is gone. */
    ep_set(&ep, EP_OK, 4, srv, ac, 2, -1);
    CHECK(calls_until(c, has_version, 4));
    CHECK(list_is(c, srv, ac, 2));
    i = info_of(c);
    CHECK(i.last_rc == MCF_OK && i.last_error[0] == 0);
    mcf_free(c);
    TEARDOWN_EP();
}

TEST(discover_now_errors)
{
    SETUP_EP();
    mcf_client *c = new_client();
    mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, TIMEOUT_MS);
    CHECK_RC(mcf_discover_now(c), MCF_ERR_ARG); /* off */
    CHECK_RC(mcf_set_discovery(c, "not a spec", 0), MCF_ERR_BAD_SPEC);
    char spec[64];
    snprintf(spec, sizeof spec, "127.0.0.1:%d", mcserver_free_port("127.0.0.1"));
    CHECK_RC(mcf_set_discovery(c, spec, 0), MCF_OK);
    int rc = mcf_discover_now(c);
    CHECKF(rc == MCF_ERR_CONNECT && contains(mcf_last_error(c), spec), "%s: %s",
           mcf_strerror(rc), mcf_last_error(c));
    mcf_discovery_info i = info_of(c);
    CHECK(i.enabled && i.interval_ms == 60000 && !i.have_version && i.failures == 1);
    /* Not an endpoint at all: a memcached answers ERROR to config, END to
     * the legacy get. */
    CHECK_RC(mcf_set_discovery(c, srv[0].spec, 0), MCF_OK);
    rc = mcf_discover_now(c);
    CHECKF(rc == MCF_ERR_PROTOCOL && contains(mcf_last_error(c), "END"), "%s: %s",
           mcf_strerror(rc), mcf_last_error(c));
    CHECK(info_of(c).legacy);
    /* Off: the list stays, info says off. */
    CHECK_RC(mcf_set_discovery(c, NULL, 0), MCF_OK);
    CHECK(!info_of(c).enabled);
    mcf_free(c);
    TEARDOWN_EP();
}

TEST(legacy_endpoint)
{
    SETUP_EP();
    const int ab[] = {0, 1};
    ep_set(&ep, EP_LEGACY, 9, srv, ab, 2, -1);
    mcf_client *c = disc_client(&ep, INTERVAL_MS);
    CHECK_RC(mcf_discover_now(c), MCF_OK);
    mcf_discovery_info i = info_of(c);
    CHECK(i.legacy && i.version == 9 && i.nodes == 2);
    CHECK(list_is(c, srv, ab, 2));
    CHECK_RC(mcf_set(c, KS("legacy"), "1", 1, 0, 0), MCF_OK);
    CHECK(get_eq(c, "legacy", "1"));
    mcf_free(c);
    TEARDOWN_EP();
}

static int ep_accepted(endpoint *ep)
{
    pthread_mutex_lock(&ep->mu);
    int n = ep->accepted;
    pthread_mutex_unlock(&ep->mu);
    return n;
}

/* mcf_disconnect_all closes the endpoint's connection too; after fork()
 * the child polls on a connection of its own, never the parent's. */
TEST(disconnect_and_fork)
{
    SETUP_EP();
    const int ab[] = {0, 1};
    ep_set(&ep, EP_OK, 1, srv, ab, 2, -1);
    mcf_client *c = disc_client(&ep, INTERVAL_MS);
    CHECK_RC(mcf_discover_now(c), MCF_OK);
    int a0 = ep_accepted(&ep);
    CHECK_RC(mcf_discover_now(c), MCF_OK); /* the kept connection */
    CHECK(ep_accepted(&ep) == a0);
    mcf_disconnect_all(c);
    CHECK_RC(mcf_discover_now(c), MCF_OK);
    CHECK(ep_accepted(&ep) == a0 + 1);
    CHECK(info_of(c).failures == 0);

    int a1 = ep_accepted(&ep);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = mcf_discover_now(c) == MCF_OK && mcf_set(c, KS("forked"), "1", 1, 0, 0) == MCF_OK;
        _exit(ok ? 0 : 1);
    }
    int st = -1;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECKF(ep_accepted(&ep) == a1 + 1, "the child opened %d connections to the endpoint",
           ep_accepted(&ep) - a1);
    /* The parent's connection is still its own and in step. */
    CHECK_RC(mcf_discover_now(c), MCF_OK);
    CHECK(ep_accepted(&ep) == a1 + 1);
    mcf_free(c);
    TEARDOWN_EP();
}

/* The CLI's --discover: the endpoint's nodes are the list for one command. */
TEST(cli_discover)
{
    const char *b = getenv("MCF_BUILD");
    char bin[512];
    snprintf(bin, sizeof bin, "%s/mcfast", b && *b ? b : "build");
    SKIP_UNLESS(access(bin, X_OK) == 0, "the mcfast CLI is not built");
    SETUP_EP();
    const int only1[] = {1};
    ep_set(&ep, EP_OK, 3, srv, only1, 1, -1);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --discover %s set clikey clival 2>&1", bin, ep_name(&ep));
    CHECK(system(cmd) == 0);
    CHECK(raw_has(&srv[1], "clikey", "clival"));
    CHECK(!raw_has(&srv[0], "clikey", "clival") && !raw_has(&srv[2], "clikey", "clival"));
    /* A dead endpoint: an error naming it, a failing exit. */
    char dead[64];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", mcserver_free_port("127.0.0.1"));
    snprintf(cmd, sizeof cmd, "%s --discover %s get clikey 2>&1", bin, dead);
    FILE *f = popen(cmd, "r");
    char out[1024] = "";
    size_t n = f ? fread(out, 1, sizeof out - 1, f) : 0;
    out[n] = 0;
    int st = f ? pclose(f) : -1;
    CHECKF(st != 0 && contains(out, dead), "exit %d, output '%s'", st, out);
    TEARDOWN_EP();
}

int main(int argc, char **argv)
{
    if (!mcserver_binary())
        t_skip_all("memcached is not installed");
    return t_main(argc, argv);
}
