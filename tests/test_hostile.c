/* test_hostile.c - the client against a deliberately misbehaving server.
 *
 * A scriptable memcached look-alike runs in threads of this process on
 * 127.0.0.1 (one thread per connection).  Each accepted connection takes
 * the next queued behaviour (hs_next) or, when none is queued, behaves
 * correctly; so after a scripted misbehaviour the NEXT connection is a good
 * server, and every case checks that:
 *   - the call returns a clear error (the expected codes) within the I/O
 *     deadline (MCF_OPT_IO_TIMEOUT_MS = 300) plus slack;
 *   - the connection was closed, and the next call reconnects and works;
 *   - no value is ever handed out for the wrong key (every delivered value
 *     is compared with what the server sent for THAT key);
 *   - the client's buffers stay bounded (looked at through internal.h).
 * The caller-input cases check that bad keys, values and NULL pointers give
 * the documented errors and that the server receives exactly the good
 * requests: the server records every byte it reads.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fixtures.h"
#include "harness.h"
#include "internal.h" /* buffer sizes of the client, for the boundedness checks */
#include "mcfast.h"

#define IO_TIMEOUT_MS 300
/* Sanitizers and loaded CI machines: a deadline is met if the error comes
 * within this much after it. */
#define SLACK_MS 700

/* ------------------------------------------------------------------ */
/* The hostile server                                                  */
/* ------------------------------------------------------------------ */

typedef enum behaviour {
    B_OK = 0,
    B_CLOSE_MID,     /* get: half a value, then close */
    B_SHORT,         /* get: data shorter than the announced length, then silence */
    B_LONG,          /* get: data longer than the announced length */
    B_HUGE,          /* get: "VALUE k 0 4294967296" and 64 KiB of data */
    B_HUGE_U64,      /* get: a length of 2^64-1 */
    B_OVERFLOW,      /* get: a length past 2^64 */
    B_GARBAGE,       /* any request: binary garbage */
    B_NOCRLF,        /* any request: 4 MiB without a line end */
    B_REORDER,       /* get: the values in reverse request order, then END */
    B_UNASKED,       /* get: a value for a key nobody asked for, first */
    B_UNASKED_MID,   /* get: the first value, an intruder, the rest */
    B_SLOW,          /* everything, one byte at a time, 0.5 ms apart */
    B_SILENT,        /* reads requests, never answers */
    B_NOREAD,        /* accepts, never reads */
    B_LATE,          /* answers correctly, then 30 ms later an unsolicited reply */
    B_IDLE_CLOSE,    /* answers the first request correctly, then closes */
    B_SERVER_ERROR,  /* any request: SERVER_ERROR */
    B_ERROR,         /* any request: ERROR */
    B_STORE_VALUE,   /* storage request: answered with a VALUE block */
    B_NUL_IN_LINE,   /* get: a VALUE line with a NUL inside the key */
} behaviour;

#define MAX_ITEMS 128
typedef struct hs_item {
    char key[256];
    char *val;
    size_t len;
    uint32_t flags;
    uint64_t cas;
} hs_item;

typedef struct hserver {
    int lfd, port;
    pthread_t acceptor;
    atomic_int stop;
    atomic_int handlers; /* running connection threads */
    atomic_int accepted;
    pthread_mutex_t mu;
    behaviour queue[32];
    int qlen;
    /* every byte received while recording */
    int recording;
    char *rec;
    size_t rec_len, rec_cap;
    hs_item items[MAX_ITEMS];
    int nitems;
    uint64_t next_cas;
    atomic_size_t nocrlf_sent;
} hserver;

typedef struct hconn {
    hserver *h;
    int fd;
    behaviour b;
    char buf[1 << 16];
    size_t len, pos;
    int requests; /* requests answered on this connection */
} hconn;

static void hs_record(hserver *h, const char *p, size_t n)
{
    pthread_mutex_lock(&h->mu);
    if (h->recording) {
        if (h->rec_len + n > h->rec_cap) {
            size_t cap = h->rec_cap ? h->rec_cap : 4096;
            while (cap < h->rec_len + n)
                cap *= 2;
            char *r = realloc(h->rec, cap);
            if (r) {
                h->rec = r;
                h->rec_cap = cap;
            }
        }
        if (h->rec_len + n <= h->rec_cap) {
            memcpy(h->rec + h->rec_len, p, n);
            h->rec_len += n;
        }
    }
    pthread_mutex_unlock(&h->mu);
}

/* Waits for input (in 50 ms slices, watching stop); reads some.
 * Returns > 0 bytes, 0 on EOF/error/stop. */
