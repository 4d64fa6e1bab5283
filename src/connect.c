/* connect.c - owns opening a connection: Happy Eyeballs v2 (RFC 8305 §5) under one deadline. */
#include "connect.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "mcfast.h"
#include "resolve.h"

#define DEFAULT_TIMEOUT_MS 1000
#define DEFAULT_ATTEMPT_DELAY_MS 250
/* RFC 8305 §5: the Connection Attempt Delay MUST NOT go below 10 ms. */
#define MIN_ATTEMPT_DELAY_MS 10
/* A non-blocking AF_UNIX connect to a full listen backlog fails with
 * EAGAIN and cannot be polled for progress, so it is retried this often. */
#define UNIX_RETRY_US 5000
/* Cause code for a TCP socket that connected to itself (see check_self). */
#define ERR_SELF (-1)

enum { AT_IDLE, AT_INFLIGHT, AT_UNIX_WAIT, AT_FAILED, AT_WON };

typedef mcf_hev_attempt attempt;

/* Appends to a message, staying NUL-terminated when it runs out of room. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static void append(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int r;

    if (!buf || cap == 0 || *used + 1 >= cap)
        return;
    va_start(ap, fmt);
    r = vsnprintf(buf + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    *used += (size_t)r < cap - *used ? (size_t)r : cap - *used - 1;
}

/* Lower-case phrases for messages that read as one sentence. */
static void cause_text(int cause, char *buf, size_t len)
{
    const char *s;

    switch (cause) {
    case ERR_SELF: s = "connection refused (socket connected to itself)"; break;
    case ECONNREFUSED: s = "connection refused"; break;
    case EHOSTUNREACH: s = "no route to host"; break;
    case ENETUNREACH: s = "network is unreachable"; break;
    case ETIMEDOUT: s = "timed out (by the kernel)"; break;
    case ECONNRESET: s = "connection reset"; break;
    case ENOENT: s = "no such file or directory"; break;
    case EACCES: s = "permission denied"; break;
    case EPERM: s = "operation not permitted"; break;
    case EADDRNOTAVAIL: s = "cannot assign requested address"; break;
    case EAFNOSUPPORT: s = "address family not supported"; break;
    case EMFILE: s = "too many open files"; break;
    case ENOTSOCK: s = "not a socket"; break;
    case EPIPE: s = "connection closed"; break;
    default: {
        const char *e = strerror(cause);
        snprintf(buf, len, "%s", e ? e : "unknown error");
        if (buf[0] >= 'A' && buf[0] <= 'Z' && (buf[1] < 'A' || buf[1] > 'Z'))
            buf[0] = (char)(buf[0] - 'A' + 'a');
        return;
    }
    }
    snprintf(buf, len, "%s", s);
}

static void close_attempt(const mcf_hev *h, attempt *a)
{
    if (a->fd >= 0) {
        if (h->closing)
            h->closing(h->closing_arg, a->fd);
        close(a->fd);
    }
    a->fd = -1;
}

static void fail_attempt(const mcf_hev *h, attempt *a, int cause)
{
    close_attempt(h, a);
    a->state = AT_FAILED;
    a->cause = cause;
}

/* Linux lets a TCP socket connect to itself (simultaneous open) when the
 * kernel picks the target port as the source port and nothing listens
 * there: a "success" that is really a refusal. */
static int check_self(int fd, int family)
{
    struct sockaddr_storage l, p;
    socklen_t ll = sizeof l, pl = sizeof p;

    if (family != AF_INET && family != AF_INET6)
        return 0;
    if (getsockname(fd, (struct sockaddr *)&l, &ll) != 0 ||
        getpeername(fd, (struct sockaddr *)&p, &pl) != 0)
        return 0;
    return ll == pl && memcmp(&l, &p, ll) == 0;
}

static void connect_step(const mcf_hev *h, attempt *a, const mcf_addr *addr, int64_t now)
{
    if (connect(a->fd, (const struct sockaddr *)&addr->ss, addr->len) == 0) {
        a->state = AT_WON;
        return;
    }
    switch (errno) {
    case EINPROGRESS:
    case EINTR: /* TCP: the connection goes on asynchronously (POSIX) */
    case EALREADY:
        if (addr->family != AF_UNIX) {
            a->state = AT_INFLIGHT;
            return;
        }
        /* An unconnected unix socket polls writable, so a unix attempt is
         * never polled: it is retried instead. */
        /* fall through */
    case EAGAIN:
        if (addr->family == AF_UNIX) {
            a->state = AT_UNIX_WAIT;
            a->retry_us = now + UNIX_RETRY_US;
            return;
        }
        fail_attempt(h, a, EAGAIN);
        return;
    case EISCONN:
        a->state = AT_WON;
        return;
    default:
        fail_attempt(h, a, errno);
        return;
    }
}

