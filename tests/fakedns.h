/* fakedns.h - a scripted DNS server on 127.0.0.1 for resolver tests.
 *
 * One UDP socket and one TCP listener on the same loopback port, served by
 * a thread.  Answers come from a table of names (RFC 1035 §4.1 messages:
 * the query's header and question, then A/AAAA records that point back at
 * the question's name); a name not in the table gets NXDOMAIN.  Modes
 * script the failures a resolver must survive: never answering, SERVFAIL,
 * a truncated UDP answer (the full one only over TCP), a late answer.  It
 * counts the queries per name and remembers their source ports, so tests
 * can tell which socket a query came from.  Test code only: a static
 * table, one server per test process. */
#ifndef MCF_FAKEDNS_H
#define MCF_FAKEDNS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

enum { DNSF_ANSWER, DNSF_SILENT, DNSF_SERVFAIL, DNSF_TRUNCATE, DNSF_LATE };

#define DNSF_LATE_MS 300   /* how late DNSF_LATE names are answered */
#define DNSF_MAX_IPS 24
#define DNSF_MAX_PORTS 16
#define DNSF_MAX_LATE 16
#define DNSF_MSG_MAX 1232  /* more than any answer here; EDNS's common UDP size */
#define DNSF_HDR 12        /* RFC 1035 §4.1.1 header */
#define DNSF_TYPE_A 1
#define DNSF_TYPE_AAAA 28
#define DNSF_CLASS_IN 1
#define DNSF_RCODE_SERVFAIL 2
#define DNSF_RCODE_NXDOMAIN 3
#define DNSF_TTL 60

struct dnsf_name {
    const char *name;
    int mode;
    const char *ips[DNSF_MAX_IPS];
    /* Counters (under dnsf_server.mu). */
    int queries;
    int nports;
    uint16_t ports[DNSF_MAX_PORTS];
    /* The records' TTL in seconds; 0: DNSF_TTL.  Last, so tables written
     * before it need no change. */
    int ttl;
};

struct dnsf_late {
    int64_t due_us;
    struct sockaddr_in to;
    size_t len;
    unsigned char msg[DNSF_MSG_MAX];
};

struct dnsf_server {
    int udp, tcp, stop[2];
    uint16_t port;
    char csv[32]; /* "127.0.0.1:PORT" for mcf_resolver_set_servers */
    pthread_t thread;
    pthread_mutex_t mu;
    struct dnsf_name *names;
    size_t nnames;
    struct dnsf_late late[DNSF_MAX_LATE];
    int unknown_queries;
};

static inline int64_t dnsf_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The question's name as dotted text; returns the offset after QTYPE and
 * QCLASS, or 0 when the message is not one query we understand. */
static size_t dnsf_question(const unsigned char *m, size_t len, char *name, size_t cap,
                          unsigned *qtype)
{
    size_t off = DNSF_HDR, used = 0;

    if (len < DNSF_HDR || m[4] != 0 || m[5] != 1) /* QDCOUNT = 1 */
        return 0;
    while (off < len && m[off] != 0) {
        size_t l = m[off++];
        if (l > 63 || off + l > len || used + l + 2 > cap)
            return 0;
        if (used)
            name[used++] = '.';
        memcpy(name + used, m + off, l);
        used += l;
        off += l;
    }
    if (off + 5 > len)
        return 0;
    name[used] = '\0';
    off++; /* the root label */
    *qtype = (unsigned)m[off] << 8 | m[off + 1];
    return off + 4;
}

static void dnsf_put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

