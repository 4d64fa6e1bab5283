/* resolve.c - owns asynchronous name resolution: the c-ares channel, the
 * lookups in flight, turning answers and failures into mcf_lookup results,
 * and the blocking mcf_resolve loop on top.  See resolve.h for the rules. */
#include "resolve.h"

#include <ares.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "mcfast.h"

_Static_assert(MCF_RESOLVER_MAX_FDS == ARES_GETSOCK_MAXNUM,
               "MCF_RESOLVER_MAX_FDS must be c-ares's ARES_GETSOCK_MAXNUM");

/* Where c-ares 1.18 reads its servers (PATH_RESOLV_CONF). */
#define RESOLV_CONF "/etc/resolv.conf"

#define US_PER_SEC 1000000
#define US_PER_MS 1000

/* One ares_getaddrinfo in flight.  c-ares holds it until its callback runs,
 * which may be long after the caller cancelled (then q is NULL). */
struct mcf_lookup_task {
    struct mcf_lookup_task *prev, *next; /* mcf_resolver.tasks */
    mcf_resolver *r;
    mcf_lookup *q;             /* NULL once cancelled */
    mcf_spec spec;             /* host for c-ares, port and text for the answer */
    unsigned sock_fail_at_start; /* mcf_resolver.sock_fail_seq then */
};

struct mcf_resolver {
    ares_channel ch;               /* NULL until the first name lookup */
    pid_t pid;                     /* the process that made ch */
    struct stat conf;              /* RESOLV_CONF as ch read it */
    int conf_present;              /* ... and whether it existed */
    struct mcf_lookup_task *tasks; /* every task c-ares holds */
    size_t live;                   /* tasks whose q is set */
    struct mcf_lookup_task *starting; /* inside ares_getaddrinfo for it (start_task) */
    int resetting;                 /* inside reset_channel: keep live tasks ... */
    struct mcf_lookup_task *again; /* ... here, to start them on the new channel */
    char *servers;                 /* mcf_resolver_set_servers, or NULL */
    /* Socket creation failing for lack of descriptors or memory: c-ares
     * reports that as "could not contact DNS servers", which would hide
     * the real cause (MCF_ERR_RESOURCE). */
    unsigned sock_fail_seq;
    int sock_fail_errno;
    void (*closing)(void *arg, int fd); /* mcf_resolver_on_close */
    void *closing_arg;
};

void mcf_resolver_on_close(mcf_resolver *r, void (*closing)(void *arg, int fd), void *arg)
{
    r->closing = closing;
    r->closing_arg = arg;
}

/* ---- c-ares's sockets --------------------------------------------------- */

/* With socket functions set, c-ares configures nothing itself (ares.h):
 * non-blocking, close-on-exec and TCP_NODELAY are ours, atomically. */
