/* probe.c - what the server behind a connection speaks, asked once per
 * connection: its version and (MCF_PROTO_AUTO) whether it has the meta
 * protocol, in one blocking round trip right after connecting; and the
 * version gating of the meta calls (a flag the server's version lacks is
 * refused before anything is sent). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "ops.h"
#include "probe.h"

/* The answers asked for are two short lines: more unread bytes than this
 * without them is not a memcached answering. */
#define ANSWER_MAX 256

/* Takes the server's version from a "VERSION x.y.z\r\n" line (len bytes,
 * LF included): 0, or -1 when the line is not one. */
static int take_version(mcf_server *s, const char *l, size_t len)
{
    if (len < 10 || memcmp(l, "VERSION ", 8) != 0 || l[len - 1] != '\n')
        return -1;
    size_t vlen = len - 9 - (l[len - 2] == '\r');
    size_t n = vlen < sizeof s->version_str ? vlen : sizeof s->version_str - 1;
    memcpy(s->version_str, l + 8, n);
    s->version_str[n] = 0;
    s->version_known = mcf_meta_parse_version(l + 8, vlen, &s->version) ? 1 : -1;
    return 0;
}

/* Sets s->proto from the answer to "mn" (len bytes, LF included): 0, or -1
 * when it is neither MN nor ERROR.  Needs the version taken first. */
static int take_protocol(mcf_server *s, const char *l, size_t len)
{
    if (len == 4 && memcmp(l, "MN\r\n", 4) == 0)
        s->proto = s->version_known > 0 && s->version < MCF_META_SINCE_HD ? PROTO_IS_TEXT
                                                                         : PROTO_IS_META;
    else if (len >= 7 && memcmp(l, "ERROR", 5) == 0 && l[len - 1] == '\n')
        s->proto = PROTO_IS_TEXT;
    else
        return -1;
    return 0;
}

/* What the probe sends: with_mn (MCF_PROTO_AUTO, right after connecting)
 * also asks whether the server speaks meta, in the same round trip: "mn"
 * is answered "MN" by memcached >= 1.6, "ERROR" before. */
static const char probe_req[] = "version\r\nmn\r\n";
#define VERSION_REQ_LEN (sizeof "version\r\n" - 1)

/* The probe's end: MCF_OK, or an error after closing the connection and
 * counting a failure. */
static int probe_done(mcf_client *c, mcf_server *s, int rc, const char *why)
{
    int with_mn = s->probing == PROBING_PROTOCOL;
    char label[MCF_LABEL_MAX];
    /* Read before the buffer is dropped: a TLS port answers the probe
     * with an alert, or not at all. */
    const char *hint = why && rc != MCF_ERR_TIMEOUT ? mcf_conn_tls_hint(s) : "";
    s->probing = 0;
    s->rlen = s->rpos = 0;
    if (!why)
        return MCF_OK;
    if (rc == MCF_ERR_TIMEOUT)
        s->ctr.timeouts++;
    mcf_note_error(c, rc, "server %s: %s: %s%s", mcf_srv_label(s, label, sizeof label),
                   with_mn ? "protocol probe (version, mn)" : "version request", why, hint);
    mcf_conn_abort(s);
    mcf_conn_record_failure(c, s);
    return rc;
}

int mcf_probe_begin(mcf_client *c, mcf_server *s, int with_mn, int64_t now)
{
    s->probing = with_mn ? PROBING_PROTOCOL : PROBING_VERSION;
    s->probe_deadline_us = now + (int64_t)c->io_timeout_ms * 1000;
    s->rlen = s->rpos = 0;
    /* An idle connection may keep a higher SO_RCVLOWAT from its last call:
     * the answer is a few bytes. */
    if (mcf_conn_set_lowat(s, 1) < 0)
        return probe_done(c, s, MCF_ERR_IO, strerror(errno));
    /* A fresh or idle connection: these few bytes fit in the socket
     * buffer, so this does not wait. */
    int e = mcf_conn_send_bytes(s, probe_req, with_mn ? sizeof probe_req - 1 : VERSION_REQ_LEN,
                                s->probe_deadline_us);
    if (e == -ETIMEDOUT)
        return probe_done(c, s, MCF_ERR_TIMEOUT, "could not send within the I/O timeout");
    if (e < 0) {
        const char *why;
        int rc = mcf_conn_failure(s, e, &why);
        return probe_done(c, s, rc, why);
    }
    return MCF_IN_PROGRESS;
}

