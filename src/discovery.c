/* discovery.c - the poller of discovery.h: connect to the configuration
 * endpoint (conn.c, without blocking), ask "config get cluster", parse the
 * reply (discovery_parse.c), keep a newer list pending until no async
 * request is in flight, install it.  The endpoint's connection is kept
 * between polls (AWS's cluster client does the same); a failure closes it
 * and the next poll connects again.  A poll's errors never reach the
 * caller's calls: they are the poll's own (mcf_discovery_get_info). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "clock.h"
#include "discovery.h"
#include "discovery_parse.h"

/* What AWS's ElastiCache Cluster Client polls at by default (60 s). */
#define INTERVAL_DEFAULT_MS 60000
#define US_PER_MS 1000
/* One node's spec text: "[" ip "]:" port, or host ":" port. */
#define NODE_SPEC_MAX (MCF_DISC_HOST_MAX + 16)
/* Room for the last poll's error: the endpoint's name and a reason. */
#define ERROR_MAX 768

enum { PHASE_IDLE, PHASE_CONNECTING, PHASE_ASKING };

struct mcf_discovery {
    mcf_server srv; /* the endpoint: never in c->servers */
    char endpoint[MCF_SPEC_TEXT_MAX];
    int interval_ms;
    int phase;
    int legacy; /* ask "get AmazonElastiCache:cluster" (the endpoint said ERROR to config) */
    int64_t next_poll_us, deadline_us, last_end_us;
    mcf_install_fn install;

    int have_version;
    uint64_t version; /* of the list applied */
    size_t nodes;
    int pending;
    uint64_t pending_version;
    mcf_spec *pending_specs;
    size_t npending;

    uint64_t polls, failures;
    int last_rc;
    char last_error[ERROR_MAX];
};

/* The poll's messages are its own (its last_error): the caller's last
 * error is set aside while it runs (mcf_error_aside). */

/* Records a failure of the poll's (why: printf-style), for the info call. */
static void vnote(mcf_discovery *d, int rc, const char *fmt, va_list ap)
{
    d->failures++;
    d->last_rc = rc;
    int n = snprintf(d->last_error, sizeof d->last_error, "endpoint %s: ", d->endpoint);
    if (n < 0 || (size_t)n >= sizeof d->last_error)
        n = 0;
    vsnprintf(d->last_error + n, sizeof d->last_error - (size_t)n, fmt, ap);
}