static ares_socket_t sock_open(int domain, int type, int protocol, void *arg)
{
    mcf_resolver *r = arg;
    int fd = socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);

    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            r->sock_fail_seq++;
            r->sock_fail_errno = errno;
        }
        return ARES_SOCKET_BAD;
    }
    if (type == SOCK_STREAM) {
        int one = 1;
        /* A query is one write; waiting for an ACK first only adds latency. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return fd;
}

static int sock_close(ares_socket_t fd, void *arg)
{
    mcf_resolver *r = arg;
    if (r->closing)
        r->closing(r->closing_arg, fd);
    return close(fd);
}

static int sock_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len,
                        void *arg)
{
    (void)arg;
    return connect(fd, sa, len);
}

static ares_ssize_t sock_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags,
                                  struct sockaddr *from, ares_socklen_t *fromlen, void *arg)
{
    (void)arg;
    return recvfrom(fd, buf, len, flags, from, fromlen);
}

/* MSG_NOSIGNAL: a DNS server that closed its TCP end must cost an error
 * code, never SIGPIPE. */
static ares_ssize_t sock_sendv(ares_socket_t fd, const struct iovec *iov, int iovcnt, void *arg)
{
    struct msghdr m;
    (void)arg;
    memset(&m, 0, sizeof m);
    m.msg_iov = (struct iovec *)(uintptr_t)iov;
    m.msg_iovlen = (size_t)iovcnt;
    return sendmsg(fd, &m, MSG_NOSIGNAL);
}

static const struct ares_socket_functions sock_funcs = {
    sock_open, sock_close, sock_connect, sock_recvfrom, sock_sendv,
};

/* ---- results ------------------------------------------------------------ */

/* q->err = "resolve SPEC: " + the formatted reason. */
__attribute__((format(printf, 3, 4)))
static void set_err(mcf_lookup *q, const mcf_spec *spec, const char *fmt, ...)
{
    va_list ap;
    int used = snprintf(q->err, sizeof q->err, "resolve %s: ", spec->text);

    if (used < 0 || (size_t)used >= sizeof q->err)
        return; /* the spec alone fills the buffer */
    va_start(ap, fmt);
    vsnprintf(q->err + used, sizeof q->err - (size_t)used, fmt, ap);
    va_end(ap);
}

/* A failed lookup's code and message.  "No such name" and "the DNS server
 * did not answer" must read differently: one is a typo or a missing
 * record, the other a network or resolver outage. */
static int failure(mcf_lookup *q, const struct mcf_lookup_task *t, int status)
{
    const mcf_resolver *r = t->r;
    const char *why;
    const char *ares_why = ares_strerror(status);

    switch (status) {
    case ARES_ENOMEM:
        set_err(q, &t->spec, "out of memory (c-ares: %s)", ares_why);
        return MCF_ERR_NOMEM;
    case ARES_ENOTFOUND:
    case ARES_ENONAME:
        why = "no such name";
        break;
    case ARES_ENODATA:
        why = "the name has no IPv4 or IPv6 address";
        break;
    case ARES_EBADNAME:
        why = "not a valid host name";
        break;
    case ARES_ETIMEOUT:
        why = "DNS server did not answer";
        break;
    case ARES_ECONNREFUSED:
        if (r->sock_fail_seq != t->sock_fail_at_start) {
            set_err(q, &t->spec, "cannot open a socket to the DNS server: %s",
                    strerror(r->sock_fail_errno));
            return MCF_ERR_RESOURCE;
        }
        /* c-ares 1.18 also ends here after SERVFAIL or REFUSED from every
         * server (it tries the next one, then reports this). */
        why = "no DNS server answered usefully (unreachable, refusing or failing)";
        break;
    case ARES_ESERVFAIL:
        why = "DNS server failed (SERVFAIL)";
        break;
    case ARES_EREFUSED:
        why = "DNS server refused the query";
        break;
    case ARES_EFORMERR:
    case ARES_EBADRESP:
    case ARES_ENOTIMP:
        why = "bad answer from the DNS server";
        break;
    default:
        why = "resolver failure";
        break;
    }
    set_err(q, &t->spec, "%s (c-ares: %s)", why, ares_why);
    return MCF_ERR_RESOLVE;
}

static const char *family_of(unsigned fam)
{
    return fam == MCF_FAM_V6 ? "IPv6" : fam == MCF_FAM_V4 ? "IPv4" : "IPv4 or IPv6";
}

static int success(mcf_lookup *q, const struct mcf_lookup_task *t,
                   const struct ares_addrinfo *res)
{
    const struct ares_addrinfo_node *n;
    unsigned host = 0, dropped = 0;
    int host_known = 0;
    /* c-ares 1.18 answers from /etc/hosts inside ares_getaddrinfo, and a
     * DNS answer never comes before a query is sent: an answer during
     * start_task is the hosts file's, which has no TTL. */
    int from_hosts = t->r->starting == t;

    q->list.source = MCF_SOURCE_CARES;
    q->ttl_s = from_hosts ? MCF_TTL_HOSTS : INT_MAX;
    for (n = res ? res->nodes : NULL; n; n = n->ai_next) {
        if (!n->ai_addr)
            continue;
        /* The interfaces are looked at once, and only when there is
         * something to decide. */
        if (!host_known) {
            host = mcf_host_families();
            host_known = 1;
        }
        if (!mcf_addr_keep(n->ai_addr, host)) {
            dropped |= n->ai_family == AF_INET ? MCF_FAM_V4 : MCF_FAM_V6;
            continue;
        }
        mcf_addr_add(&q->list, n->ai_addr, (socklen_t)n->ai_addrlen, t->spec.port);
        if (!from_hosts && n->ai_ttl < q->ttl_s)
            q->ttl_s = n->ai_ttl < 0 ? 0 : n->ai_ttl;
    }
    if (q->list.n == 0) {
        if (dropped)
            set_err(q, &t->spec, "only %s addresses, and this host has no %s address",
                    family_of(dropped), family_of(dropped));
        else
            set_err(q, &t->spec, "no IPv4 or IPv6 address");
        return MCF_ERR_RESOLVE;
    }
    /* A CNAME on the way to the addresses counts too: the answer holds
     * only as long as its shortest-lived record. */
    for (const struct ares_addrinfo_cname *cn = res->cnames; !from_hosts && cn; cn = cn->next)
        if (cn->ttl < q->ttl_s)
            q->ttl_s = cn->ttl < 0 ? 0 : cn->ttl;
    if (dropped)
        q->list.source = dropped == MCF_FAM_V6 ? MCF_SOURCE_CARES_NO_V6 : MCF_SOURCE_CARES_NO_V4;
    mcf_addr_interleave(&q->list);
    return MCF_OK;
}

static void unlink_task(mcf_resolver *r, struct mcf_lookup_task *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        r->tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
}

static void link_task(mcf_resolver *r, struct mcf_lookup_task *t)
{
    t->prev = NULL;
    t->next = r->tasks;
    if (r->tasks)
        r->tasks->prev = t;
    r->tasks = t;
}

/* c-ares's completion callback: the only place a pending mcf_lookup is
 * written. */
static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    struct mcf_lookup_task *t = arg;
    mcf_resolver *r = t->r;
    mcf_lookup *q = t->q;

    (void)timeouts;
    unlink_task(r, t);
    if (status == ARES_EDESTRUCTION && q && r->resetting) {
        t->next = r->again; /* reset_channel starts it again */
        r->again = t;
        if (res)
            ares_freeaddrinfo(res);
        return;
    }
    if (q) {
        memset(&q->list, 0, sizeof q->list);
        q->err[0] = '\0';
        q->rc = status == ARES_SUCCESS ? success(q, t, res) : failure(q, t, status);
        q->task = NULL;
        q->done = 1;
        r->live--;
    }
    if (res)
        ares_freeaddrinfo(res);
    free(t);
}