/* Builds the answer to query m into out; returns its length (0: none). */
static size_t dnsf_answer(struct dnsf_server *s, const unsigned char *m, size_t len,
                        uint16_t src_port, int over_tcp, unsigned char *out, int *late)
{
    char name[256];
    unsigned qtype = 0, ancount = 0, rcode = 0;
    size_t qend = dnsf_question(m, len, name, sizeof name, &qtype), o, i;
    struct dnsf_name *n = NULL, snap;

    *late = 0;
    if (!qend)
        return 0;
    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->nnames; i++)
        if (strcasecmp(s->names[i].name, name) == 0)
            n = &s->names[i];
    if (n) {
        n->queries++;
        if (n->nports < DNSF_MAX_PORTS)
            n->ports[n->nports++] = src_port;
        snap = *n; /* dnsf_set may change it while the answer is built */
        n = &snap;
    } else {
        s->unknown_queries++;
    }
    pthread_mutex_unlock(&s->mu);
    if (n && n->mode == DNSF_SILENT)
        return 0;
    *late = n && n->mode == DNSF_LATE;

    memcpy(out, m, qend);
    /* QR=1, opcode and RD copied, AA=1; RA=1. */
    out[2] = (unsigned char)(0x80 | (m[2] & 0x79) | 0x04);
    if (!n)
        rcode = DNSF_RCODE_NXDOMAIN;
    else if (n->mode == DNSF_SERVFAIL)
        rcode = DNSF_RCODE_SERVFAIL;
    else if (n->mode == DNSF_TRUNCATE && !over_tcp)
        out[2] |= 0x02; /* TC: the answer is only available over TCP */
    out[3] = (unsigned char)(0x80 | rcode);
    o = qend;
    for (i = 0; n && rcode == 0 && !(out[2] & 0x02) && i < DNSF_MAX_IPS && n->ips[i]; i++) {
        unsigned char a[16];
        int v6 = strchr(n->ips[i], ':') != NULL;
        size_t alen = v6 ? 16 : 4;
        if ((qtype == DNSF_TYPE_AAAA) != v6 || o + 12 + alen > DNSF_MSG_MAX)
            continue;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, n->ips[i], a) != 1)
            continue;
        dnsf_put16(out + o, 0xC000 | DNSF_HDR); /* name: pointer to the question's */
        dnsf_put16(out + o + 2, qtype);
        dnsf_put16(out + o + 4, DNSF_CLASS_IN);
        dnsf_put16(out + o + 6, 0);
        dnsf_put16(out + o + 8, n->ttl ? (unsigned)n->ttl : DNSF_TTL);
        dnsf_put16(out + o + 10, (unsigned)alen);
        memcpy(out + o + 12, a, alen);
        o += 12 + alen;
        ancount++;
    }
    dnsf_put16(out + 6, ancount);
    dnsf_put16(out + 8, 0);
    dnsf_put16(out + 10, 0); /* no additional records (drops an EDNS OPT) */
    return o;
}

static int dnsf_read_full(int fd, unsigned char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd p = {fd, POLLIN, 0};
        ssize_t r;
        if (poll(&p, 1, 2000) <= 0)
            return -1;
        r = read(fd, buf + got, len - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* One TCP connection: length-prefixed queries until the client closes. */
static void dnsf_serve_tcp(struct dnsf_server *s, int c, uint16_t port)
{
    unsigned char q[DNSF_MSG_MAX], a[DNSF_MSG_MAX + 2];
    for (;;) {
        unsigned char lb[2];
        size_t len, alen;
        int late;
        if (dnsf_read_full(c, lb, 2) < 0)
            break;
        len = (size_t)lb[0] << 8 | lb[1];
        if (len > sizeof q || dnsf_read_full(c, q, len) < 0)
            break;
        alen = dnsf_answer(s, q, len, port, 1, a + 2, &late);
        if (!alen)
            continue;
        dnsf_put16(a, (unsigned)alen);
        if (send(c, a, alen + 2, MSG_NOSIGNAL) < 0)
            break;
    }
    close(c);
}

static void *dnsf_thread(void *arg)
{
    struct dnsf_server *s = arg;
    for (;;) {
        struct pollfd p[3] = {{s->udp, POLLIN, 0}, {s->tcp, POLLIN, 0}, {s->stop[0], POLLIN, 0}};
        int64_t next = INT64_MAX, now = dnsf_now_us();
        int timeout = -1;
        size_t i;
        for (i = 0; i < DNSF_MAX_LATE; i++) {
            struct dnsf_late *l = &s->late[i];
            if (!l->len)
                continue;
            if (l->due_us <= now) {
                (void)sendto(s->udp, l->msg, l->len, 0, (struct sockaddr *)&l->to, sizeof l->to);
                l->len = 0;
            } else if (l->due_us < next) {
                next = l->due_us;
            }
        }
        if (next != INT64_MAX)
            timeout = (int)((next - now + 999) / 1000);
        if (poll(p, 3, timeout) < 0 && errno != EINTR)
            break;
        if (p[2].revents)
            break;
        if (p[0].revents & POLLIN) {
            unsigned char q[DNSF_MSG_MAX], a[DNSF_MSG_MAX];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t r = recvfrom(s->udp, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
            int late;
            size_t alen = r > 0 ? dnsf_answer(s, q, (size_t)r, ntohs(from.sin_port), 0, a, &late)
                                : 0;
            if (alen && late) {
                for (i = 0; i < DNSF_MAX_LATE && s->late[i].len; i++)
                    ;
                if (i < DNSF_MAX_LATE) {
                    s->late[i].due_us = dnsf_now_us() + (int64_t)DNSF_LATE_MS * 1000;
                    s->late[i].to = from;
                    memcpy(s->late[i].msg, a, alen);
                    s->late[i].len = alen;
                }
            } else if (alen) {
                (void)sendto(s->udp, a, alen, 0, (struct sockaddr *)&from, fl);
            }
        }
        if (p[1].revents & POLLIN) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            int c = accept(s->tcp, (struct sockaddr *)&from, &fl);
            if (c >= 0)
                dnsf_serve_tcp(s, c, ntohs(from.sin_port));
        }
    }
    return NULL;
}

/* Binds the UDP socket to an ephemeral 127.0.0.1 port and the TCP
 * listener to the same number (DNS uses both); 0 or -1. */
static int dnsf_bind(struct dnsf_server *s)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int one = 1;

    s->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    s->tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->udp < 0 || s->tcp < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s->udp, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(s->udp, (struct sockaddr *)&a, &al) < 0)
        return -1;
    setsockopt(s->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s->tcp, (struct sockaddr *)&a, sizeof a) < 0 || listen(s->tcp, 8) < 0)
        return -1;
    s->port = ntohs(a.sin_port);
    return 0;
}

