/* refresh.c - the re-resolution of refresh.h: each live connection's name
 * is looked up again on the client's resolver (c-ares, as a connect's
 * lookup is) when its answer expires; an answer without the connected
 * address makes the connection stale, and a stale connection is closed
 * once nothing is in flight on it.  Only the state in mcf_server.dns is
 * written; a lookup's failure is never the caller's error. */
#include <string.h>

#include "call.h"
#include "refresh.h"

#define US_PER_MS 1000
#define NEVER INT64_MAX

/* How long an answer with this TTL holds under MCF_OPT_DNS_TTL_MS, in ms;
 * -1 never looked at again. */
static int64_t interval_ms(const mcf_client *c, int ttl_s)
{
    /* A literal, "localhost" or a unix path never changes. */
    if (ttl_s == MCF_TTL_NONE || c->dns_ttl_ms == 0)
        return -1;
    if (c->dns_ttl_ms > 0)
        return c->dns_ttl_ms;
    if (ttl_s == MCF_TTL_HOSTS)
        return MCF_DNS_HOSTS_TTL_MS;
    int64_t ms = (int64_t)ttl_s * 1000;
    if (ms < MCF_DNS_TTL_FLOOR_MS)
        return MCF_DNS_TTL_FLOOR_MS;
    return ms > MCF_DNS_TTL_CEILING_MS ? MCF_DNS_TTL_CEILING_MS : ms;
}

static int64_t schedule(const mcf_client *c, mcf_server *s, int ttl_s, int64_t now)
{
    int64_t ms = interval_ms(c, ttl_s);
    s->dns.check_at_us = ms < 0 ? NEVER : now + ms * US_PER_MS;
    return s->dns.check_at_us;
}

static int64_t retry_later(mcf_server *s, int64_t now)
{
    s->dns.check_at_us = now + (int64_t)MCF_DNS_RETRY_MS * US_PER_MS;
    return s->dns.check_at_us;
}

/* The connected address (s->address, formatted when it was adopted) is
 * among the answers. */
static int still_answered(const mcf_server *s, const mcf_addrlist *l)
{
    char text[MCF_ADDRSTR_MAX];
    for (size_t i = 0; i < l->n; i++) {
        mcf_addr_format(&l->addr[i], text, sizeof text);
        if (strcmp(text, s->address) == 0)
            return 1;
    }
    return 0;
}

/* The connection is between other steps: being made (a TLS handshake on
 * s->fd), asked its version or protocol, or healed. */
static int in_other_step(const mcf_server *s)
{
    return s->connecting || s->probing || s->healing;
}

static void answered(mcf_client *c, mcf_server *s, int64_t now)
{
    mcf_dns_refresh *d = &s->dns;
    d->pending = 0;
    if (d->q.rc != MCF_OK) {
        retry_later(s, now); /* the connection stays: it still works */
        return;
    }
    if (still_answered(s, &d->q.list)) {
        schedule(c, s, d->q.ttl_s, now);
        return;
    }
    d->stale = 1;
    d->check_at_us = NEVER; /* the next connection schedules itself (conn.c) */
}

static void start(mcf_client *c, mcf_server *s, int64_t now)
{
    mcf_dns_refresh *d = &s->dns;
    if (!mcf_conn_resolver(c)) {
        retry_later(s, now);
        return;
    }
    d->started_us = now;
    d->pending = 1;
    mcf_lookup_start(c->resolver, &s->spec, &d->q);
    if (d->q.done) /* /etc/hosts, or failed before anything was sent */
        answered(c, s, now);
}

/* One server's step; returns when it needs the tick again (0: at the next
 * call). */