/* The answer, once every line is there: meta is used from 1.6.10 on
 * (MCF_META_SINCE_HD: older meta replies say OK, not HD), or when the
 * version is not memcached's x.y.z and the server answers MN. */
static int take_answer(mcf_client *c, mcf_server *s)
{
    const char *l = s->rbuf + s->rpos, *end = s->rbuf + s->rlen;
    const char *l2 = (const char *)memchr(l, '\n', (size_t)(end - l)) + 1;
    if (take_version(s, l, (size_t)(l2 - l)) < 0 ||
        (s->probing == PROBING_PROTOCOL && take_protocol(s, l2, (size_t)(end - l2)) < 0))
        return probe_done(c, s, MCF_ERR_PROTOCOL, "unexpected answer");
    if (s->meta_refused == META_REFUSED_ONCE) {
        s->meta_refused = META_REFUSED_TEXT;
        s->proto = PROTO_IS_TEXT;
    }
    return probe_done(c, s, MCF_OK, NULL);
}

int mcf_probe_step(mcf_client *c, mcf_server *s, int64_t now)
{
    int lines = s->probing == PROBING_PROTOCOL ? 2 : 1;
    for (;;) {
        int have = 0;
        for (size_t i = s->rpos; i < s->rlen; i++)
            have += s->rbuf[i] == '\n';
        if (have >= lines)
            return take_answer(c, s);
        if (s->rlen - s->rpos > ANSWER_MAX)
            return probe_done(c, s, MCF_ERR_PROTOCOL, "unexpected answer");
        ssize_t got = mcf_conn_recv(s, 0, 0);
        if (got == 0 && s->probing == PROBING_PROTOCOL && s->rx_bytes == 0 &&
            !s->meta_refused) {
            /* Closed on the question with nothing answered: memcached
             * never does that, a proxy that passes no meta command
             * (twemproxy) does.  Asked again on a new connection without
             * "mn"; a TLS port stays silent to that one too. */
            s->probing = 0;
            s->rlen = s->rpos = 0;
            mcf_conn_abort(s);
            s->meta_refused = META_REFUSED_ONCE;
            return MCF_PROBE_RECONNECT;
        }
        if (got == 0)
            return probe_done(c, s, MCF_ERR_IO, "connection closed by server");
        if (got == -EAGAIN)
            break;
        if (got < 0) {
            const char *why;
            int rc = mcf_conn_failure(s, got, &why);
            return probe_done(c, s, rc, why);
        }
    }
    if (now >= s->probe_deadline_us)
        return probe_done(c, s, MCF_ERR_TIMEOUT, "no answer within the I/O timeout");
    return MCF_IN_PROGRESS;
}

size_t mcf_probe_pollset(const mcf_server *s, struct pollfd *out, size_t cap, int64_t *wake_us)
{
    *wake_us = s->probe_deadline_us;
    if (cap == 0)
        return 0;
    out[0] = (struct pollfd){s->fd, POLLIN, 0};
    return 1;
}

/* The probe run to its end, waiting in poll (the lazy version request of
 * a meta call with a version-gated flag). */