/* ---- the channel -------------------------------------------------------- */

static void conf_stamp(mcf_resolver *r)
{
    r->conf_present = stat(RESOLV_CONF, &r->conf) == 0;
}

static int conf_changed(const mcf_resolver *r)
{
    struct stat st;
    int present = stat(RESOLV_CONF, &st) == 0;

    if (present != r->conf_present)
        return 1;
    return present && (st.st_dev != r->conf.st_dev || st.st_ino != r->conf.st_ino ||
                       st.st_size != r->conf.st_size ||
                       st.st_mtim.tv_sec != r->conf.st_mtim.tv_sec ||
                       st.st_mtim.tv_nsec != r->conf.st_mtim.tv_nsec);
}

/* Makes r->ch.  Returns MCF_OK or an error code with a message in why. */
static int open_channel(mcf_resolver *r, char *why, size_t whylen)
{
    struct ares_options o;
    int rc;

    memset(&o, 0, sizeof o);
    conf_stamp(r);
    errno = 0;
    rc = ares_init_options(&r->ch, &o, 0);
    if (rc != ARES_SUCCESS) {
        int e = errno;
        r->ch = NULL;
        snprintf(why, whylen, "cannot set up the resolver (c-ares: %s)", ares_strerror(rc));
        if (rc == ARES_ENOMEM)
            return MCF_ERR_NOMEM;
        /* Reading resolv.conf failed for lack of descriptors. */
        return e == EMFILE || e == ENFILE ? MCF_ERR_RESOURCE : MCF_ERR_RESOLVE;
    }
    ares_set_socket_functions(r->ch, &sock_funcs, r);
    if (r->servers && ares_set_servers_ports_csv(r->ch, r->servers) != ARES_SUCCESS) {
        ares_destroy(r->ch);
        r->ch = NULL;
        snprintf(why, whylen, "cannot set the DNS servers '%s'", r->servers);
        return MCF_ERR_RESOLVE;
    }
    r->pid = getpid();
    return MCF_OK;
}