static int64_t server_tick(mcf_client *c, mcf_server *s, int64_t now, int how)
{
    mcf_dns_refresh *d = &s->dns;
    if (s->fd < 0) {
        /* Closed meanwhile: its next connection starts over. */
        mcf_refresh_cancel(c, s);
        d->stale = 0;
        return NEVER;
    }
    if (!d->pending && !d->stale) {
        if (d->check_at_us == 0)
            schedule(c, s, d->ttl_s, now);
        if (now < d->check_at_us)
            return d->check_at_us;
        if (in_other_step(s))
            return retry_later(s, now);
        start(c, s, now);
    }
    if (d->pending) {
        if (!d->q.done) {
            if (now - d->started_us < (int64_t)c->connect_timeout_ms * US_PER_MS)
                return 0;
            /* The DNS server did not answer in a connect's time. */
            mcf_refresh_cancel(c, s);
            return retry_later(s, now);
        }
        answered(c, s, now);
    }
    if (d->stale) {
        /* In flight: closed once it drains.  0 keeps c->dns_next_us at 0
         * while any connection is stale, which async.c's pump tests
         * before it looks at the server's flag. */
        if (mcf_server_busy(s) || in_other_step(s))
            return 0;
        mcf_refresh_retire(c, s, how);
        return NEVER;
    }
    return d->check_at_us;
}

void mcf_refresh_tick(mcf_client *c, int64_t now, int how)
{
    int64_t next = NEVER;
    int driven = 0;
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        /* One resolver serves every server: driven once per tick. */
        if (s->dns.pending && !s->dns.q.done && !driven && c->resolver) {
            mcf_resolver_poll_now(c->resolver);
            driven = 1;
        }
        int64_t t = server_tick(c, s, now, how);
        if (t < next)
            next = t;
    }
    c->dns_next_us = next;
}

size_t mcf_refresh_pollset(mcf_client *c, struct pollfd *out, size_t cap, int64_t *wake_us)
{
    int64_t wake = NEVER;
    int pending = 0;
    for (size_t k = 0; k < c->nservers; k++) {
        const mcf_server *s = &c->servers[k];
        const mcf_dns_refresh *d = &s->dns;
        if (s->fd < 0)
            continue;
        int64_t w = NEVER;
        if (d->pending && !d->q.done) {
            pending = 1;
            w = d->started_us + (int64_t)c->connect_timeout_ms * US_PER_MS;
        } else if (d->pending) {
            w = 0; /* answered: to be looked at */
        } else if (!d->stale) {
            w = d->check_at_us; /* 0: to be scheduled */
        }
        /* A stale connection needs no timer: it closes when it drains
         * (mcf_refresh_tick, or async.c's pump before the next build). */
        if (w < wake)
            wake = w;
    }
    size_t n = 0;
    if (pending && c->resolver) {
        int64_t timer;
        n = mcf_resolver_pollset(c->resolver, out, cap, &timer);
        if (timer < wake)
            wake = timer;
    }
    *wake_us = wake;
    return n;
}

void mcf_refresh_retire(mcf_client *c, mcf_server *s, int how)
{
    s->dns.stale = 0;
    s->dns.re_resolved++;
    /* As mcf_disconnect_all: noreply commands sent are processed before
     * the connection goes (refresh.h: MCF_RETIRE_*). */
    if (how == MCF_RETIRE_SYNC)
        mcf_conn_sync(c, s);
    mcf_conn_close(s);
}

void mcf_refresh_cancel(mcf_client *c, mcf_server *s)
{
    if (s->dns.pending)
        mcf_lookup_cancel(c->resolver, &s->dns.q);
    s->dns.pending = 0;
}

void mcf_refresh_reschedule(mcf_client *c)
{
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        if (s->fd >= 0 && !s->dns.pending && !s->dns.stale)
            s->dns.check_at_us = 0;
    }
    c->dns_next_us = 0;
}

int64_t mcf_refresh_expires_in_ms(const mcf_client *c, const mcf_server *s, int64_t now)
{
    const mcf_dns_refresh *d = &s->dns;
    if (s->fd < 0)
        return -1;
    if (d->pending || d->stale)
        return 0;
    if (d->check_at_us == 0) /* connected since the last tick */
        return interval_ms(c, d->ttl_s);
    if (d->check_at_us == NEVER)
        return -1;
    return d->check_at_us > now ? (d->check_at_us - now + US_PER_MS - 1) / US_PER_MS : 0;
}
