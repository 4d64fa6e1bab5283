/* c_mcfast.c - the TLS bench's workloads through mcfast's public API, over
 * TLS or plaintext to the same memcached, each result checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_tls.h"
#include "mcfast.h"
#include "tlsfix.h"

typedef struct mstate {
    mcf_client *c;
    mcf_item items[BATCH];
} mstate;

typedef struct getctx {
    const char *const *keys; /* the batch's keys, indexed like the request */
    unsigned hits, bad;
} getctx;

static void on_value(void *p, size_t index, int rc, const mcf_value *v)
{
    getctx *g = p;
    if (rc == MCF_OK && v->len == VLEN && memcmp(v->data, g->keys[index], KLEN) == 0)
        g->hits++;
    else
        g->bad++;
}

static int fail(trunner *r, int rc, const char *what)
{
    mstate *st = r->state;
    snprintf(r->err, sizeof r->err, "%s %s: rc %d (%s): %s", r->client, what, rc,
             mcf_strerror(rc), mcf_last_error(st->c));
    return -1;
}

static int one_get(trunner *r)
{
    mstate *st = r->state;
    size_t i = call_key(r->w, r->cursor++);
    mcf_value v;
    int rc = mcf_get(st->c, g_kget[i], KLEN, &v);
    if (rc != MCF_OK || v.len != VLEN || memcmp(v.data, g_vget + i * VLEN, VLEN) != 0)
        return fail(r, rc, "get: no hit or a wrong value");
    return 0;
}

static int one_get_multi(trunner *r)
{
    mstate *st = r->state;
    const char *const *keys = g_kget + call_key(r->w, r->cursor++);
    getctx g = {keys, 0, 0};
    int rc = mcf_get_multi(st->c, MCF_GET, 0, keys, g_klens, BATCH, on_value, &g);
    if (rc != MCF_OK || g.bad || g.hits != BATCH) {
        snprintf(r->err, sizeof r->err,
                 "%s get_multi: rc %d, %u hits, %u bad of %d (from %s): %s", r->client, rc,
                 g.hits, g.bad, BATCH, keys[0], mcf_last_error(st->c));
        return -1;
    }
    return 0;
}

static int one_set_multi(trunner *r)
{
    mstate *st = r->state;
    size_t base = call_key(r->w, r->cursor++);
    for (size_t j = 0; j < BATCH; j++) {
        mcf_item *it = &st->items[j];
        it->key = g_kset[base + j];
        it->value = g_vset + (base + j) * VLEN;
        it->rc = -1;
    }
    int rc = mcf_multi(st->c, MCF_OP_SET, st->items, BATCH, 0);
    if (rc != MCF_OK)
        return fail(r, rc, "multi set");
    for (size_t j = 0; j < BATCH; j++)
        if (st->items[j].rc != MCF_OK)
            return fail(r, st->items[j].rc, "multi set: an item was not stored");
    return 0;
}

static int one_set_big(trunner *r)
{
    mstate *st = r->state;
    size_t i = call_key(r->w, r->cursor++);
    int rc = mcf_set(st->c, g_kbig[i], KLEN, g_vbig + i * BIGLEN, BIGLEN, 0, 0);
    if (rc != MCF_OK)
        return fail(r, rc, "set 500k");
    return 0;
}

static int (*const one_call[TW_COUNT])(trunner *) = {
    [TW_GET] = one_get,
    [TW_GETM] = one_get_multi,
    [TW_SETM] = one_set_multi,
    [TW_SET500K] = one_set_big,
};

static int run(trunner *r, uint64_t calls)
{
    int (*one)(trunner *) = one_call[r->w->id];
    for (uint64_t n = 0; n < calls; n++)
        if (one(r) != 0)
            return -1;
    return 0;
}

/* A clock read per call: tens of nanoseconds against a round trip of tens
 * of microseconds. */
static int round_(trunner *r, double seconds, round_result *out)
{
    int (*one)(trunner *) = one_call[r->w->id];
    double u0, s0, u1, s1;
    bench_cpu_times(&u0, &s0);
    double t0 = bench_now_s(), t;
    uint64_t calls = 0;
    do {
        if (one(r) != 0)
            return -1;
        calls++;
        t = bench_now_s() - t0;
    } while (t < seconds);
    bench_cpu_times(&u1, &s1);
    out->calls = calls;
    out->seconds = t;
    out->user_s = u1 - u0;
    out->sys_s = s1 - s0;
    return 0;
}

static void destroy(trunner *r)
{
    mstate *st = r->state;
    if (st) {
        mcf_free(st->c);
        free(st);
    }
}

trunner *mcfast_trunner(const tworkload *w, int tls)
{
    trunner *r = calloc(1, sizeof *r);
    mstate *st = calloc(1, sizeof *st);
    if (!r || !st) {
        free(r);
        free(st);
        return NULL;
    }
    r->client = tls ? "mcfast-tls" : "mcfast-plain";
    r->w = w;
    r->state = st;
    r->run = run;
    r->round = round_;
    r->destroy = destroy;
    const char *spec = tls ? tls_server_spec() : plain_server_spec();
    mcf_tls_options o = tls_opts(); /* verified against the test CA */
    int rc = MCF_OK;
    if (!(st->c = mcf_new()) || (tls && (rc = mcf_set_tls(st->c, &o)) != MCF_OK) ||
        (rc = mcf_set_servers(st->c, spec)) != MCF_OK ||
        (rc = mcf_set_option(st->c, MCF_OPT_CONNECT_TIMEOUT_MS, BENCH_TIMEOUT_MS)) != MCF_OK ||
        (rc = mcf_set_option(st->c, MCF_OPT_IO_TIMEOUT_MS, BENCH_TIMEOUT_MS)) != MCF_OK) {
        fprintf(stderr, "bench-tls: %s: cannot set up %s: rc %d: %s\n", r->client, spec, rc,
                st->c ? mcf_last_error(st->c) : "out of memory");
        trunner_free(r);
        return NULL;
    }
    for (size_t j = 0; j < BATCH; j++) {
        st->items[j].key_len = KLEN;
        st->items[j].value_len = VLEN;
    }
    static const char *const api[TW_COUNT] = {
        [TW_GET] = "mcf_get",
        [TW_GETM] = "mcf_get_multi + callback",
        [TW_SETM] = "mcf_multi(MCF_OP_SET), every item's reply checked",
        [TW_SET500K] = "mcf_set of " BENCH_TLS_STR(BIGLEN) " bytes",
    };
    snprintf(r->config, sizeof r->config,
             "%s, text protocol, %s%s, connect and I/O timeouts %d ms, otherwise default "
             "options",
             api[w->id], spec, tls ? " (TLS 1.2+ default ciphers, verified against the test CA)" : "",
             BENCH_TIMEOUT_MS);
    return r;
}

void trunner_free(trunner *r)
{
    if (!r)
        return;
    if (r->destroy)
        r->destroy(r);
    free(r);
}