static void start_task(mcf_resolver *r, struct mcf_lookup_task *t)
{
    struct ares_addrinfo_hints hints;

    memset(&hints, 0, sizeof hints);
    /* AF_UNSPEC without ARES_AI_ADDRCONFIG: mcf_addr_keep decides (resolve.h). */
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    t->sock_fail_at_start = r->sock_fail_seq;
    link_task(r, t);
    /* May call on_answer before returning (hosts file, immediate errors). */
    r->starting = t;
    ares_getaddrinfo(r->ch, t->spec.host, NULL, &hints, on_answer, t);
    r->starting = NULL;
}

/* Throws the channel away (after fork, or a changed resolv.conf) and, if
 * restart, makes a new one and starts the live lookups again on it. */
static void reset_channel(mcf_resolver *r, int restart)
{
    struct mcf_lookup_task *t, *next;
    char why[128];
    int rc;

    if (!r->ch)
        return;
    /* Every task's callback runs inside ares_destroy (ARES_EDESTRUCTION):
     * live ones go to r->again, cancelled ones are freed. */
    r->resetting = restart;
    r->again = NULL;
    ares_destroy(r->ch);
    r->ch = NULL;
    r->resetting = 0;
    if (!r->again)
        return;
    rc = open_channel(r, why, sizeof why);
    for (t = r->again, r->again = NULL; t; t = next) {
        next = t->next;
        t->next = NULL;
        if (rc == MCF_OK) {
            start_task(r, t);
        } else {
            mcf_lookup *q = t->q;
            set_err(q, &t->spec, "%s", why);
            q->rc = rc;
            q->task = NULL;
            q->done = 1;
            r->live--;
            free(t);
        }
    }
}

/* The channel this process may use, made or remade as needed. */
static int channel(mcf_resolver *r, char *why, size_t whylen)
{
    if (r->ch && r->pid != getpid())
        reset_channel(r, 1);
    else if (r->ch && !r->tasks && conf_changed(r))
        reset_channel(r, 0);
    if (r->ch)
        return MCF_OK;
    return open_channel(r, why, whylen);
}

/* ---- interface ---------------------------------------------------------- */

mcf_resolver *mcf_resolver_new(void)
{
    return calloc(1, sizeof(mcf_resolver));
}

void mcf_resolver_free(mcf_resolver *r)
{
    struct mcf_lookup_task *t;

    if (!r)
        return;
    /* The callbacks ares_destroy runs write nothing, and the lookups
     * themselves are not touched either (their task pointer dies with r). */
    for (t = r->tasks; t; t = t->next)
        t->q = NULL;
    r->live = 0;
    if (r->ch)
        ares_destroy(r->ch); /* runs every callback, which frees every task */
    free(r->servers);
    free(r);
}

int mcf_resolver_set_servers(mcf_resolver *r, const char *csv)
{
    char *copy = NULL;

    if (!r)
        return MCF_ERR_ARG;
    if (csv) {
        copy = strdup(csv);
        if (!copy)
            return MCF_ERR_NOMEM;
    }
    if (r->ch && copy && ares_set_servers_ports_csv(r->ch, copy) != ARES_SUCCESS) {
        free(copy);
        return MCF_ERR_ARG;
    }
    free(r->servers);
    r->servers = copy;
    /* Back to resolv.conf: only a new channel reads it. */
    if (r->ch && !copy && !r->tasks) {
        ares_destroy(r->ch);
        r->ch = NULL;
    }
    return MCF_OK;
}

static int finish_now(mcf_lookup *q, int rc)
{
    q->ttl_s = MCF_TTL_NONE; /* answered without a lookup, or failed */
    q->rc = rc;
    q->done = 1;
    return rc;
}