static void note(mcf_discovery *d, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void note(mcf_discovery *d, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(d, rc, fmt, ap);
    va_end(ap);
}

/* The poll ends: rc MCF_OK or its error (why: printf-style). */
static int finish(mcf_client *c, mcf_discovery *d, int64_t now, int rc, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static int finish(mcf_client *c, mcf_discovery *d, int64_t now, int rc, const char *fmt, ...)
{
    mcf_server *s = &d->srv;
    d->phase = PHASE_IDLE;
    d->polls++;
    d->last_end_us = now;
    d->next_poll_us = now + (int64_t)d->interval_ms * US_PER_MS;
    d->last_rc = rc;
    d->last_error[0] = 0;
    if (rc != MCF_OK) {
        va_list ap;
        va_start(ap, fmt);
        vnote(d, rc, fmt, ap);
        va_end(ap);
        mcf_conn_open_abort(c, s);
        if (s->fd >= 0)
            mcf_conn_abort(s);
    } else if (s->rpos != s->rlen && s->fd >= 0) {
        mcf_conn_abort(s); /* bytes after the reply: out of step */
    }
    s->rlen = s->rpos = 0;
    return rc;
}

/* The last error conn.c noted, for a failed connect. */
static const char *noted(const mcf_client *c)
{
    return c->err[0] ? c->err : "connect failed";
}

static int ask(mcf_client *c, mcf_discovery *d, int64_t now)
{
    mcf_server *s = &d->srv;
    s->rlen = s->rpos = 0;
    d->deadline_us = now + (int64_t)c->io_timeout_ms * US_PER_MS;
    d->phase = PHASE_ASKING;
    if (mcf_conn_set_lowat(s, 1) < 0)
        return finish(c, d, now, MCF_ERR_IO, "%s", strerror(errno));
    const char *req = d->legacy ? MCF_DISC_REQUEST_LEGACY : MCF_DISC_REQUEST;
    /* A few bytes on a fresh or idle connection: the socket takes them
     * without waiting. */
    int e = mcf_conn_send_bytes(s, req, strlen(req), d->deadline_us);
    if (e == -ETIMEDOUT)
        return finish(c, d, now, MCF_ERR_TIMEOUT, "could not send within the I/O timeout");
    if (e < 0) {
        const char *why;
        int rc = mcf_conn_failure(s, e, &why);
        return finish(c, d, now, rc, "sending the request: %s", why);
    }
    return MCF_IN_PROGRESS;
}

/* A node's spec text: the ip when given (bracketed when IPv6), else the
 * host. */
static int node_spec(const mcf_disc_node *n, mcf_spec *out, char *err, size_t errlen)
{
    char text[NODE_SPEC_MAX];
    int len;
    if (n->ip_len == 0)
        len = snprintf(text, sizeof text, "%.*s:%u", (int)n->host_len, n->host, n->port);
    else if (memchr(n->ip, ':', n->ip_len))
        len = snprintf(text, sizeof text, "[%.*s]:%u", (int)n->ip_len, n->ip, n->port);
    else
        len = snprintf(text, sizeof text, "%.*s:%u", (int)n->ip_len, n->ip, n->port);
    if (len < 0 || (size_t)len >= sizeof text) {
        snprintf(err, errlen, "a node's spec is too long");
        return MCF_ERR_BAD_SPEC;
    }
    return mcf_spec_parse(text, (size_t)len, out, err, errlen);
}

/* A whole reply: a newer version becomes the pending list. */
static int take(mcf_client *c, mcf_discovery *d, const mcf_disc_reply *r, int64_t now)
{
    mcf_server *s = &d->srv;
    s->rpos += r->consumed;
    uint64_t newest = d->pending ? d->pending_version : d->version;
    if ((d->have_version || d->pending) && r->version <= newest)
        return finish(c, d, now, MCF_OK, "unchanged");
    if (r->nnodes == 0)
        return finish(c, d, now, MCF_ERR_PROTOCOL,
                      "version %llu lists no node: the last list is kept",
                      (unsigned long long)r->version);
    mcf_spec *specs = malloc(r->nnodes * sizeof *specs);
    if (!specs)
        return finish(c, d, now, MCF_ERR_NOMEM, "out of memory");
    size_t pos = 0, n = 0;
    mcf_disc_node node;
    char why[256];
    while (n < r->nnodes && mcf_disc_next_node(r, &pos, &node)) {
        if (node_spec(&node, &specs[n], why, sizeof why) != MCF_OK) {
            free(specs);
            return finish(c, d, now, MCF_ERR_PROTOCOL, "version %llu: %s",
                          (unsigned long long)r->version, why);
        }
        n++;
    }
    free(d->pending_specs);
    d->pending_specs = specs;
    d->npending = n;
    d->pending = 1;
    d->pending_version = r->version;
    return finish(c, d, now, MCF_OK, "new list");
}

static int read_reply(mcf_client *c, mcf_discovery *d, int64_t now)
{
    mcf_server *s = &d->srv;
    for (;;) {
        mcf_disc_reply r = {0};
        char why[256];
        /* Nothing read yet: no buffer either (rbuf may be NULL). */
        int p = s->rlen > s->rpos ? mcf_disc_parse(s->rbuf + s->rpos, s->rlen - s->rpos, &r,
                                                   why, sizeof why)
                                  : MCF_DISC_NEED_MORE;
        if (p == MCF_DISC_OK)
            return take(c, d, &r, now);
        if (p == MCF_DISC_ERROR && r.unknown_command && !d->legacy) {
            /* An engine before 1.4.14 has no config command: asked the
             * older way, on the same connection, at once. */
            d->legacy = 1;
            return ask(c, d, now);
        }
        if (p == MCF_DISC_ERROR)
            return finish(c, d, now, MCF_ERR_PROTOCOL, "%s", why);
        ssize_t got = mcf_conn_recv(s, 0, 0);
        if (got == 0)
            return finish(c, d, now, MCF_ERR_IO, "connection closed by the endpoint");
        if (got == -EAGAIN)
            break;
        if (got < 0) {
            const char *w;
            int rc = mcf_conn_failure(s, got, &w);
            return finish(c, d, now, rc, "%s", w);
        }
    }
    if (now >= d->deadline_us)
        return finish(c, d, now, MCF_ERR_TIMEOUT, "no whole answer within the I/O timeout");
    return MCF_IN_PROGRESS;
}

static int start(mcf_client *c, mcf_discovery *d, int64_t now)
{
    mcf_server *s = &d->srv;
    /* The last poll's connection, when it is still in step. */
    if (s->fd >= 0 && !s->connecting && mcf_conn_idle_ok(s))
        return ask(c, d, now);
    mcf_conn_open_abort(c, s);
    if (s->fd >= 0)
        mcf_conn_abort(s);
    d->phase = PHASE_CONNECTING;
    int rc = mcf_conn_open_start(c, s, now);
    if (rc == MCF_OK)
        return ask(c, d, now);
    if (rc != MCF_IN_PROGRESS)
        return finish(c, d, now, rc, "%s", noted(c));
    return rc;
}

static int step(mcf_client *c, mcf_discovery *d, int64_t now)
{
    mcf_server *s = &d->srv;
    if (d->phase == PHASE_CONNECTING) {
        /* A connect closed under the poll (fork: conn.c) ends it. */
        if (!s->connecting)
            return finish(c, d, now, MCF_ERR_CONNECT, "the connect was abandoned");
        int rc = mcf_conn_open_step(c, s, now);
        if (rc == MCF_IN_PROGRESS)
            return rc;
        if (rc != MCF_OK)
            return finish(c, d, now, rc, "%s", noted(c));
        return ask(c, d, now);
    }
    if (s->fd < 0)
        return finish(c, d, now, MCF_ERR_IO, "the connection was closed");
    return read_reply(c, d, now);
}

void mcf_discovery_tick(mcf_client *c, int64_t now)
{
    mcf_discovery *d = c->disc;
    if (!d || (d->phase == PHASE_IDLE && now < d->next_poll_us))
        return;
    mcf_saved_error e;
    mcf_error_aside(c, &e);
    if (d->phase == PHASE_IDLE)
        start(c, d, now);
    else
        step(c, d, now);
    mcf_error_restore(c, &e);
}

void mcf_discovery_apply(mcf_client *c)
{
    mcf_discovery *d = c->disc;
    if (!d || !d->pending || c->inflight)
        return;
    mcf_spec *specs = d->pending_specs;
    size_t n = d->npending;
    d->pending = 0;
    d->pending_specs = NULL;
    d->npending = 0;
    mcf_saved_error e;
    mcf_error_aside(c, &e);
    int rc = d->install(c, specs, n); /* takes specs */
    if (rc == MCF_OK) {
        d->have_version = 1;
        d->version = d->pending_version;
        d->nodes = n;
    } else {
        note(d, rc, "version %llu could not be installed: %s",
             (unsigned long long)d->pending_version, c->err);
    }
    mcf_error_restore(c, &e);
}

size_t mcf_discovery_pollset(const mcf_client *c, struct pollfd *out, size_t cap,
                             int64_t *wake_us)
{
    const mcf_discovery *d = c->disc;
    *wake_us = INT64_MAX;
    if (!d)
        return 0;
    const mcf_server *s = &d->srv;
    if (d->phase == PHASE_CONNECTING && s->connecting)
        return mcf_conn_open_pollset(c, s, out, cap, wake_us);
    if (d->phase == PHASE_ASKING && s->fd >= 0) {
        *wake_us = d->deadline_us;
        if (cap == 0)
            return 0;
        out[0] = (struct pollfd){s->fd, POLLIN, 0};
        return 1;
    }
    /* Idle, or a phase whose socket is gone: the next step settles it. */
    *wake_us = d->phase == PHASE_IDLE ? d->next_poll_us : 0;
    return 0;
}

int mcf_discovery_owns(const mcf_client *c, const mcf_server *s)
{
    return c->disc && s == &c->disc->srv;
}

void mcf_discovery_disconnect(mcf_client *c)
{
    mcf_discovery *d = c->disc;
    if (!d)
        return;
    /* A poll cut short is not the endpoint's failure: it is asked again
     * at the next step, as if due. */
    if (d->phase != PHASE_IDLE)
        d->next_poll_us = 0;
    d->phase = PHASE_IDLE;
    mcf_conn_open_abort(c, &d->srv);
    mcf_conn_close(&d->srv);
    d->srv.rlen = d->srv.rpos = 0;
}

void mcf_discovery_free(mcf_client *c)
{
    mcf_discovery *d = c->disc;
    if (!d)
        return;
    /* A connection inherited across fork() is only closed (conn.c). */
    mcf_conn_check_fork(c);
    c->side_server = NULL;
    mcf_conn_free(c, &d->srv);
    free(d->pending_specs);
    free(d);
    c->disc = NULL;
}

int mcf_discovery_set(mcf_client *c, const char *endpoint, int interval_ms,
                      mcf_install_fn install)
{
    if (interval_ms < 0)
        return mcf_set_error(c, MCF_ERR_ARG, "mcf_set_discovery: interval_ms < 0");
    if (!endpoint) {
        mcf_discovery_free(c);
        return MCF_OK;
    }
    mcf_spec spec;
    char msg[512];
    int rc = mcf_spec_parse(endpoint, strlen(endpoint), &spec, msg, sizeof msg);
    if (rc != MCF_OK)
        return mcf_set_error(c, rc, "mcf_set_discovery: %s", msg);
    mcf_discovery *d = calloc(1, sizeof *d);
    if (!d)
        return mcf_set_error(c, MCF_ERR_NOMEM, "out of memory");
    mcf_discovery_free(c); /* a new endpoint starts over */
    d->srv.client = c;
    d->srv.spec = spec;
    d->srv.fd = -1;
    d->srv.held_off = SIZE_MAX;
    mcf_health_init(&d->srv.health, (uint64_t)(uintptr_t)d);
    snprintf(d->endpoint, sizeof d->endpoint, "%s", spec.text);
    d->interval_ms = interval_ms ? interval_ms : INTERVAL_DEFAULT_MS;
    d->install = install;
    d->next_poll_us = 0; /* due at once */
    c->disc = d;
    c->side_server = &d->srv;
    return MCF_OK;
}

/* Runs a poll to its end, waiting in poll() (at most the connect timeout
 * plus the I/O timeout): the one running, or one begun now. */
static void wait_poll(mcf_client *c, mcf_discovery *d, int64_t now)
{
    if (d->phase == PHASE_IDLE)
        d->next_poll_us = now;
    uint64_t polls = d->polls;
    mcf_discovery_tick(c, now);
    while (d->polls == polls) {
        struct pollfd pfd[MCF_MAX_ADDRS + MCF_RESOLVER_MAX_FDS];
        int64_t wake;
        size_t n = mcf_discovery_pollset(c, pfd, sizeof pfd / sizeof pfd[0], &wake);
        (void)poll(pfd, (nfds_t)n, mcf_ms_left(wake)); /* EINTR: the step rechecks */
        mcf_discovery_tick(c, mcf_now_us());
    }
}

void mcf_discovery_before_call(mcf_client *c)
{
    mcf_discovery *d = c->disc;
    mcf_conn_check_fork(c);
    int64_t now = mcf_now_us();
    /* No list at all yet: the call could go nowhere, so it waits for the
     * poll that is due or running (at most one per interval). */
    if (c->nservers == 0 && !d->pending && (d->phase != PHASE_IDLE || now >= d->next_poll_us))
        wait_poll(c, d, now);
    else
        mcf_discovery_tick(c, now);
    mcf_discovery_apply(c);
}

int mcf_discovery_now(mcf_client *c)
{
    mcf_discovery *d = c->disc;
    if (!d)
        return mcf_set_error(c, MCF_ERR_ARG, "mcf_discover_now: discovery is off");
    mcf_conn_check_fork(c);
    wait_poll(c, d, mcf_now_us());
    mcf_discovery_apply(c);
    c->err[0] = 0;
    c->err_rc = 0;
    if (d->last_rc != MCF_OK)
        return mcf_set_error(c, d->last_rc, "%s", d->last_error);
    return MCF_OK;
}

int mcf_discovery_get_info(mcf_client *c, mcf_discovery_info *info)
{
    const mcf_discovery *d = c->disc;
    memset(info, 0, sizeof *info);
    info->endpoint = "";
    info->last_error = "";
    info->last_poll_ago_ms = -1;
    if (!d)
        return MCF_OK;
    info->enabled = 1;
    info->endpoint = d->endpoint;
    info->interval_ms = d->interval_ms;
    info->have_version = d->have_version;
    info->version = d->version;
    info->pending = d->pending;
    info->pending_version = d->pending_version;
    info->nodes = d->nodes;
    info->polls = d->polls;
    info->failures = d->failures;
    if (d->polls)
        info->last_poll_ago_ms = (mcf_now_us() - d->last_end_us) / US_PER_MS;
    info->legacy = d->legacy;
    info->last_rc = d->last_rc;
    info->last_error = d->last_error;
    return MCF_OK;
}