static int probe(mcf_client *c, mcf_server *s, int with_mn)
{
    int rc = mcf_probe_begin(c, s, with_mn, mcf_now_us());
    while (rc == MCF_IN_PROGRESS) {
        struct pollfd p;
        int64_t wake;
        mcf_probe_pollset(s, &p, 1, &wake);
        (void)poll(&p, 1, mcf_ms_left(wake)); /* EINTR: the step rechecks the time */
        rc = mcf_probe_step(c, s, mcf_now_us());
    }
    if (rc == MCF_PROBE_RECONNECT) {
        char label[MCF_LABEL_MAX];
        mcf_conn_record_failure(c, s);
        rc = mcf_note_error(c, MCF_ERR_IO,
                            "server %s: closed the connection on the meta no-op (mn) with "
                            "nothing answered: a proxy without meta commands (twemproxy)? "
                            "The next connection asks the version alone",
                            mcf_srv_label(s, label, sizeof label));
    }
    return rc;
}

/* The public name of an _ex call, for messages. */
static const char *ex_name(const mcf_call *call)
{
    switch (call->kind) {
    case CALL_GET: return "mcf_get_ex";
    case CALL_STORE: return "mcf_store_ex";
    case CALL_DELETE: return "mcf_delete_ex";
    case CALL_ARITH: return call->mode ? "mcf_incr_ex" : "mcf_decr_ex";
    case CALL_TOUCH: return "mcf_exists"; /* the only meta-only touch */
    default: return "a meta call";
    }
}

/* The meta flags of an _ex call, and whether one of them depends on the
 * server's version. */
static unsigned meta_flags(const mcf_call *call, int *gated)
{
    mcf_meta_args a = {0};
    uint32_t since;
    mcf_ops_meta_opts(call, &a);
    *gated = mcf_meta_unsupported(a.flags, 0, &since) != 0;
    return a.flags;
}

int mcf_probe_needs_version(const mcf_slice *sl)
{
    int gated;
    if (!sl->call->meta || !sl->meta || sl->server->version_known)
        return 0;
    meta_flags(sl->call, &gated);
    return gated;
}

int mcf_probe_check_meta(mcf_client *c, mcf_slice *sl)
{
    char label[MCF_LABEL_MAX];
    const mcf_call *call = sl->call;
    mcf_server *s = sl->server;
    /* A text client's _ex calls were refused before (mcf_call_check_ex). */
    if (!sl->meta)
        return mcf_note_error(c, MCF_ERR_NOT_SUPPORTED,
                              "%s: needs the meta protocol, and server %s has none (version "
                              "%s; meta needs memcached >= 1.6.10)",
                              ex_name(call), mcf_srv_label(s, label, sizeof label),
                              s->version_known ? s->version_str : "unknown");
    int gated;
    unsigned flags = meta_flags(call, &gated);
    uint32_t since;
    if (!gated)
        return MCF_OK; /* nothing version-gated */
    if (!s->version_known) {
        int rc = probe(c, s, 0);
        if (rc != MCF_OK)
            return rc;
    }
    unsigned bad;
    if (s->version_known < 0 || !(bad = mcf_meta_unsupported(flags, s->version, &since)))
        return MCF_OK; /* not memcached's numbering: let the server judge */
    const char *what = bad == MCF_MF_NEWCAS ? "flag E (MCF_META_NEW_CAS)"
                                            : "md flag x (MCF_META_REMOVE_VALUE)";
    return mcf_note_error(c, MCF_ERR_NOT_SUPPORTED,
                          "%s: %s not supported by server %s (version %s); it needs memcached "
                          ">= %u.%u.%u",
                          ex_name(call), what, mcf_srv_label(s, label, sizeof label),
                          s->version_str,
                          (unsigned)(since / 1000000), (unsigned)(since / 1000 % 1000),
                          (unsigned)(since % 1000));
}

int mcf_probe_protocol(mcf_client *c, mcf_server *s)
{
    if (c->protocol != MCF_PROTO_AUTO) {
        s->proto = c->protocol == MCF_PROTO_META ? PROTO_IS_META : PROTO_IS_TEXT;
        return MCF_OK;
    }
    return probe(c, s, 1);
}