int mcf_lookup_start(mcf_resolver *r, const mcf_spec *spec, mcf_lookup *q)
{
    struct mcf_lookup_task *t;
    char why[128];
    int need_lookup, rc;

    if (!q)
        return MCF_ERR_RESOLVE;
    memset(q, 0, sizeof *q);
    if (!spec) {
        snprintf(q->err, sizeof q->err, "resolve: no spec");
        return finish_now(q, MCF_ERR_RESOLVE);
    }
    rc = mcf_addr_local(spec, &q->list, &need_lookup, q->err, sizeof q->err);
    if (rc != MCF_OK || !need_lookup)
        return finish_now(q, rc);
    if (!r) {
        set_err(q, spec, "no resolver");
        return finish_now(q, MCF_ERR_RESOLVE);
    }
    rc = channel(r, why, sizeof why);
    if (rc != MCF_OK) {
        set_err(q, spec, "%s", why);
        return finish_now(q, rc);
    }
    t = calloc(1, sizeof *t);
    if (!t) {
        set_err(q, spec, "out of memory");
        return finish_now(q, MCF_ERR_NOMEM);
    }
    t->r = r;
    t->q = q;
    t->spec = *spec;
    q->task = t;
    r->live++;
    start_task(r, t);
    return q->done ? q->rc : MCF_OK;
}

void mcf_lookup_cancel(mcf_resolver *r, mcf_lookup *q)
{
    if (!r || !q || q->done || !q->task)
        return;
    q->task->q = NULL;
    q->task = NULL;
    r->live--;
    /* Nobody waits for c-ares any more: stop its retransmissions.  Every
     * callback runs inside ares_cancel and frees its task. */
    if (r->live == 0 && r->ch && r->pid == getpid())
        ares_cancel(r->ch);
}

size_t mcf_resolver_pollset(mcf_resolver *r, struct pollfd *out, size_t cap, int64_t *timer_us)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    struct timeval tv, *left;
    size_t n = 0;
    unsigned bits;
    int i;

    if (timer_us)
        *timer_us = INT64_MAX;
    if (!r || !r->ch)
        return 0;
    if (r->pid != getpid())
        reset_channel(r, 1);
    if (!r->ch || !r->tasks)
        return 0;
    /* Bit i: socks[i] readable, bit i + ARES_GETSOCK_MAXNUM: writable.
     * Tested on an unsigned copy: ARES_GETSOCK_WRITABLE shifts a signed 1
     * into the sign bit for the last socket (undefined behaviour). */
    bits = (unsigned)ares_getsock(r->ch, socks, ARES_GETSOCK_MAXNUM);
    for (i = 0; i < ARES_GETSOCK_MAXNUM && n < cap; i++) {
        short ev = 0;
        if (bits & 1u << i)
            ev |= POLLIN;
        if (bits & 1u << (i + ARES_GETSOCK_MAXNUM))
            ev |= POLLOUT;
        if (!ev)
            continue;
        out[n].fd = socks[i];
        out[n].events = ev;
        out[n].revents = 0;
        n++;
    }
    left = ares_timeout(r->ch, NULL, &tv);
    if (left && timer_us)
        *timer_us = mcf_now_us() + (int64_t)left->tv_sec * US_PER_SEC + left->tv_usec;
    return n;
}

