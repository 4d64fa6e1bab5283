/* heal.c - the probes of heal.h: a down server whose wait is over is
 * connected to (resolution, Happy Eyeballs, TLS: conn.c's steps) and asked
 * "version" (probe.c), all without blocking.  An answer brings it back; a
 * failure sends it down again with a longer wait (health.c).  A TCP
 * connect alone would not do: a stopped memcached's kernel still accepts
 * connections, and only an answer shows that it serves. */
#include <string.h>

#include "call.h"
#include "heal.h"
#include "probe.h"

/* A probe's messages are the server's, not the caller's: the client's last
 * error is kept as it was, and the probe's own goes to down_why. */
static void quiet_end(mcf_client *c, mcf_server *s, const mcf_saved_error *e)
{
    if (c->err_rc && c->err[0]) {
        size_t n = strlen(c->err);
        if (n >= sizeof s->down_why)
            n = sizeof s->down_why - 1;
        memcpy(s->down_why, c->err, n);
        s->down_why[n] = 0;
    }
    mcf_error_restore(c, e);
}

/* The outcome of a step: 1 running; 0 over, up or down again. */
static int conclude(mcf_client *c, mcf_server *s, int rc)
{
    if (rc == MCF_IN_PROGRESS)
        return 1;
    s->healing = 0;
    if (rc == MCF_OK) {
        s->down_why[0] = 0;
        mcf_conn_record_answer(c, s);
        return 0;
    }
    /* probe.c counted its own failure (the server is down again then);
     * a connect that failed is counted here. */
    if (s->health.state == MCF_HEALTH_PROBING)
        mcf_conn_record_failure(c, s);
    mcf_conn_open_abort(c, s);
    mcf_conn_abort(s);
    return 0;
}

/* Once connected: the version, asked alone (the protocol probe of
 * MCF_PROTO_AUTO is left to the first call, on this same connection). */
static int ask(mcf_client *c, mcf_server *s, int64_t now)
{
    return mcf_probe_begin(c, s, 0, now);
}

static int step(mcf_client *c, mcf_server *s, int64_t now)
{
    int rc;
    if (s->connecting) {
        rc = mcf_conn_open_step(c, s, now);
        if (rc == MCF_OK)
            rc = ask(c, s, now);
    } else if (s->probing) {
        rc = mcf_probe_step(c, s, now);
    } else {
        rc = s->fd >= 0 ? MCF_OK : MCF_ERR_CONNECT;
    }
    return conclude(c, s, rc);
}

/* A call addressed to s itself (stats, version, flush_all) waits for the
 * probe as its connect, and fails with it. */
static void fail_queued(mcf_client *c, mcf_server *s)
{
    if (mcf_server_busy(s) && s->health.state != MCF_HEALTH_UP) {
        mcf_note_error(c, MCF_ERR_CONNECT, "%s", s->down_why[0] ? s->down_why : "probe failed");
        mcf_fail_queue(c, s, MCF_ERR_CONNECT);
    }
}

int mcf_heal_step(mcf_client *c, mcf_server *s, int64_t now)
{
    mcf_saved_error e;
    mcf_error_aside(c, &e);
    int more = step(c, s, now);
    quiet_end(c, s, &e);
    if (!more)
        fail_queued(c, s);
    return more;
}

static void begin(mcf_client *c, mcf_server *s, int64_t now)
{
    mcf_saved_error e;
    mcf_error_aside(c, &e);
    mcf_health_probing(&s->health); /* down_why keeps the last probe's failure meanwhile */
    /* Nothing else may be connecting it (a connect's state is the
     * server's, one at a time), and a connection left from before it went
     * down is not the probe's. */
    mcf_conn_open_abort(c, s);
    if (s->fd >= 0)
        mcf_conn_abort(s);
    s->healing = 1; /* after the aborts, which end any probe */
    int rc = mcf_conn_open_start(c, s, now);
    if (rc == MCF_OK)
        rc = ask(c, s, now);
    conclude(c, s, rc);
    quiet_end(c, s, &e);
}

void mcf_heal_tick(mcf_client *c, int64_t now)
{
    /* Cache::Memcached::Fast's counting has no probe: route.c lets the
     * next call through when the time is over. */
    if (!c->unhealthy || c->health_policy.cmf_window_us > 0)
        return;
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_server *s = &c->servers[k];
        if (s->health.state == MCF_HEALTH_UP)
            continue;
        if (s->healing) {
            mcf_heal_step(c, s, now);
            continue;
        }
        /* A probe whose connection was closed under it (fork, a server
         * list change) is begun again. */
        if (s->health.state == MCF_HEALTH_PROBING)
            s->health.state = MCF_HEALTH_DOWN;
        if (mcf_health_check(&s->health, &c->health_policy, now) == MCF_HEALTH_PROBE)
            begin(c, s, now);
    }
}

int64_t mcf_heal_next_retry(const mcf_client *c)
{
    int64_t next = INT64_MAX;
    if (!c->unhealthy || c->health_policy.cmf_window_us > 0)
        return next;
    for (size_t k = 0; k < c->nservers; k++) {
        const mcf_server *s = &c->servers[k];
        if (s->health.state == MCF_HEALTH_DOWN && s->health.retry_at_us < next)
            next = s->health.retry_at_us;
        else if (s->health.state == MCF_HEALTH_PROBING && !s->healing)
            next = 0; /* to begin again at once */
    }
    return next;
}