static void start_attempt(const mcf_hev *h, attempt *a, const mcf_addr *addr, int64_t now)
{
    a->start_us = now;
    a->fd = socket(addr->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->fd < 0) {
        a->state = AT_FAILED;
        a->cause = errno;
        return;
    }
    connect_step(h, a, addr, now);
}

static void tune_winner(int fd, int family, int keepalive)
{
    int one = 1;

    /* Failures here are not worth losing a working connection over. */
    if (family == AF_INET || family == AF_INET6) {
        /* Requests are written whole; Nagle would only delay them. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (keepalive)
            (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    }
#ifdef SO_NOSIGPIPE
    /* BSDs; on Linux every send uses MSG_NOSIGNAL instead. */
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
}

static void report(const char *label, const mcf_addrlist *addrs, const attempt *at,
                   int64_t deadline_us, int64_t t0_us, int64_t resolved_us, char *err,
                   size_t errlen)
{
    size_t used = 0, i;
    int any_started = 0;

    if (!err || errlen == 0)
        return;
    err[0] = '\0';
    append(err, errlen, &used, "connect %s: ", label ? label : "?");
    for (i = 0; i < addrs->n; i++)
        any_started |= at[i].state != AT_IDLE;
    if (!any_started && resolved_us > t0_us)
        append(err, errlen, &used, "name resolution took %lld ms of %lld ms; ",
               (long long)((resolved_us - t0_us + 500) / 1000),
               (long long)((deadline_us - t0_us) / 1000));
    for (i = 0; i < addrs->n; i++) {
        char a[MCF_ADDRSTR_MAX], why[128];
        mcf_addr_format(&addrs->addr[i], a, sizeof a);
        switch (at[i].state) {
        case AT_IDLE:
            snprintf(why, sizeof why, "not attempted (deadline)");
            break;
        case AT_INFLIGHT:
            snprintf(why, sizeof why, "timed out after %lld ms",
                     (long long)((deadline_us - at[i].start_us + 500) / 1000));
            break;
        case AT_UNIX_WAIT:
            snprintf(why, sizeof why, "timed out after %lld ms (listen backlog full)",
                     (long long)((deadline_us - at[i].start_us + 500) / 1000));
            break;
        default:
            cause_text(at[i].cause, why, sizeof why);
        }
        append(err, errlen, &used, "%s%s %s", i ? "; " : "", a, why);
    }
}

void mcf_hev_start(mcf_hev *h, const char *label, const mcf_addrlist *addrs,
                   const mcf_connect_opts *opts, int64_t t0_us, int64_t now_us)
{
    int timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    int delay_ms = opts ? opts->attempt_delay_ms : DEFAULT_ATTEMPT_DELAY_MS;

    memset(h, 0, sizeof *h);
    snprintf(h->label, sizeof h->label, "%s", label ? label : "?");
    h->delay_ms = delay_ms < MIN_ATTEMPT_DELAY_MS ? MIN_ATTEMPT_DELAY_MS : delay_ms;
    h->keepalive = opts ? opts->keepalive : 0;
    h->t0_us = t0_us;
    h->deadline_us = t0_us + (int64_t)timeout_ms * 1000;
    h->winner = -1;
    h->addrs = *addrs;
    if (h->addrs.n > MCF_MAX_ADDRS)
        h->addrs.n = MCF_MAX_ADDRS;
    h->resolved_us = now_us;
    for (size_t i = 0; i < MCF_MAX_ADDRS; i++) {
        h->at[i].state = AT_IDLE;
        h->at[i].fd = -1;
    }
    h->next_at = now_us;
}

void mcf_hev_abort(mcf_hev *h)
{
    for (size_t i = 0; i < h->next; i++)
        close_attempt(h, &h->at[i]);
    h->next = 0;
}

/* RFC 8305 §5: the next attempt starts when the Connection Attempt Delay
 * has passed, or at once when nothing else is in flight (the previous one
 * failed); earlier attempts keep running. */
static void start_due_attempts(mcf_hev *h, int64_t now)
{
    size_t active = 0;

    for (size_t i = 0; i < h->next; i++)
        active += h->at[i].state == AT_INFLIGHT || h->at[i].state == AT_UNIX_WAIT;
    while (h->winner < 0 && h->next < h->addrs.n && now < h->deadline_us &&
           (now >= h->next_at || active == 0)) {
        attempt *a = &h->at[h->next];
        start_attempt(h, a, &h->addrs.addr[h->next], now);
        h->next++;
        if (a->state == AT_WON) {
            h->winner = (long)(h->next - 1);
        } else if (a->state == AT_FAILED) {
            h->next_at = now;
        } else {
            active++;
            h->next_at = now + (int64_t)h->delay_ms * 1000;
        }
    }
}

/* Collects the attempts in flight that have finished (poll with a zero
 * timeout, so whoever owns the event loop only has to say "something
 * happened"), and retries unix attempts whose wait is over. */
static int collect_attempts(mcf_hev *h, int64_t now)
{
    struct pollfd pfd[MCF_MAX_ADDRS];
    size_t pidx[MCF_MAX_ADDRS], np = 0;

    for (size_t i = 0; i < h->next; i++)
        if (h->at[i].state == AT_INFLIGHT) {
            pfd[np] = (struct pollfd){h->at[i].fd, POLLOUT, 0};
            pidx[np++] = i;
        }
    int r = np ? poll(pfd, (nfds_t)np, 0) : 0;
    if (r < 0 && errno != EINTR)
        return -errno;
    for (size_t k = 0; k < np && r > 0; k++) {
        attempt *a = &h->at[pidx[k]];
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (pfd[k].revents == 0)
            continue;
        if (getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        if (soerr == 0 && !(pfd[k].revents & POLLOUT))
            soerr = EPIPE;
        if (soerr == 0 && check_self(a->fd, h->addrs.addr[pidx[k]].family))
            soerr = ERR_SELF;
        if (soerr == 0) {
            /* The first to complete wins; list order breaks ties. */
            if (h->winner < 0)
                h->winner = (long)pidx[k];
            a->state = AT_WON;
        } else {
            fail_attempt(h, a, soerr);
            h->next_at = now; /* a failure starts the next attempt at once */
        }
    }
    for (size_t i = 0; i < h->next && h->winner < 0; i++) {
        if (h->at[i].state == AT_UNIX_WAIT && now >= h->at[i].retry_us) {
            connect_step(h, &h->at[i], &h->addrs.addr[i], now);
            if (h->at[i].state == AT_WON)
                h->winner = (long)i;
            else if (h->at[i].state == AT_FAILED)
                h->next_at = now;
        }
    }
    return 0;
}

static int finish_hev(mcf_hev *h, int rc, int64_t now, mcf_connected *out, char *err,
                      size_t errlen)
{
    out->elapsed_ms = (double)(now - h->t0_us) / 1000.0;
    if (rc == MCF_OK) {
        attempt *w = &h->at[h->winner];
        for (size_t i = 0; i < h->next; i++)
            if ((long)i != h->winner)
                close_attempt(h, &h->at[i]);
        tune_winner(w->fd, h->addrs.addr[h->winner].family, h->keepalive);
        out->fd = w->fd;
        out->addr = h->addrs.addr[h->winner];
        w->fd = -1; /* the caller owns it now */
        h->next = 0;
        return MCF_OK;
    }
    report(h->label, &h->addrs, h->at, h->deadline_us, h->t0_us, h->resolved_us, err, errlen);
    mcf_hev_abort(h);
    out->fd = -1;
    return rc;
}

int mcf_hev_step(mcf_hev *h, int64_t now, mcf_connected *out, char *err, size_t errlen)
{
    if (h->addrs.n == 0) {
        if (err && errlen)
            snprintf(err, errlen, "connect %s: no address to connect to", h->label);
        out->fd = -1;
        return MCF_ERR_CONNECT;
    }
    if (h->winner < 0) {
        int e = collect_attempts(h, now);
        if (e < 0) {
            if (err && errlen)
                snprintf(err, errlen, "connect %s: poll: %s", h->label, strerror(-e));
            mcf_hev_abort(h);
            out->fd = -1;
            return e == -ENOMEM ? MCF_ERR_NOMEM : MCF_ERR_CONNECT;
        }
    }
    start_due_attempts(h, now);
    if (h->winner >= 0)
        return finish_hev(h, MCF_OK, now, out, err, errlen);
    size_t active = 0;
    for (size_t i = 0; i < h->next; i++)
        active += h->at[i].state == AT_INFLIGHT || h->at[i].state == AT_UNIX_WAIT;
    if (active == 0 && h->next >= h->addrs.n) {
        /* Every address failed: the servers' fault, unless we ran out of
         * descriptors or memory. */
        int rc = MCF_ERR_CONNECT;
        for (size_t i = 0; i < h->next; i++) {
            int e = h->at[i].cause;
            if (e == EMFILE || e == ENFILE)
                rc = MCF_ERR_RESOURCE;
            else if ((e == ENOMEM || e == ENOBUFS) && rc == MCF_ERR_CONNECT)
                rc = MCF_ERR_NOMEM;
        }
        return finish_hev(h, rc, now, out, err, errlen);
    }
    if (now >= h->deadline_us)
        return finish_hev(h, MCF_ERR_TIMEOUT, now, out, err, errlen);
    return MCF_IN_PROGRESS;
}

size_t mcf_hev_pollset(const mcf_hev *h, struct pollfd *out, size_t cap, int64_t *wake_us)
{
    size_t np = 0;
    int64_t wake = h->deadline_us;

    if (h->next < h->addrs.n && h->next_at < wake)
        wake = h->next_at;
    for (size_t i = 0; i < h->next; i++) {
        if (h->at[i].state == AT_INFLIGHT && np < cap)
            out[np++] = (struct pollfd){h->at[i].fd, POLLOUT, 0};
        else if (h->at[i].state == AT_UNIX_WAIT && h->at[i].retry_us < wake)
            wake = h->at[i].retry_us;
    }
    *wake_us = wake;
    return np;
}

/* The blocking connect: the state machine driven by poll until it is done. */
static int run_hev(mcf_hev *h, mcf_connected *out, char *err, size_t errlen)
{
    for (;;) {
        int64_t now = mcf_now_us(), wake;
        int rc = mcf_hev_step(h, now, out, err, errlen);
        if (rc != MCF_IN_PROGRESS)
            return rc;
        struct pollfd pfd[MCF_MAX_ADDRS];
        size_t np = mcf_hev_pollset(h, pfd, MCF_MAX_ADDRS, &wake);
        now = mcf_now_us();
        /* Rounded up so poll never returns just before the moment it waits for. */
        int r = poll(pfd, (nfds_t)np, wake > now ? (int)((wake - now + 999) / 1000) : 0);
        if (r < 0 && errno != EINTR) {
            int e = errno;
            if (err && errlen)
                snprintf(err, errlen, "connect %s: poll: %s", h->label, strerror(e));
            mcf_hev_abort(h);
            return e == ENOMEM ? MCF_ERR_NOMEM : MCF_ERR_CONNECT;
        }
    }
}

int mcf_connect(const mcf_spec *spec, const mcf_connect_opts *opts, mcf_connected *out,
                char *err, size_t errlen)
{
    mcf_addrlist addrs;
    int64_t t0 = mcf_now_us();
    int rc;

    if (!spec || !out) {
        if (err && errlen)
            snprintf(err, errlen, "connect: no spec");
        return MCF_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    out->fd = -1;
    rc = mcf_resolve_timeout(spec, &addrs,
                             opts && opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS,
                             err, errlen);
    if (rc) {
        out->elapsed_ms = (double)(mcf_now_us() - t0) / 1000.0;
        return rc;
    }
    /* getaddrinfo cannot be interrupted, but its time counts against the
     * deadline: attempts get only what is left. */
    mcf_hev h;
    mcf_hev_start(&h, spec->text, &addrs, opts, t0, mcf_now_us());
    return run_hev(&h, out, err, errlen);
}

int mcf_connect_addrs(const char *label, const mcf_addrlist *addrs,
                      const mcf_connect_opts *opts, mcf_connected *out, char *err,
                      size_t errlen)
{
    int64_t t0 = mcf_now_us();

    if (!addrs || !out) {
        if (err && errlen)
            snprintf(err, errlen, "connect %s: no addresses", label ? label : "?");
        return MCF_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    out->fd = -1;
    mcf_hev h;
    mcf_hev_start(&h, label, addrs, opts, t0, t0);
    return run_hev(&h, out, err, errlen);
}