void mcf_resolver_step(mcf_resolver *r, const struct pollfd *fds, size_t n)
{
    size_t i;
    int processed = 0;

    if (!r || !r->ch)
        return;
    if (r->pid != getpid()) {
        reset_channel(r, 1);
        return; /* the events were for the parent's sockets */
    }
    for (i = 0; i < n && r->ch; i++) {
        /* Errors and hang-ups are read so that c-ares sees them (an ICMP
         * port unreachable on UDP, a closed TCP connection); POLLNVAL: the
         * descriptor is gone, nothing to read. */
        short ev = fds[i].revents;
        ares_socket_t rd = ev & (POLLIN | POLLERR | POLLHUP) ? fds[i].fd : ARES_SOCKET_BAD;
        ares_socket_t wr = ev & (POLLOUT | POLLERR | POLLHUP) ? fds[i].fd : ARES_SOCKET_BAD;
        if (ev & POLLNVAL || (rd == ARES_SOCKET_BAD && wr == ARES_SOCKET_BAD))
            continue;
        ares_process_fd(r->ch, rd, wr);
        processed = 1;
    }
    /* Every ares_process_fd also runs the timers; without events, just those. */
    if (!processed)
        ares_process_fd(r->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

int mcf_resolver_busy(const mcf_resolver *r)
{
    return r && r->live > 0;
}

/* ---- blocking ------------------------------------------------------------ */

int mcf_lookup_wait(mcf_resolver *r, mcf_lookup *q, int timeout_ms)
{
    int64_t deadline = mcf_now_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * US_PER_MS;

    if (!q)
        return MCF_ERR_ARG;
    while (!q->done && q->task) {
        struct pollfd fds[MCF_RESOLVER_MAX_FDS];
        int64_t timer;
        size_t nfds = mcf_resolver_pollset(r, fds, MCF_RESOLVER_MAX_FDS, &timer);
        int ready = 0, e = 0;

        if (mcf_now_us() < deadline) {
            ready = poll(fds, nfds, mcf_ms_left(timer < deadline ? timer : deadline));
            if (ready >= 0 || errno == EINTR) {
                mcf_resolver_step(r, fds, ready > 0 ? nfds : 0);
                continue;
            }
            e = errno;
        }
        /* Out of time, or poll failed: the lookup is abandoned. */
        if (e)
            set_err(q, &q->task->spec, "poll: %s", strerror(e));
        else
            set_err(q, &q->task->spec, "DNS server did not answer within %d ms", timeout_ms);
        mcf_lookup_cancel(r, q);
        memset(&q->list, 0, sizeof q->list);
        q->rc = e == ENOMEM ? MCF_ERR_NOMEM : MCF_ERR_RESOLVE;
        q->done = 1;
    }
    return q->done ? q->rc : MCF_ERR_ARG;
}

int mcf_resolve_timeout(const mcf_spec *spec, mcf_addrlist *out, int timeout_ms, char *err,
                        size_t errlen)
{
    mcf_resolver *r;
    mcf_lookup q;
    int need_lookup, rc;

    if (!out)
        return MCF_ERR_RESOLVE;
    memset(out, 0, sizeof *out);
    if (!spec) {
        if (err && errlen)
            snprintf(err, errlen, "resolve: no spec");
        return MCF_ERR_RESOLVE;
    }
    /* Literals, localhost and unix paths: no resolver, no allocation. */
    rc = mcf_addr_local(spec, out, &need_lookup, err, errlen);
    if (rc != MCF_OK || !need_lookup)
        return rc;

    r = mcf_resolver_new();
    if (!r) {
        if (err && errlen)
            snprintf(err, errlen, "resolve %s: out of memory", spec->text);
        return MCF_ERR_NOMEM;
    }
    mcf_lookup_start(r, spec, &q);
    rc = mcf_lookup_wait(r, &q, timeout_ms);
    mcf_resolver_free(r);
    if (rc == MCF_OK) {
        *out = q.list;
        return MCF_OK;
    }
    if (err && errlen)
        snprintf(err, errlen, "%s", q.err);
    return rc;
}

int mcf_resolve(const mcf_spec *spec, mcf_addrlist *out, char *err, size_t errlen)
{
    return mcf_resolve_timeout(spec, out, MCF_RESOLVE_DEFAULT_TIMEOUT_MS, err, errlen);
}

void mcf_resolver_poll_now(mcf_resolver *r)
{
    struct pollfd pfd[MCF_RESOLVER_MAX_FDS];
    int64_t timer;
    size_t n = mcf_resolver_pollset(r, pfd, MCF_RESOLVER_MAX_FDS, &timer);
    if (n && poll(pfd, (nfds_t)n, 0) < 0)
        n = 0; /* EINTR: timers only this time */
    mcf_resolver_step(r, pfd, n);
}