#define DNSF_BIND_TRIES 50 /* the TCP port may be taken; pick another UDP one */

/* Starts the server; 0 or -1. */
static int dnsf_start(struct dnsf_server *s, struct dnsf_name *names, size_t nnames)
{
    int i;

    memset(s, 0, sizeof *s);
    s->names = names;
    s->nnames = nnames;
    pthread_mutex_init(&s->mu, NULL);
    for (i = 0; i < DNSF_BIND_TRIES; i++) {
        if (dnsf_bind(s) == 0)
            break;
        if (s->udp >= 0)
            close(s->udp);
        if (s->tcp >= 0)
            close(s->tcp);
    }
    if (i == DNSF_BIND_TRIES || pipe2(s->stop, O_CLOEXEC) < 0)
        return -1;
    snprintf(s->csv, sizeof s->csv, "127.0.0.1:%u", (unsigned)s->port);
    return pthread_create(&s->thread, NULL, dnsf_thread, s) == 0 ? 0 : -1;
}

/* Starts the server, or, when it cannot, skips every case of the program
 * (harness.h's t_skip_all) saying why: 1 when started. */
static int dnsf_start_or_skip(struct dnsf_server *s, struct dnsf_name *names, size_t nnames)
{
    if (dnsf_start(s, names, nnames) == 0)
        return 1;
    char why[128];
    snprintf(why, sizeof why, "cannot start the scripted DNS server on 127.0.0.1: %s",
             strerror(errno));
    t_skip_all(why);
    return 0;
}

static void dnsf_stop(struct dnsf_server *s)
{
    if (write(s->stop[1], "x", 1) == 1)
        pthread_join(s->thread, NULL);
    close(s->udp);
    close(s->tcp);
    close(s->stop[0]);
    close(s->stop[1]);
}

static struct dnsf_name *dnsf_find(struct dnsf_server *s, const char *name)
{
    size_t i;
    for (i = 0; i < s->nnames; i++)
        if (strcmp(s->names[i].name, name) == 0)
            return &s->names[i];
    return NULL;
}

/* Queries seen for name, and distinct source ports among them. */
static int dnsf_queries(struct dnsf_server *s, const char *name, int *distinct_ports)
{
    struct dnsf_name *n = dnsf_find(s, name);
    int q = 0, d = 0, i, j;
    pthread_mutex_lock(&s->mu);
    if (n) {
        q = n->queries;
        for (i = 0; i < n->nports; i++) {
            for (j = 0; j < i && n->ports[j] != n->ports[i]; j++)
                ;
            d += j == i;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (distinct_ports)
        *distinct_ports = d;
    return q;
}

/* Changes name's mode and its one address (NULL: none) while the server
 * runs: the next query gets the new answer. */
static inline void dnsf_set(struct dnsf_server *s, const char *name, int mode, const char *ip)
{
    struct dnsf_name *n = dnsf_find(s, name);
    size_t i;
    if (!n)
        return;
    pthread_mutex_lock(&s->mu);
    n->mode = mode;
    n->ips[0] = ip;
    for (i = 1; i < DNSF_MAX_IPS; i++)
        n->ips[i] = NULL;
    pthread_mutex_unlock(&s->mu);
}

static void dnsf_reset_counts(struct dnsf_server *s)
{
    size_t i;
    pthread_mutex_lock(&s->mu);
    for (i = 0; i < s->nnames; i++) {
        s->names[i].queries = 0;
        s->names[i].nports = 0;
    }
    s->unknown_queries = 0;
    pthread_mutex_unlock(&s->mu);
}

#endif