static ssize_t hc_fill(hconn *cn)
{
    if (cn->pos > 0) {
        memmove(cn->buf, cn->buf + cn->pos, cn->len - cn->pos);
        cn->len -= cn->pos;
        cn->pos = 0;
    }
    if (cn->len == sizeof cn->buf)
        return 0; /* a request line this long: give up on the connection */
    while (!atomic_load(&cn->h->stop)) {
        struct pollfd p = {cn->fd, POLLIN, 0};
        int r = poll(&p, 1, 50);
        if (r < 0 && errno != EINTR)
            return 0;
        if (r <= 0)
            continue;
        ssize_t n = recv(cn->fd, cn->buf + cn->len, sizeof cn->buf - cn->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        hs_record(cn->h, cn->buf + cn->len, (size_t)n);
        cn->len += (size_t)n;
        return n;
    }
    return 0;
}

/* One request line without CRLF into line (NUL-terminated); -1 on EOF. */
static int hc_line(hconn *cn, char *line, size_t cap)
{
    for (;;) {
        char *nl = memchr(cn->buf + cn->pos, '\n', cn->len - cn->pos);
        if (nl) {
            size_t n = (size_t)(nl - (cn->buf + cn->pos));
            size_t ll = n && nl[-1] == '\r' ? n - 1 : n;
            if (ll >= cap)
                ll = cap - 1;
            memcpy(line, cn->buf + cn->pos, ll);
            line[ll] = 0;
            cn->pos += n + 1;
            return 0;
        }
        if (hc_fill(cn) <= 0)
            return -1;
    }
}

/* Exactly n bytes of request data into out (NULL: discard). */
static int hc_bytes(hconn *cn, char *out, size_t n)
{
    while (n) {
        if (cn->pos == cn->len && hc_fill(cn) <= 0)
            return -1;
        size_t k = cn->len - cn->pos < n ? cn->len - cn->pos : n;
        if (out) {
            memcpy(out, cn->buf + cn->pos, k);
            out += k;
        }
        cn->pos += k;
        n -= k;
    }
    return 0;
}

static int hc_write_raw(hconn *cn, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(cn->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int hc_write(hconn *cn, const char *p, size_t n)
{
    if (cn->b != B_SLOW)
        return hc_write_raw(cn, p, n);
    for (size_t i = 0; i < n; i++) {
        if (hc_write_raw(cn, p + i, 1) < 0)
            return -1;
        usleep(500);
    }
    return 0;
}

static int hc_puts(hconn *cn, const char *s) { return hc_write(cn, s, strlen(s)); }

/* Reads and discards until the peer closes (or stop). */
static void hc_drain(hconn *cn)
{
    cn->pos = cn->len = 0;
    while (hc_fill(cn) > 0)
        cn->pos = cn->len;
}

/* Waits, never reading, until the peer closes (or stop). */
static void hc_wait_close(hconn *cn)
{
    while (!atomic_load(&cn->h->stop)) {
        struct pollfd p = {cn->fd, POLLRDHUP, 0};
        int r = poll(&p, 1, 50);
        if (r > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
            return;
    }
}

static hs_item *hs_find(hserver *h, const char *key)
{
    for (int i = 0; i < h->nitems; i++)
        if (strcmp(h->items[i].key, key) == 0)
            return &h->items[i];
    return NULL;
}

/* Stores a value (test side or connection thread). */
static void hs_put(hserver *h, const char *key, const void *val, size_t len, uint32_t flags)
{
    pthread_mutex_lock(&h->mu);
    hs_item *it = hs_find(h, key);
    if (!it && h->nitems < MAX_ITEMS) {
        it = &h->items[h->nitems++];
        snprintf(it->key, sizeof it->key, "%s", key);
        it->val = NULL;
    }
    if (it) {
        free(it->val);
        it->val = malloc(len ? len : 1);
        if (len)
            memcpy(it->val, val, len);
        it->len = len;
        it->flags = flags;
        it->cas = ++h->next_cas;
    }
    pthread_mutex_unlock(&h->mu);
}

/* Appends "VALUE key flags len [cas]\r\ndata\r\n" for a stored key to out. */
static size_t hs_value_block(hserver *h, const char *key, int with_cas, char **out, size_t *cap,
                             size_t used)
{
    pthread_mutex_lock(&h->mu);
    hs_item *it = hs_find(h, key);
    if (!it) {
        pthread_mutex_unlock(&h->mu);
        return used;
    }
    size_t need = used + strlen(key) + it->len + 96;
    if (need > *cap) {
        *cap = need * 2;
        *out = realloc(*out, *cap);
    }
    int n = with_cas ? sprintf(*out + used, "VALUE %s %u %zu %llu\r\n", key, it->flags, it->len,
                               (unsigned long long)it->cas)
                     : sprintf(*out + used, "VALUE %s %u %zu\r\n", key, it->flags, it->len);
    used += (size_t)n;
    memcpy(*out + used, it->val, it->len);
    used += it->len;
    memcpy(*out + used, "\r\n", 2);
    used += 2;
    pthread_mutex_unlock(&h->mu);
    return used;
}

static int split(char *line, char **tok, int max)
{
    int n = 0;
    for (char *p = strtok(line, " "); p && n < max; p = strtok(NULL, " "))
        tok[n++] = p;
    return n;
}

/* A get-family request; applies get misbehaviours. Returns -1 to end the
 * connection. */
static int hc_get(hconn *cn, char **tok, int nt)
{
    hserver *h = cn->h;
    int with_cas = strcmp(tok[0], "gets") == 0 || strcmp(tok[0], "gats") == 0;
    int first = strcmp(tok[0], "gat") == 0 || strcmp(tok[0], "gats") == 0 ? 2 : 1;
    const char *k0 = nt > first ? tok[first] : "none";
    char tmp[512];
    switch (cn->requests == 0 ? cn->b : B_OK) {
    case B_CLOSE_MID:
        snprintf(tmp, sizeof tmp, "VALUE %s 0 20\r\n0123456789", k0);
        hc_puts(cn, tmp);
        return -1;
    case B_SHORT:
        snprintf(tmp, sizeof tmp, "VALUE %s 0 20\r\nshort\r\nEND\r\n", k0);
        hc_puts(cn, tmp);
        hc_drain(cn);
        return -1;
    case B_LONG:
        snprintf(tmp, sizeof tmp, "VALUE %s 0 3\r\nabcdefgh\r\nEND\r\n", k0);
        hc_puts(cn, tmp);
        hc_drain(cn);
        return -1;
    case B_HUGE:
    case B_HUGE_U64:
    case B_OVERFLOW: {
        snprintf(tmp, sizeof tmp, "VALUE %s 0 %s\r\n", k0,
                 cn->b == B_HUGE       ? "4294967296"
                 : cn->b == B_HUGE_U64 ? "18446744073709551615"
                                       : "18446744073709551616");
        hc_puts(cn, tmp);
        static char junk[65536];
        memset(junk, 'x', sizeof junk);
        hc_write(cn, junk, sizeof junk);
        hc_drain(cn);
        return -1;
    }
    case B_REORDER: {
        char *out = NULL;
        size_t cap = 0, used = 0;
        for (int i = nt - 1; i >= first; i--)
            used = hs_value_block(h, tok[i], with_cas, &out, &cap, used);
        hc_write(cn, out, used);
        hc_puts(cn, "END\r\n");
        free(out);
        cn->requests++;
        return 0;
    }
    case B_UNASKED:
    case B_UNASKED_MID: {
        char *out = NULL;
        size_t cap = 0, used = 0;
        for (int i = first; i < nt; i++) {
            if (cn->b == B_UNASKED_MID || i > first)
                used = hs_value_block(h, tok[i], with_cas, &out, &cap, used);
            if (i == first) {
                const char *intr = "VALUE intruder 0 6\r\nhacked\r\n";
                if (used + strlen(intr) + 1 > cap) {
                    cap = used + strlen(intr) + 64;
                    out = realloc(out, cap);
                }
                memcpy(out + used, intr, strlen(intr));
                used += strlen(intr);
                if (cn->b == B_UNASKED)
                    used = hs_value_block(h, tok[i], with_cas, &out, &cap, used);
            }
        }
        hc_write(cn, out, used);
        hc_puts(cn, "END\r\n");
        free(out);
        hc_drain(cn);
        return -1;
    }
    case B_NUL_IN_LINE: {
        static const char r[] = "VALUE a\0b 0 1\r\nx\r\nEND\r\n";
        hc_write(cn, r, sizeof r - 1);
        hc_drain(cn);
        return -1;
    }
    default:
        break;
    }
    char *out = NULL;
    size_t cap = 0, used = 0;
    for (int i = first; i < nt; i++)
        used = hs_value_block(h, tok[i], with_cas, &out, &cap, used);
    int r = hc_write(cn, out ? out : "", used);
    free(out);
    if (r < 0 || hc_puts(cn, "END\r\n") < 0)
        return -1;
    cn->requests++;
    if (cn->b == B_LATE && cn->requests == 1) {
        usleep(30 * 1000);
        snprintf(tmp, sizeof tmp, "VALUE %s 0 5\r\nSTALE\r\nEND\r\n", k0);
        hc_puts(cn, tmp);
    }
    return 0;
}

static void *hc_main(void *arg)
{
    hconn *cn = arg;
    hserver *h = cn->h;
    char line[8192];
    char *tok[300];

    switch (cn->b) {
    case B_NOREAD:
        hc_wait_close(cn);
        goto out;
    default:
        break;
    }
    while (!atomic_load(&h->stop)) {
        if (hc_line(cn, line, sizeof line) < 0)
            break;
        int nt = split(line, tok, 300);
        if (nt == 0) {
            hc_puts(cn, "ERROR\r\n");
            continue;
        }
        behaviour now = cn->requests == 0 ? cn->b : B_OK;
        int is_store = !strcmp(tok[0], "set") || !strcmp(tok[0], "add") ||
                       !strcmp(tok[0], "replace") || !strcmp(tok[0], "append") ||
                       !strcmp(tok[0], "prepend") || !strcmp(tok[0], "cas");
        /* Misbehaviours for any request. */
        if (now == B_SILENT) {
            hc_drain(cn);
            break;
        }
        if (now == B_GARBAGE) {
            static const char g[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage \x00\xff\r\n"
                                    "HTTP/1.1 400 Bad Request\r\n\r\n";
            hc_write(cn, g, sizeof g - 1);
            hc_drain(cn);
            break;
        }
        if (now == B_NOCRLF) {
            static char as[65536];
            memset(as, 'A', sizeof as);
            struct timeval tv = {1, 0};
            setsockopt(cn->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            for (int i = 0; i < 64; i++) {
                if (hc_write_raw(cn, as, sizeof as) < 0)
                    break;
                atomic_fetch_add(&h->nocrlf_sent, sizeof as);
            }
            break;
        }
        if (now == B_SERVER_ERROR || now == B_ERROR) {
            if (is_store && nt >= 5)
                hc_bytes(cn, NULL, strtoull(tok[4], NULL, 10) + 2);
            hc_puts(cn, now == B_ERROR ? "ERROR\r\n" : "SERVER_ERROR out of memory storing object\r\n");
            cn->requests++;
            continue;
        }
        if (!strcmp(tok[0], "get") || !strcmp(tok[0], "gets") || !strcmp(tok[0], "gat") ||
            !strcmp(tok[0], "gats")) {
            if (hc_get(cn, tok, nt) < 0)
                break;
        } else if (is_store) {
            if (nt < 5) {
                hc_puts(cn, "ERROR\r\n");
                continue;
            }
            size_t n = strtoull(tok[4], NULL, 10);
            int noreply = !strcmp(tok[nt - 1], "noreply");
            char *data = malloc(n + 2);
            if (!data || hc_bytes(cn, data, n + 2) < 0) {
                free(data);
                break;
            }
            if (now == B_STORE_VALUE) {
                hc_puts(cn, "VALUE x 0 1\r\ny\r\nEND\r\n");
                free(data);
                hc_drain(cn);
                break;
            }
            int exists;
            pthread_mutex_lock(&h->mu);
            exists = hs_find(h, tok[1]) != NULL;
            pthread_mutex_unlock(&h->mu);
            const char *rep = "STORED\r\n";
            if (!strcmp(tok[0], "add") && exists)
                rep = "NOT_STORED\r\n";
            else if (!strcmp(tok[0], "replace") && !exists)
                rep = "NOT_STORED\r\n";
            else
                hs_put(h, tok[1], data, n, (uint32_t)strtoul(tok[2], NULL, 10));
            free(data);
            if (!noreply && hc_puts(cn, rep) < 0)
                break;
            cn->requests++;
        } else if (!strcmp(tok[0], "incr") || !strcmp(tok[0], "decr")) {
            char rep[64];
            pthread_mutex_lock(&h->mu);
            hs_item *it = nt >= 3 ? hs_find(h, tok[1]) : NULL;
            if (it) {
                char num[32];
                size_t l = it->len < 31 ? it->len : 31;
                memcpy(num, it->val, l);
                num[l] = 0;
                unsigned long long v = strtoull(num, NULL, 10), d = strtoull(tok[2], NULL, 10);
                v = tok[0][0] == 'i' ? v + d : (d > v ? 0 : v - d);
                int k = snprintf(num, sizeof num, "%llu", v);
                free(it->val);
                it->val = malloc((size_t)k);
                memcpy(it->val, num, (size_t)k);
                it->len = (size_t)k;
                snprintf(rep, sizeof rep, "%llu\r\n", v);
            } else {
                snprintf(rep, sizeof rep, "NOT_FOUND\r\n");
            }
            pthread_mutex_unlock(&h->mu);
            if (hc_puts(cn, rep) < 0)
                break;
            cn->requests++;
            if (cn->b == B_LATE && cn->requests == 1) {
                usleep(30 * 1000);
                hc_puts(cn, "999\r\n");
            }
        } else if (!strcmp(tok[0], "delete")) {
            pthread_mutex_lock(&h->mu);
            hs_item *it = nt >= 2 ? hs_find(h, tok[1]) : NULL;
            if (it) {
                free(it->val);
                *it = h->items[--h->nitems];
            }
            pthread_mutex_unlock(&h->mu);
            if (hc_puts(cn, it ? "DELETED\r\n" : "NOT_FOUND\r\n") < 0)
                break;
            cn->requests++;
        } else if (!strcmp(tok[0], "touch")) {
            pthread_mutex_lock(&h->mu);
            int found = nt >= 2 && hs_find(h, tok[1]);
            pthread_mutex_unlock(&h->mu);
            hc_puts(cn, found ? "TOUCHED\r\n" : "NOT_FOUND\r\n");
            cn->requests++;
        } else if (!strcmp(tok[0], "version")) {
            hc_puts(cn, "VERSION 1.6.99-hostile\r\n");
            cn->requests++;
        } else if (!strcmp(tok[0], "stats")) {
            hc_puts(cn, "STAT pid 1\r\nSTAT version 1.6.99-hostile\r\nEND\r\n");
            cn->requests++;
        } else if (!strcmp(tok[0], "flush_all")) {
            hc_puts(cn, "OK\r\n");
            cn->requests++;
        } else {
            hc_puts(cn, "ERROR\r\n");
        }
        if (cn->b == B_IDLE_CLOSE && cn->requests >= 1)
            break;
    }
out:
    close(cn->fd);
    free(cn);
    atomic_fetch_sub(&h->handlers, 1);
    return NULL;
}

static void *hs_accept_main(void *arg)
{
    hserver *h = arg;
    while (!atomic_load(&h->stop)) {
        struct pollfd p = {h->lfd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(h->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        hconn *cn = calloc(1, sizeof *cn);
        if (!cn) {
            close(fd);
            continue;
        }
        cn->h = h;
        cn->fd = fd;
        pthread_mutex_lock(&h->mu);
        cn->b = B_OK;
        if (h->qlen > 0) {
            cn->b = h->queue[0];
            memmove(h->queue, h->queue + 1, (size_t)(h->qlen - 1) * sizeof h->queue[0]);
            h->qlen--;
        }
        pthread_mutex_unlock(&h->mu);
        atomic_fetch_add(&h->accepted, 1);
        atomic_fetch_add(&h->handlers, 1);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, hc_main, cn) != 0) {
            atomic_fetch_sub(&h->handlers, 1);
            close(fd);
            free(cn);
        }
        pthread_attr_destroy(&at);
    }
    return NULL;
}

/* Starts a server on 127.0.0.1:port (0: any free port). */
static int hs_start(hserver *h, int port)
{
    memset(h, 0, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    h->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (h->lfd < 0)
        return -1;
    int one = 1;
    setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(h->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(h->lfd, 64) < 0 ||
        getsockname(h->lfd, (struct sockaddr *)&a, &al) < 0) {
        close(h->lfd);
        return -1;
    }
    h->port = ntohs(a.sin_port);
    if (pthread_create(&h->acceptor, NULL, hs_accept_main, h) != 0) {
        close(h->lfd);
        return -1;
    }
    return 0;
}

static void hs_stop(hserver *h)
{
    atomic_store(&h->stop, 1);
    pthread_join(h->acceptor, NULL);
    close(h->lfd);
    for (int i = 0; i < 200 && atomic_load(&h->handlers) > 0; i++)
        usleep(10 * 1000);
    for (int i = 0; i < h->nitems; i++)
        free(h->items[i].val);
    free(h->rec);
    pthread_mutex_destroy(&h->mu);
}

static void hs_next(hserver *h, behaviour b)
{
    pthread_mutex_lock(&h->mu);
    h->queue[h->qlen++] = b;
    pthread_mutex_unlock(&h->mu);
}

static void hs_record_start(hserver *h)
{
    pthread_mutex_lock(&h->mu);
    h->recording = 1;
    h->rec_len = 0;
    pthread_mutex_unlock(&h->mu);
}

/* A copy of what was recorded (NUL-terminated), recording stops. */
static char *hs_record_take(hserver *h, size_t *len)
{
    pthread_mutex_lock(&h->mu);
    h->recording = 0;
    char *r = malloc(h->rec_len + 1);
    memcpy(r, h->rec ? h->rec : "", h->rec_len);
    r[h->rec_len] = 0;
    *len = h->rec_len;
    pthread_mutex_unlock(&h->mu);
    return r;
}

/* ------------------------------------------------------------------ */
/* Test helpers                                                        */
/* ------------------------------------------------------------------ */

static hserver S;
static mcf_client *C;

static mcf_client *hostile_client(int port)
{
    mcf_client *c = mcf_new();
    char spec[64];
    snprintf(spec, sizeof spec, "127.0.0.1:%d", port);
    if (!c || mcf_set_servers(c, spec) != MCF_OK)
        return c;
    mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, IO_TIMEOUT_MS);
    mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, IO_TIMEOUT_MS);
    /* Each case meets the misbehaviour several times and recovers on the
     * very next call: no server is marked down here (test_heal.c is about
     * that). */
    mcf_set_option(c, MCF_OPT_FAILURE_LIMIT, 0);
    return c;
}

static int is_connected(mcf_client *c)
{
    mcf_server_info info;
    if (mcf_server_info_get(c, 0, &info) != MCF_OK)
        return -1;
    return info.connected;
}

/* The value the server holds for key (what it sends for THAT key). */
static int server_value(const char *key, char *out, size_t cap, size_t *len)
{
    int found = 0;
    pthread_mutex_lock(&S.mu);
    hs_item *it = hs_find(&S, key);
    if (it && it->len <= cap) {
        memcpy(out, it->val, it->len);
        *len = it->len;
        found = 1;
    }
    pthread_mutex_unlock(&S.mu);
    return found;
}

static void seed(const char *key)
{
    char v[300];
    snprintf(v, sizeof v, "value-of-%s", key);
    hs_put(&S, key, v, strlen(v), 0);
}

/* A get that must succeed with the server's value for key. */
#define CHECK_GOOD_GET(c, key)                                                             \
    do {                                                                                   \
        mcf_value v_;                                                                      \
        char want_[512];                                                                   \
        size_t wl_ = 0;                                                                    \
        int have_ = server_value(key, want_, sizeof want_, &wl_);                         \
        int rc_ = mcf_get(c, key, strlen(key), &v_);                                       \
        CHECKF(rc_ == (have_ ? MCF_OK : MCF_MISS), "get %s after recovery: %d (%s): %s", \
               key, rc_, mcf_strerror(rc_), mcf_last_error(c));                            \
        if (rc_ == MCF_OK)                                                                 \
            CHECKF(v_.len == wl_ && memcmp(v_.data, want_, wl_) == 0,                      \
                   "get %s returned '%.*s', server holds '%.*s'", key, (int)v_.len,        \
                   v_.data, (int)wl_, want_);                                              \
    } while (0)

/* After a misbehaving connection: it was closed, and the next call opens a
 * new connection to the (now correct) server and works. */
static void check_recovery(mcf_client *c, const char *what)
{
    CHECKF(is_connected(c) == 0, "%s: the connection is still open after the error", what);
    int before = atomic_load(&S.accepted);
    CHECK_GOOD_GET(c, "a");
    CHECKF(atomic_load(&S.accepted) == before + 1, "%s: the next call did not reconnect", what);
    CHECK(is_connected(c) == 1);
}

static void check_bounded(mcf_client *c, const char *what)
{
    const mcf_server *s = &c->servers[0];
    CHECKF(s->rcap <= 64 * 1024, "%s: read buffer grew to %zu bytes", what, s->rcap);
    CHECKF(s->wcap <= 64 * 1024, "%s: write buffer grew to %zu bytes", what, s->wcap);
}

/* One single-key get against behaviour b on a fresh connection: the result
 * must be one of want[] (an error), within the deadline, never a value. */
static void single_get_case(behaviour b, const char *what, const int *want, int nwant)
{
    for (int round = 0; round < 3; round++) {
        mcf_disconnect_all(C);
        hs_next(&S, b);
        mcf_value v = {0};
        double t0 = now_ms();
        int rc = mcf_get(C, "a", 1, &v);
        double el = now_ms() - t0;
        int ok = 0;
        for (int i = 0; i < nwant; i++)
            ok |= rc == want[i];
        CHECKF(ok, "%s: rc %d (%s): %s", what, rc, mcf_strerror(rc), mcf_last_error(C));
        CHECKF(el <= IO_TIMEOUT_MS + SLACK_MS, "%s: took %.0f ms (deadline %d ms)", what, el,
               IO_TIMEOUT_MS);
        if (rc != MCF_OK)
            CHECKF(mcf_last_error(C)[0] != 0, "%s: no error message", what);
        if (round == 0 && rc != MCF_OK)
            fprintf(stderr, "  %s -> %s in %.0f ms: %s\n", what, mcf_strerror(rc), el,
                    mcf_last_error(C));
        check_recovery(C, what);
        check_bounded(C, what);
    }
}

/* ------------------------------------------------------------------ */
/* Server behaviour cases                                              */
/* ------------------------------------------------------------------ */

TEST(correct_server_baseline)
{
    mcf_disconnect_all(C);
    CHECK_RC(mcf_set(C, "k1", 2, "v1", 2, 7, 0), MCF_OK);
    mcf_value v;
    CHECK_RC(mcf_get(C, "k1", 2, &v), MCF_OK);
    CHECK(v.len == 2 && memcmp(v.data, "v1", 2) == 0 && v.flags == 7);
    CHECK_RC(mcf_get(C, "nope", 4, &v), MCF_MISS);
    uint64_t n = 0;
    CHECK_RC(mcf_set(C, "n", 1, "41", 2, 0, 0), MCF_OK);
    CHECK_RC(mcf_incr(C, "n", 1, 1, &n, 0), MCF_OK);
    CHECK(n == 42);
    CHECK_RC(mcf_delete(C, "k1", 2, 0), MCF_OK);
    CHECK_RC(mcf_delete(C, "k1", 2, 0), MCF_NOT_FOUND);
    char ver[64];
    CHECK_RC(mcf_version(C, 0, ver, sizeof ver), MCF_OK);
    CHECK(strcmp(ver, "1.6.99-hostile") == 0);
    CHECK_GOOD_GET(C, "a");
    CHECK(is_connected(C) == 1);
}

TEST(close_mid_value)
{
    int want[] = {MCF_ERR_IO};
    single_get_case(B_CLOSE_MID, "close mid-value", want, 1);
}

TEST(value_shorter_than_length)
{
    /* The announced 20 bytes never all come: the deadline passes. */
    int want[] = {MCF_ERR_TIMEOUT, MCF_ERR_PROTOCOL};
    single_get_case(B_SHORT, "short value", want, 2);
}

TEST(value_longer_than_length)
{
    int want[] = {MCF_ERR_PROTOCOL};
    single_get_case(B_LONG, "long value", want, 1);
}

TEST(value_claims_4gib)
{
    int want[] = {MCF_ERR_TOO_LARGE, MCF_ERR_PROTOCOL};
    single_get_case(B_HUGE, "4 GiB value", want, 2);
    single_get_case(B_HUGE_U64, "2^64-1 byte value", want, 2);
    single_get_case(B_OVERFLOW, "length past 2^64", want, 2);
    /* A larger configured limit still bounds it: 64 MiB < 4 GiB. */
    CHECK_RC(mcf_set_option(C, MCF_OPT_MAX_VALUE_SIZE, 64 << 20), MCF_OK);
    single_get_case(B_HUGE, "4 GiB value, 64 MiB limit", want, 2);
    CHECK_RC(mcf_set_option(C, MCF_OPT_MAX_VALUE_SIZE, 1 << 20), MCF_OK);
}

TEST(garbage)
{
    int want[] = {MCF_ERR_PROTOCOL};
    single_get_case(B_GARBAGE, "garbage", want, 1);
    single_get_case(B_NUL_IN_LINE, "NUL in the VALUE line", want, 1);
}

TEST(line_without_crlf_megabytes)
{
    int want[] = {MCF_ERR_PROTOCOL};
    single_get_case(B_NOCRLF, "4 MiB without CRLF", want, 1);
    /* The client stopped at the line limit: its read buffer stayed small. */
    CHECKF(C->servers[0].rcap <= 32 * 1024, "read buffer %zu bytes", C->servers[0].rcap);
}

TEST(server_error_replies)
{
    int want_s[] = {MCF_ERR_SERVER};
    single_get_case(B_SERVER_ERROR, "SERVER_ERROR", want_s, 1);
    single_get_case(B_ERROR, "ERROR", want_s, 1);
    /* A SERVER_ERROR for a set keeps the stream in step (memcached consumed
     * the request): an error for that item, and the next call works. */
    mcf_disconnect_all(C);
    hs_next(&S, B_SERVER_ERROR);
    CHECK_RC(mcf_set(C, "se", 2, "x", 1, 0, 0), MCF_ERR_SERVER);
    CHECK(strstr(mcf_last_error(C), "out of memory") != NULL);
    CHECK_GOOD_GET(C, "a");
}

TEST(error_message_quotes_server_once)
{
    /* The message quotes the server's line once ("...: ERROR", not "ERROR ERROR"). */
    mcf_disconnect_all(C);
    hs_next(&S, B_ERROR);
    mcf_value v;
    CHECK_RC(mcf_get(C, "a", 1, &v), MCF_ERR_SERVER);
    CHECKF(strstr(mcf_last_error(C), "ERROR ERROR") == NULL, "message: %s", mcf_last_error(C));
    CHECK_GOOD_GET(C, "a");
}

TEST(store_answered_with_value)
{
    mcf_disconnect_all(C);
    hs_next(&S, B_STORE_VALUE);
    double t0 = now_ms();
    CHECK_RC(mcf_set(C, "sv", 2, "x", 1, 0, 0), MCF_ERR_PROTOCOL);
    CHECK(now_ms() - t0 <= IO_TIMEOUT_MS + SLACK_MS);
    check_recovery(C, "store answered with VALUE");
}

typedef struct multi_rec {
    const char *const *keys;
    size_t n;
    int calls[16];
    int rc[16];
    int wrong; /* values handed out that the server did not send for that key */
    char why[256];
    const char *sent_keys; /* space-separated keys the server DID send a value for */
} multi_rec;

static void multi_cb(void *ctx, size_t index, int rc, const mcf_value *v)
{
    multi_rec *m = ctx;
    if (index >= m->n) {
        m->wrong++;
        snprintf(m->why, sizeof m->why, "callback index %zu out of range", index);
        return;
    }
    m->calls[index]++;
    m->rc[index] = rc;
    if (rc == MCF_OK) {
        char want[512];
        size_t wl = 0;
        if (!v || !server_value(m->keys[index], want, sizeof want, &wl) || v->len != wl ||
            memcmp(v->data, want, wl) != 0) {
            m->wrong++;
            snprintf(m->why, sizeof m->why, "key '%s' got '%.*s'", m->keys[index],
                     v ? (int)(v->len > 100 ? 100 : v->len) : 0, v ? v->data : "");
        }
    } else if (v) {
        m->wrong++;
        snprintf(m->why, sizeof m->why, "key '%s': rc %d with a value", m->keys[index], rc);
    }
}

TEST(wrong_order_no_misattribution)
{
    static const char *const keys[] = {"a", "b", "c"};
    for (int round = 0; round < 3; round++) {
        mcf_disconnect_all(C);
        hs_next(&S, B_REORDER); /* answers c, b, a */
        multi_rec m = {.keys = keys, .n = 3};
        double t0 = now_ms();
        int rc = mcf_get_multi(C, MCF_GET, 0, keys, NULL, 3, multi_cb, &m);
        CHECK(now_ms() - t0 <= IO_TIMEOUT_MS + SLACK_MS);
        CHECKF(m.wrong == 0, "value attributed to the wrong key: %s", m.why);
        for (int i = 0; i < 3; i++)
            CHECKF(m.calls[i] == 1, "key %s: %d callbacks", keys[i], m.calls[i]);
        /* Either matched by key (all OK), or an error. */
        CHECKF(rc == MCF_OK || rc == MCF_ERR_PROTOCOL, "rc %d (%s)", rc, mcf_strerror(rc));
        if (rc != MCF_OK)
            check_recovery(C, "out-of-order answer");
        else
            CHECK_GOOD_GET(C, "a");
    }
}

TEST(wrong_order_no_false_miss)
{
    /* The server holds a, b and c and sends all three, in reverse order.
     * A key the server DID send must not be reported as a miss: it is
     * either delivered (matched by key) or fails with MCF_ERR_PROTOCOL. */
    static const char *const keys[] = {"a", "b", "c"};
    mcf_disconnect_all(C);
    hs_next(&S, B_REORDER);
    multi_rec m = {.keys = keys, .n = 3};
    int rc = mcf_get_multi(C, MCF_GET, 0, keys, NULL, 3, multi_cb, &m);
    int all_ok = 1;
    for (int i = 0; i < 3; i++) {
        CHECKF(m.rc[i] == MCF_OK || m.rc[i] == MCF_ERR_PROTOCOL,
               "key '%s' (sent by the server, out of order) reported as %d (%s); call rc %d",
               keys[i], m.rc[i], mcf_strerror(m.rc[i]), rc);
        all_ok &= m.rc[i] == MCF_OK;
    }
    /* The call's result must not hide the failure: MCF_OK only if every
     * key was delivered, otherwise MCF_ERR_PROTOCOL. */
    CHECKF(rc == (all_ok ? MCF_OK : MCF_ERR_PROTOCOL),
           "call rc %d (%s) although the stream was out of order and the connection was "
           "dropped: %s",
           rc, mcf_strerror(rc), mcf_last_error(C));
    CHECK_GOOD_GET(C, "a");
}

TEST(unasked_key)
{
    static const char *const keys[] = {"a", "b", "c"};
    /* Single get: an intruder value first. */
    int want[] = {MCF_ERR_PROTOCOL};
    single_get_case(B_UNASKED, "value for an unasked key", want, 1);
    /* Multi get: intruder first, and intruder in the middle. */
    behaviour bs[] = {B_UNASKED, B_UNASKED_MID};
    for (int k = 0; k < 2; k++) {
        mcf_disconnect_all(C);
        hs_next(&S, bs[k]);
        multi_rec m = {.keys = keys, .n = 3};
        int rc = mcf_get_multi(C, MCF_GET, 0, keys, NULL, 3, multi_cb, &m);
        CHECK_RC(rc, MCF_ERR_PROTOCOL);
        CHECKF(m.wrong == 0, "value attributed to the wrong key: %s", m.why);
        for (int i = 0; i < 3; i++) {
            CHECKF(m.calls[i] == 1, "key %s: %d callbacks", keys[i], m.calls[i]);
            if (k == 1 && i > 0)
                CHECKF(m.rc[i] == MCF_ERR_PROTOCOL, "key %s after the intruder: rc %d",
                       keys[i], m.rc[i]);
        }
        if (k == 1)
            CHECKF(m.rc[0] == MCF_OK, "key a (before the intruder): rc %d", m.rc[0]);
        check_recovery(C, "unasked key in a multi get");
    }
}

TEST(one_byte_at_a_time)
{
    static const char *const keys[] = {"a", "b", "c"};
    for (int round = 0; round < 2; round++) {
        mcf_disconnect_all(C);
        hs_next(&S, B_SLOW);
        double t0 = now_ms();
        CHECK_GOOD_GET(C, "a");
        multi_rec m = {.keys = keys, .n = 3};
        CHECK_RC(mcf_get_multi(C, MCF_GET, 0, keys, NULL, 3, multi_cb, &m), MCF_OK);
        CHECKF(m.wrong == 0, "%s", m.why);
        for (int i = 0; i < 3; i++)
            CHECK(m.rc[i] == MCF_OK);
        CHECK_RC(mcf_set(C, "slow", 4, "12345", 5, 0, 0), MCF_OK);
        CHECK(now_ms() - t0 < 3 * (IO_TIMEOUT_MS + SLACK_MS));
        /* The same connection carried on. */
        CHECK(atomic_load(&S.accepted) > 0 && is_connected(C) == 1);
        CHECK_GOOD_GET(C, "slow");
    }
}

TEST(stops_answering)
{
    int want[] = {MCF_ERR_TIMEOUT};
    double t0 = now_ms();
    single_get_case(B_SILENT, "silent server", want, 1);
    /* Three rounds, each about one deadline: not much faster, not hanging. */
    double el = now_ms() - t0;
    CHECKF(el >= 3 * IO_TIMEOUT_MS * 0.9, "timed out too early: %.0f ms for 3 rounds", el);
    /* A storage command too. */
    mcf_disconnect_all(C);
    hs_next(&S, B_SILENT);
    t0 = now_ms();
    CHECK_RC(mcf_set(C, "x", 1, "y", 1, 0, 0), MCF_ERR_TIMEOUT);
    el = now_ms() - t0;
    CHECKF(el >= IO_TIMEOUT_MS * 0.9 && el <= IO_TIMEOUT_MS + SLACK_MS, "set timed out after %.0f ms", el);
    check_recovery(C, "silent server, set");
}

TEST(never_reads_large_set)
{
    size_t big = 8u << 20;
    char *val = malloc(big);
    if (!val) {
        t_fail(__FILE__, __LINE__, "no memory");
        return;
    }
    memset(val, 'v', big);
    CHECK_RC(mcf_set_option(C, MCF_OPT_MAX_VALUE_SIZE, 16 << 20), MCF_OK);
    for (int round = 0; round < 2; round++) {
        mcf_disconnect_all(C);
        hs_next(&S, B_NOREAD);
        double t0 = now_ms();
        int rc = mcf_set(C, "big", 3, val, big, 0, 0);
        double el = now_ms() - t0;
        CHECK_RC(rc, MCF_ERR_TIMEOUT);
        CHECKF(el <= IO_TIMEOUT_MS + SLACK_MS, "took %.0f ms", el);
        if (round == 0)
            fprintf(stderr, "  never-reading server -> %s in %.0f ms: %s\n", mcf_strerror(rc),
                    el, mcf_last_error(C));
        check_recovery(C, "server never reads");
        check_bounded(C, "server never reads");
    }
    CHECK_RC(mcf_set_option(C, MCF_OPT_MAX_VALUE_SIZE, 1 << 20), MCF_OK);
    free(val);
}

TEST(late_unsolicited_reply_not_taken_for_next_answer)
{
    /* The server answers "get a" correctly, then 30 ms later sends a reply
     * nobody asked for ("VALUE a ... STALE").  The next call must not
     * return the stale bytes as its answer. */
    mcf_disconnect_all(C);
    hs_next(&S, B_LATE);
    CHECK_GOOD_GET(C, "a");
    usleep(150 * 1000);
    mcf_value v;
    int rc = mcf_get(C, "a", 1, &v);
    CHECKF(!(rc == MCF_OK && v.len == 5 && memcmp(v.data, "STALE", 5) == 0),
           "the late unsolicited reply was returned as the answer to the next get");
    CHECKF(rc == MCF_OK || mcf_is_error(rc), "rc %d", rc);
    mcf_disconnect_all(C);
    CHECK_GOOD_GET(C, "a");

    /* The same with incr: the stale number must not become the result. */
    mcf_disconnect_all(C);
    CHECK_RC(mcf_set(C, "ctr", 3, "5", 1, 0, 0), MCF_OK);
    mcf_disconnect_all(C);
    hs_next(&S, B_LATE);
    uint64_t n = 0;
    CHECK_RC(mcf_incr(C, "ctr", 3, 1, &n, 0), MCF_OK);
    CHECK(n == 6);
    usleep(150 * 1000);
    n = 0;
    rc = mcf_incr(C, "ctr", 3, 1, &n, 0);
    CHECKF(!(rc == MCF_OK && n == 999),
           "the late unsolicited '999' was returned as the result of the next incr");
    mcf_disconnect_all(C);
    CHECK_GOOD_GET(C, "a");
}

TEST(server_closed_idle_connection)
{
    /* The server closes a connection after answering (idle timeout,
     * restart).  The next call should notice and reconnect, not fail. */
    mcf_disconnect_all(C);
    hs_next(&S, B_IDLE_CLOSE);
    CHECK_GOOD_GET(C, "a");
    usleep(100 * 1000);
    mcf_value v;
    int rc = mcf_get(C, "a", 1, &v);
    CHECKF(rc == MCF_OK, "first call after the server closed the idle connection: %d (%s): %s",
           rc, mcf_strerror(rc), mcf_last_error(C));
    CHECK_GOOD_GET(C, "a");
}

TEST(memory_bounded_over_many_failures)
{
    behaviour bs[] = {B_CLOSE_MID, B_LONG, B_HUGE, B_GARBAGE, B_NOCRLF, B_UNASKED};
    for (int round = 0; round < 10; round++)
        for (size_t k = 0; k < sizeof bs / sizeof bs[0]; k++) {
            mcf_disconnect_all(C);
            hs_next(&S, bs[k]);
            mcf_value v;
            int rc = mcf_get(C, "a", 1, &v);
            CHECKF(mcf_is_error(rc), "behaviour %d: rc %d", (int)bs[k], rc);
            check_bounded(C, "repeated failures");
        }
    check_recovery(C, "repeated failures");
}

/* ------------------------------------------------------------------ */
/* Caller-input cases                                                  */
/* ------------------------------------------------------------------ */

static void count_cb(void *ctx, size_t index, int rc, const mcf_value *v)
{
    (void)index;
    (void)v;
    int *p = ctx;
    if (rc == MCF_ERR_BAD_KEY)
        p[0]++;
    else
        p[1]++;
}

static void stat_cb(void *ctx, const char *n, size_t nl, const char *v, size_t vl)
{
    (void)n;
    (void)nl;
    (void)v;
    (void)vl;
    (*(int *)ctx)++;
}

TEST(bad_input_sends_nothing)
{
    char k251[252], k250[251], ns200[201], k51[52];
    memset(k251, 'k', 251);
    k251[251] = 0;
    memset(k250, 'k', 250);
    k250[250] = 0;
    memset(ns200, 'n', 200);
    ns200[200] = 0;
    memset(k51, 'q', 51);
    k51[51] = 0;
    struct {
        const char *k;
        size_t len;
        const char *name;
    } bad[] = {
        {"a b", 3, "space"},
        {"a\rb", 3, "CR"},
        {"a\nb", 3, "LF"},
        {"a\0b", 3, "NUL"},
        {"a\x01z", 3, "control"},
        {"a\tb", 3, "tab"},
        {"a\x7f", 2, "DEL"},
        {"x\r\nflush_all", 12, "CRLF + command"},
        {"x\r\nset evil 0 0 1\r\nZ", 21, "CRLF + set"},
        {k251, 251, "251 bytes"},
        {"", 0, "empty"},
        {NULL, 0, "NULL"},
        {NULL, 5, "NULL with a length"},
    };
    size_t nbad = sizeof bad / sizeof bad[0];

    mcf_disconnect_all(C);
    CHECK_GOOD_GET(C, "a"); /* connected, idle */
    hs_record_start(&S);
    char *expect = calloc(1, 8192);
    size_t el = 0;

    for (size_t i = 0; i < nbad; i++) {
        const char *k = bad[i].k;
        size_t kl = bad[i].len;
        mcf_value v;
        uint64_t n;
        int rc = mcf_get(C, k, kl, &v);
        CHECKF(rc == MCF_ERR_BAD_KEY, "get with key %s: %d", bad[i].name, rc);
        CHECKF(mcf_gat(C, 10, k, kl, &v) == MCF_ERR_BAD_KEY, "gat key %s", bad[i].name);
        CHECKF(mcf_gets(C, k, kl, &v) == MCF_ERR_BAD_KEY, "gets key %s", bad[i].name);
        CHECKF(mcf_set(C, k, kl, "v", 1, 0, 0) == MCF_ERR_BAD_KEY, "set key %s", bad[i].name);
        CHECKF(mcf_store(C, MCF_CAS, k, kl, "v", 1, 0, 0, 1, 0) == MCF_ERR_BAD_KEY, "cas key %s",
               bad[i].name);
        CHECKF(mcf_store(C, MCF_APPEND, k, kl, "v", 1, 0, 0, 0, MCF_CALL_NOREPLY) ==
                   MCF_ERR_BAD_KEY,
               "append noreply key %s", bad[i].name);
        CHECKF(mcf_delete(C, k, kl, 0) == MCF_ERR_BAD_KEY, "delete key %s", bad[i].name);
        CHECKF(mcf_incr(C, k, kl, 1, &n, 0) == MCF_ERR_BAD_KEY, "incr key %s", bad[i].name);
        CHECKF(mcf_decr(C, k, kl, 1, &n, MCF_CALL_NOREPLY) == MCF_ERR_BAD_KEY, "decr key %s",
               bad[i].name);
        CHECKF(mcf_touch(C, k, kl, 5, 0) == MCF_ERR_BAD_KEY, "touch key %s", bad[i].name);
        size_t srv;
        CHECKF(mcf_server_for_key(C, k, kl, &srv) == MCF_ERR_BAD_KEY, "server_for_key %s",
               bad[i].name);
        const char *keys[1] = {k};
        size_t lens[1] = {kl};
        int cnt[2] = {0, 0};
        CHECKF(mcf_get_multi(C, MCF_GETS, 0, keys, lens, 1, count_cb, cnt) == MCF_ERR_BAD_KEY,
               "get_multi key %s", bad[i].name);
        CHECKF(cnt[0] == 1 && cnt[1] == 0, "get_multi key %s: callbacks %d/%d", bad[i].name,
               cnt[0], cnt[1]);
        mcf_item it = {.key = k, .key_len = kl, .value = "v", .value_len = 1};
        CHECKF(mcf_multi(C, MCF_OP_SET, &it, 1, 0) == MCF_ERR_BAD_KEY && it.rc == MCF_ERR_BAD_KEY,
               "multi set key %s", bad[i].name);
        CHECKF(mcf_last_error(C)[0] != 0, "no message for key %s", bad[i].name);
    }
    /* NUL-terminated keys (key_lens NULL) with a NULL entry. */
    {
        const char *keys[2] = {NULL, "a b"};
        int cnt[2] = {0, 0};
        CHECK_RC(mcf_get_multi(C, MCF_GET, 0, keys, NULL, 2, count_cb, cnt), MCF_ERR_BAD_KEY);
        CHECK(cnt[0] == 2);
    }
    /* Namespace: bad bytes rejected; namespace + key over 250 bytes. */
    CHECK_RC(mcf_set_namespace(C, "ns\r\nflush_all"), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_set_namespace(C, "ns "), MCF_ERR_BAD_KEY);
    CHECK_RC(mcf_set_namespace(C, ns200), MCF_OK);
    {
        mcf_value v;
        CHECK_RC(mcf_get(C, k51, 51, &v), MCF_ERR_BAD_KEY);
        CHECK_RC(mcf_set(C, k51, 51, "v", 1, 0, 0), MCF_ERR_BAD_KEY);
    }
    CHECK_RC(mcf_set_namespace(C, NULL), MCF_OK);

    /* Values: over the max size, NULL with a length, absurd length. */
    {
        size_t max = (size_t)mcf_get_option(C, MCF_OPT_MAX_VALUE_SIZE);
        char *big = malloc(max + 1);
        memset(big, 'b', max + 1);
        CHECK_RC(mcf_set(C, "big", 3, big, max + 1, 0, 0), MCF_ERR_TOO_LARGE);
        mcf_item it = {.key = "big", .key_len = 3, .value = big, .value_len = max + 1};
        CHECK_RC(mcf_multi(C, MCF_OP_ADD, &it, 1, MCF_CALL_NOREPLY), MCF_ERR_TOO_LARGE);
        free(big);
        char one = 'x';
        CHECK_RC(mcf_set(C, "huge", 4, &one, SIZE_MAX, 0, 0), MCF_ERR_TOO_LARGE);
        CHECK_RC(mcf_set(C, "nul", 3, NULL, 5, 0, 0), MCF_ERR_ARG);
        CHECK_RC(mcf_set_option(C, MCF_OPT_COMPRESS_THRESHOLD, 0), MCF_OK);
        CHECK_RC(mcf_set(C, "huge", 4, &one, SIZE_MAX, 0, 0), MCF_ERR_TOO_LARGE);
        CHECK_RC(mcf_set_option(C, MCF_OPT_COMPRESS_THRESHOLD, -1), MCF_OK);
    }

    /* NULL pointers and bad arguments where the API says invalid. */
    {
        mcf_value v;
        const char *keys[1] = {"a"};
        char buf[16];
        int cnt = 0;
        CHECK_RC(mcf_get(C, "a", 1, NULL), MCF_ERR_ARG);
        CHECK_RC(mcf_gets(C, "a", 1, NULL), MCF_ERR_ARG);
        CHECK_RC(mcf_get(NULL, "a", 1, &v), MCF_ERR_ARG);
        CHECK_RC(mcf_get_multi(C, MCF_GET, 0, keys, NULL, 1, NULL, NULL), MCF_ERR_ARG);
        CHECK_RC(mcf_get_multi(C, MCF_GET, 0, NULL, NULL, 1, count_cb, &cnt), MCF_ERR_ARG);
        CHECK_RC(mcf_get_multi(C, (mcf_get_mode)9, 0, keys, NULL, 1, count_cb, &cnt), MCF_ERR_ARG);
        CHECK_RC(mcf_get_multi(NULL, MCF_GET, 0, keys, NULL, 1, count_cb, &cnt), MCF_ERR_ARG);
        CHECK_RC(mcf_multi(C, MCF_OP_SET, NULL, 1, 0), MCF_ERR_ARG);
        mcf_item it = {.key = "a", .key_len = 1};
        CHECK_RC(mcf_multi(C, (mcf_op)99, &it, 1, 0), MCF_ERR_ARG);
        CHECK_RC(mcf_store(C, (mcf_store_mode)42, "a", 1, "v", 1, 0, 0, 0, 0), MCF_ERR_ARG);
        CHECK_RC(mcf_set(NULL, "a", 1, "v", 1, 0, 0), MCF_ERR_ARG);
        CHECK_RC(mcf_delete(NULL, "a", 1, 0), MCF_ERR_ARG);
        CHECK_RC(mcf_incr(NULL, "a", 1, 1, NULL, 0), MCF_ERR_ARG);
        CHECK_RC(mcf_set_servers(NULL, "127.0.0.1"), MCF_ERR_ARG);
        CHECK_RC(mcf_set_servers(C, NULL), MCF_ERR_ARG);
        CHECK_RC(mcf_set_servers(C, "[::1"), MCF_ERR_BAD_SPEC);
        CHECK_RC(mcf_set_servers(C, ""), MCF_ERR_BAD_SPEC);
        CHECK_RC(mcf_set_servers(C, "host\x01x"), MCF_ERR_BAD_SPEC);
        CHECK_RC(mcf_set_servers(C, "127.0.0.1:11211,,127.0.0.2"), MCF_ERR_BAD_SPEC);
        CHECK(mcf_server_count(C) == 1); /* the previous list stays */
        CHECK_RC(mcf_add_server(C, NULL, 1), MCF_ERR_ARG);
        CHECK_RC(mcf_add_server(C, "127.0.0.1:1", 0), MCF_ERR_ARG);
        CHECK_RC(mcf_add_server(NULL, "127.0.0.1:1", 1), MCF_ERR_ARG);
        CHECK(mcf_server_count(C) == 1);
        CHECK_RC(mcf_version(C, 0, NULL, 10), MCF_ERR_ARG);
        CHECK_RC(mcf_version(C, 0, buf, 0), MCF_ERR_ARG);
        CHECK_RC(mcf_version(C, 5, buf, sizeof buf), MCF_ERR_ARG);
        CHECK_RC(mcf_stats(C, 0, NULL, NULL, NULL), MCF_ERR_ARG);
        CHECK_RC(mcf_stats(C, 0, "items\r\nflush_all", stat_cb, &cnt), MCF_ERR_ARG);
        CHECK_RC(mcf_stats(C, 0, "items\tflush_all", stat_cb, &cnt), MCF_ERR_ARG);
        CHECK_RC(mcf_stats(C, 0, "items  flush_all", stat_cb, &cnt), MCF_ERR_ARG);
        CHECK_RC(mcf_stats(C, 1, NULL, stat_cb, &cnt), MCF_ERR_ARG);
        CHECK(cnt == 0);
        CHECK_RC(mcf_set_option(C, (mcf_option)999, 1), MCF_ERR_ARG);
        CHECK_RC(mcf_set_option(C, MCF_OPT_IO_TIMEOUT_MS, 0), MCF_ERR_ARG);
        CHECK_RC(mcf_set_option(C, MCF_OPT_MAX_VALUE_SIZE, -1), MCF_ERR_ARG);
        CHECK_RC(mcf_set_option(NULL, MCF_OPT_IO_TIMEOUT_MS, 5), MCF_ERR_ARG);
        CHECK(mcf_get_option(C, MCF_OPT_IO_TIMEOUT_MS) == IO_TIMEOUT_MS);
        CHECK_RC(mcf_flush_all(NULL, 0, 0), MCF_ERR_ARG);
        size_t srv;
        CHECK_RC(mcf_server_for_key(C, "a", 1, NULL), MCF_ERR_ARG);
        CHECK_RC(mcf_server_info_get(C, 3, NULL), MCF_ERR_ARG);
        CHECK_RC(mcf_connect_server(C, 7), MCF_ERR_ARG);
        (void)srv;
        mcf_free(NULL);
        mcf_disconnect_all(NULL);
        CHECK(mcf_get_multi(C, MCF_GET, 0, NULL, NULL, 0, NULL, NULL) == MCF_OK);
    }

    /* The good requests of this test, which must be all the server got. */
    CHECK_RC(mcf_set(C, k250, 250, "ok", 2, 3, 0), MCF_OK);
    el += (size_t)sprintf(expect + el, "set %s 3 0 2\r\nok\r\n", k250);
    {
        mcf_value v;
        CHECK_RC(mcf_get(C, k250, 250, &v), MCF_OK);
        CHECK(v.len == 2 && memcmp(v.data, "ok", 2) == 0 && v.flags == 3);
        el += (size_t)sprintf(expect + el, "get %s\r\n", k250);
    }
    {
        /* Mixed items: the bad one is not sent, the good ones are. */
        mcf_item its[3] = {{.key = "m1", .key_len = 2, .value = "1", .value_len = 1},
                           {.key = "m 2", .key_len = 3, .value = "2", .value_len = 1},
                           {.key = "m3", .key_len = 2, .value = "3", .value_len = 1}};
        CHECK_RC(mcf_multi(C, MCF_OP_SET, its, 3, 0), MCF_ERR_BAD_KEY);
        CHECK(its[0].rc == MCF_OK && its[1].rc == MCF_ERR_BAD_KEY && its[2].rc == MCF_OK);
        el += (size_t)sprintf(expect + el, "set m1 0 0 1\r\n1\r\nset m3 0 0 1\r\n3\r\n");
    }
    CHECK_RC(mcf_delete(C, "m1", 2, 0), MCF_OK);
    el += (size_t)sprintf(expect + el, "delete m1\r\n");

    size_t rl;
    char *rec = hs_record_take(&S, &rl);
    CHECKF(rl == el && memcmp(rec, expect, el) == 0,
           "the server received %zu bytes, expected exactly the %zu bytes of the good requests;"
           " got: '%.300s'",
           rl, el, rec);
    CHECK(strstr(rec, "flush_all") == NULL && strstr(rec, "evil") == NULL);
    free(rec);
    free(expect);
}

TEST(mixed_good_and_bad_keys_multi_get)
{
    /* mcfast.h: "bad keys are reported as MCF_ERR_BAD_KEY before anything
     * is sent and nothing is sent at all".  Either reading (nothing at all
     * is sent, or only the bad key is not sent) is accepted here; what is
     * checked is that no byte of a bad key reaches the server. */
    static const char *const keys[] = {"a", "bad\r\nflush_all", "b"};
    mcf_disconnect_all(C);
    CHECK_GOOD_GET(C, "a");
    hs_record_start(&S);
    multi_rec m = {.keys = keys, .n = 3};
    int rc = mcf_get_multi(C, MCF_GET, 0, keys, NULL, 3, multi_cb, &m);
    CHECK_RC(rc, MCF_ERR_BAD_KEY);
    CHECK(m.rc[1] == MCF_ERR_BAD_KEY);
    CHECKF(m.wrong == 0, "%s", m.why);
    CHECK_RC(mcf_version(C, 0, (char[32]){0}, 32), MCF_OK);
    size_t rl;
    char *rec = hs_record_take(&S, &rl);
    CHECKF(strcmp(rec, "version\r\n") == 0 || strcmp(rec, "get a b\r\nversion\r\n") == 0,
           "server received '%s'", rec);
    fprintf(stderr, "  mixed good/bad multi get sent: %s\n",
            strcmp(rec, "version\r\n") == 0 ? "nothing" : "the good keys");
    free(rec);
}

TEST(connect_failed_then_server_up)
{
    /* A port with nothing listening: connect fails; once a server listens
     * there, the same client works. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    int port = ntohs(a.sin_port);
    close(fd);

    mcf_client *c = hostile_client(port);
    mcf_value v;
    double t0 = now_ms();
    int rc = mcf_get(c, "a", 1, &v);
    CHECKF(rc == MCF_ERR_CONNECT || rc == MCF_ERR_TIMEOUT, "rc %d (%s)", rc, mcf_strerror(rc));
    CHECK(now_ms() - t0 <= IO_TIMEOUT_MS + SLACK_MS);
    CHECK(strstr(mcf_last_error(c), "127.0.0.1") != NULL);
    CHECK_RC(mcf_set(c, "a", 1, "x", 1, 0, 0), rc);

    hserver *h2 = calloc(1, sizeof *h2);
    if (hs_start(h2, port) != 0) {
        t_skip_case("port taken meanwhile");
        free(h2);
        mcf_free(c);
        return;
    }
    hs_put(h2, "a", "second", 6, 0);
    CHECK_RC(mcf_get(c, "a", 1, &v), MCF_OK);
    CHECK(v.len == 6 && memcmp(v.data, "second", 6) == 0);
    CHECK_RC(mcf_set(c, "z", 1, "zz", 2, 0, 0), MCF_OK);
    mcf_free(c);
    hs_stop(h2);
    free(h2);
}

int main(int argc, char **argv)
{
    /* Every case talks to this server and client; the server holds a, b
     * and c (seed) and behaves correctly unless a case queues otherwise. */
    if (hs_start(&S, 0) != 0) {
        t_skip("hostile", "cannot listen on 127.0.0.1");
        return 0;
    }
    seed("a");
    seed("b");
    seed("c");
    C = hostile_client(S.port);
    if (!C) {
        printf("FAIL: setup: no client\n");
        return 1;
    }
    int rc = t_main(argc, argv);
    mcf_free(C);
    hs_stop(&S);
    return rc;
}
