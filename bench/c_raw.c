/* c_raw.c - the floor: the same request bytes, prepared in advance, written
 * on blocking sockets (TCP_NODELAY) and the known number of reply bytes read
 * back without parsing anything (only the reply's last bytes are compared,
 * so a broken exchange cannot pass).  No client can do less work. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

/* --raw-mode, for analysis (not the floor):
 *   0 plain: blocking recv until the reply is complete (the floor)
 *   1 poll:  poll(POLLIN) before every recv, as an event-loop client does
 *   2 lowat: as poll, with SO_RCVLOWAT set to the whole reply first (one
 *            setsockopt per call), so poll wakes once per reply, not once
 *            per chunk the server writes */
int g_raw_mode;

typedef struct rstate {
    int fd[MAX_SRV];
    int nsrv;
    size_t nunits;         /* distinct requests per server, used in turn */
    char *req[MAX_SRV];    /* request bytes */
    size_t *off[MAX_SRV];  /* request u of server s: req[s] + off[s][u], off[s][u+1] - off[s][u] bytes */
    size_t *expect[MAX_SRV]; /* reply bytes of request u of server s (0: nothing sent) */
    const char *tail;      /* the reply ends with this */
    char *rbuf;
    size_t rcap;
} rstate;

static int connect_srv(const mcserver *m)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)m->port);
    inet_pton(AF_INET, m->host, &a.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Growing text buffer for building the requests of one server. */
typedef struct tbuf {
    char *p;
    size_t len, cap;
} tbuf;

static int tput(tbuf *b, const void *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

static size_t value_reply_len(size_t vlen)
{
    char line[64];
    int n = snprintf(line, sizeof line, "VALUE %s 0 %zu\r\n", "xxxxxxxxxxx", vlen);
    return (size_t)n + vlen + 2;
}

/* Bytes of the reply to one request of w carrying per_server_keys keys (the
 * multi-gets; 0 keys: no request, no reply). */
static size_t reply_len(const workload *w, size_t per_server_keys)
{
    switch (w->id) {
    case W_GET:
        return value_reply_len(VLEN) + 5;
    case W_GET64K:
        return value_reply_len(BIGLEN) + 5;
    case W_SET:
        return 8;
    case W_SETM:
        return 8 * BATCH;
    case W_MISSM:
        return 5;
    default: /* a multi-get of hits: per_server_keys values then END */
        return per_server_keys ? per_server_keys * value_reply_len(VLEN) + 5 : 0;
    }
}

static int build(rstate *st, const workload *w)
{
    tbuf b[MAX_SRV];
    size_t nkeys_of[MAX_SRV]; /* keys of the current unit per server */
    memset(b, 0, sizeof b);
    int err = 0, k = scale_index(w);
    switch (w->id) {
    case W_GET:
    case W_GET64K:
    case W_SET:
        st->nunits = w->id == W_GET64K ? NBIG : g_nkeys;
        break;
    case W_SCALE1:
    case W_SCALE8:
    case W_SCALE32:
        st->nunits = g_nscale_batches;
        break;
    case W_ASYNC:
    case W_ASYNC4:
        st->nunits = g_nkeys / ASYNC_WINDOW;
        break;
    default:
        st->nunits = g_nbatches;
        break;
    }
    for (int s = 0; s < st->nsrv; s++) {
        st->off[s] = malloc((st->nunits + 1) * sizeof(size_t));
        st->expect[s] = malloc(st->nunits * sizeof(size_t));
        if (!st->off[s] || !st->expect[s])
            return -1;
    }
    st->tail = w->id == W_SET || w->id == W_SETM ? "STORED\r\n" : "END\r\n";
    for (size_t u = 0; u < st->nunits && !err; u++) {
        for (int s = 0; s < st->nsrv; s++) {
            st->off[s][u] = b[s].len;
            nkeys_of[s] = 0;
        }
        char hdr[64];
        switch (w->id) {
        case W_GET:
            err |= tput(&b[0], "get ", 4) | tput(&b[0], g_kget[u], KLEN) | tput(&b[0], "\r\n", 2);
            break;
        case W_GET64K:
            err |= tput(&b[0], "get ", 4) | tput(&b[0], g_kbig[u], KLEN) | tput(&b[0], "\r\n", 2);
            break;
        case W_SET:
            snprintf(hdr, sizeof hdr, "set %s 0 0 %d\r\n", g_kset[u], VLEN);
            err |= tput(&b[0], hdr, strlen(hdr)) | tput(&b[0], g_vset + u * VLEN, VLEN) |
                   tput(&b[0], "\r\n", 2);
            break;
        case W_SETM:
            for (size_t j = u * BATCH; j < (u + 1) * BATCH; j++) {
                snprintf(hdr, sizeof hdr, "set %s 0 0 %d\r\n", g_kset[j], VLEN);
                err |= tput(&b[0], hdr, strlen(hdr)) | tput(&b[0], g_vset + j * VLEN, VLEN) |
                       tput(&b[0], "\r\n", 2);
            }
            break;
        case W_GETM:
        case W_GETM4:
        case W_GETM_META:
        case W_MISSM:
        case W_ASYNC:   /* the floor of independent gets: one multi-get of */
        case W_ASYNC4: { /* the window's keys at a time, nothing to parse */
            const char **keys = w->id == W_MISSM ? g_kmiss : g_kget;
            size_t per_call = w->keys_per_call;
            for (int s = 0; s < st->nsrv; s++)
                err |= tput(&b[s], "get", 3);
            /* Four servers: every server holds every key, so the keys are
             * dealt round-robin (a quarter each), as a hash would spread them. */
            for (size_t j = 0; j < per_call; j++) {
                int s = (int)(j % (size_t)st->nsrv);
                err |= tput(&b[s], " ", 1) | tput(&b[s], keys[u * per_call + j], KLEN);
                nkeys_of[s]++;
            }
            for (int s = 0; s < st->nsrv; s++)
                err |= tput(&b[s], "\r\n", 2);
            break;
        }
        case W_SCALE1:
        case W_SCALE8:
        case W_SCALE32:
            /* Each key to the one server that holds it (the placement the
             * two clients must also arrive at); a server with no key in
             * this batch gets no request. */
            for (size_t j = u * SCALE_BATCH; j < (u + 1) * SCALE_BATCH; j++) {
                int s = g_owner[k][j];
                if (!nkeys_of[s]++)
                    err |= tput(&b[s], "get", 3);
                err |= tput(&b[s], " ", 1) | tput(&b[s], g_kscale[k][j], KLEN);
            }
            for (int s = 0; s < st->nsrv; s++)
                if (nkeys_of[s])
                    err |= tput(&b[s], "\r\n", 2);
            break;
        default:
            err = -1;
        }
        for (int s = 0; s < st->nsrv; s++) {
            size_t e = reply_len(w, nkeys_of[s]);
            st->expect[s][u] = e;
            if (e > st->rcap)
                st->rcap = e;
        }
    }
    for (int s = 0; s < st->nsrv; s++) {
        st->off[s][st->nunits] = b[s].len;
        st->req[s] = b[s].p;
    }
    st->rbuf = malloc(st->rcap);
    return err || !st->rbuf ? -1 : 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int run(runner *r, uint64_t calls)
{
    rstate *st = r->state;
    size_t tl = strlen(st->tail);
    for (uint64_t n = 0; n < calls; n++) {
        size_t u = (size_t)(r->cursor++ % st->nunits);
        for (int s = 0; s < st->nsrv; s++)
            if (st->off[s][u + 1] > st->off[s][u] &&
                send_all(st->fd[s], st->req[s] + st->off[s][u], st->off[s][u + 1] - st->off[s][u]) <
                    0) {
                snprintf(r->err, sizeof r->err, "raw: send: %s", strerror(errno));
                return -1;
            }
        for (int s = 0; s < st->nsrv; s++) {
            size_t want = st->expect[s][u], got = 0;
            if (!want)
                continue;
            if (g_raw_mode == 2) {
                int lw = (int)want;
                setsockopt(st->fd[s], SOL_SOCKET, SO_RCVLOWAT, &lw, sizeof lw);
            }
            while (got < want) {
                if (g_raw_mode) {
                    struct pollfd p = {st->fd[s], POLLIN, 0};
                    if (poll(&p, 1, 5000) != 1) {
                        snprintf(r->err, sizeof r->err, "raw: poll: timeout or error");
                        return -1;
                    }
                }
                ssize_t g = recv(st->fd[s], st->rbuf + got, want - got, 0);
                if (g <= 0) {
                    if (g < 0 && errno == EINTR)
                        continue;
                    snprintf(r->err, sizeof r->err, "raw: recv: %s",
                             g ? strerror(errno) : "closed");
                    return -1;
                }
                got += (size_t)g;
            }
            if (memcmp(st->rbuf + want - tl, st->tail, tl) != 0) {
                snprintf(r->err, sizeof r->err, "raw: reply of %zu bytes does not end as expected",
                         want);
                return -1;
            }
        }
    }
    return 0;
}

static void destroy(runner *r)
{
    rstate *st = r->state;
    if (!st)
        return;
    for (int s = 0; s < st->nsrv; s++) {
        if (st->fd[s] >= 0)
            close(st->fd[s]);
        free(st->req[s]);
        free(st->off[s]);
        free(st->expect[s]);
    }
    free(st->rbuf);
    free(st);
}

runner *raw_runner(const workload *w)
{
    runner *r = calloc(1, sizeof *r);
    rstate *st = calloc(1, sizeof *st);
    if (!r || !st) {
        free(r);
        free(st);
        return NULL;
    }
    r->client = "raw";
    r->w = w;
    r->state = st;
    r->destroy = destroy;
    r->run = run;
    if (is_async(w) && g_nkeys < ASYNC_WINDOW) {
        fprintf(stderr, "bench: raw: %s needs --keys >= %d\n", w->name, ASYNC_WINDOW);
        runner_free(r);
        return NULL;
    }
    st->nsrv = w->nsrv;
    for (int s = 0; s < MAX_SRV; s++)
        st->fd[s] = -1;
    for (int s = 0; s < st->nsrv; s++)
        if ((st->fd[s] = connect_srv(&g_srv[s])) < 0) {
            fprintf(stderr, "bench: raw: cannot connect to %s\n", g_srv[s].spec);
            runner_free(r);
            return NULL;
        }
    if (build(st, w) != 0) {
        fprintf(stderr, "bench: raw: out of memory\n");
        runner_free(r);
        return NULL;
    }
    static const char *const modes[] = {"raw", "raw+poll", "raw+poll+rcvlowat"};
    snprintf(r->label, sizeof r->label, "%s", modes[g_raw_mode]);
    char window[80] = "";
    if (is_async(w))
        snprintf(window, sizeof window, "; one get of %d keys per call%s", ASYNC_WINDOW,
                 w->nsrv > 1 ? ", dealt round-robin over the servers" : "");
    snprintf(r->config, sizeof r->config,
             "%sblocking sockets, TCP_NODELAY, requests prebuilt, reads the known reply size, "
             "parses nothing%s%s",
             g_raw_mode == 1   ? "[--raw-mode poll: poll before every recv] "
             : g_raw_mode == 2 ? "[--raw-mode lowat: SO_RCVLOWAT=reply size, poll, recv] "
                               : "",
             w->nsrv > 1 ? "; writes to all servers, then reads each" : "", window);
    return r;
}
