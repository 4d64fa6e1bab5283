/* data.c - the TLS bench's keys and values, its memcached -Z (one TLS and
 * one plaintext listener) and what it holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_tls.h"
#include "mcfast.h"
#include "tlsfix.h"

size_t g_nkeys;
const char **g_kget, **g_kset, **g_kbig;
size_t *g_klens;
char *g_vget, *g_vset, *g_vbig;

static char *keytext;
static mcserver g_server;
static int g_plain_port;
static char g_tls_spec[sizeof g_server.spec + 8], g_plain_spec[sizeof g_server.spec];

/* Tries with another pair of free ports when memcached cannot bind one. */
#define START_TRIES 5
/* memcached: one worker thread (as the main bench), room for every value
 * (the tb values need the 1 MiB slab class), plenty of connections (each
 * handshake measurement is a new one). */
#define SERVER_ARGS "-t 1 -m 256 -c 1024"
/* Generous: the fill and the read-backs run while other jobs load the machine. */
#define FILL_TIMEOUT_MS 10000

/* Its key, then a pattern of its index: bench/tls_pymemcache.py's make_value. */
static void make_value(char *v, size_t len, const char *key, size_t i)
{
    memcpy(v, key, KLEN);
    for (size_t j = KLEN; j < len; j++)
        v[j] = (char)('a' + (i + j) % 26);
}

int data_init(size_t nkeys)
{
    g_nkeys = nkeys;
    keytext = malloc((2 * nkeys + NBIG) * (KLEN + 1));
    g_kget = malloc(nkeys * sizeof *g_kget);
    g_kset = malloc(nkeys * sizeof *g_kset);
    g_kbig = malloc(NBIG * sizeof *g_kbig);
    g_klens = malloc(nkeys * sizeof *g_klens);
    g_vget = malloc(nkeys * VLEN);
    g_vset = malloc(nkeys * VLEN);
    g_vbig = malloc((size_t)NBIG * BIGLEN);
    if (!keytext || !g_kget || !g_kset || !g_kbig || !g_klens || !g_vget || !g_vset || !g_vbig)
        return -1;
    bench_make_keys(g_kget, keytext, "tk:", nkeys);
    bench_make_keys(g_kset, keytext + nkeys * (KLEN + 1), "ts:", nkeys);
    bench_make_keys(g_kbig, keytext + 2 * nkeys * (KLEN + 1), "tb:", NBIG);
    for (size_t i = 0; i < nkeys; i++) {
        g_klens[i] = KLEN;
        make_value(g_vget + i * VLEN, VLEN, g_kget[i], i);
        make_value(g_vset + i * VLEN, VLEN, g_kset[i], i);
    }
    for (size_t i = 0; i < NBIG; i++)
        make_value(g_vbig + i * BIGLEN, BIGLEN, g_kbig[i], i);
    return 0;
}

void data_free(void)
{
    free(keytext);
    free(g_kget);
    free(g_kset);
    free(g_kbig);
    free(g_klens);
    free(g_vget);
    free(g_vset);
    free(g_vbig);
}

void data_stamp(char m)
{
    for (size_t i = 0; i < g_nkeys; i++)
        g_vset[i * VLEN + KLEN] = m;
    for (size_t i = 0; i < NBIG; i++)
        g_vbig[i * BIGLEN + KLEN] = m;
}

size_t call_key(const tworkload *w, uint64_t n)
{
    switch (w->id) {
    case TW_GETM:
    case TW_SETM:
        return (size_t)(n % (g_nkeys / BATCH)) * BATCH;
    case TW_SET500K:
        return (size_t)(n % NBIG);
    default:
        return (size_t)(n % g_nkeys);
    }
}

int server_start(void)
{
    const char *dir = tls_dir();
    if (!dir) {
        fprintf(stderr, "bench-tls: no certificates (tests/tls_certs.sh; run from the "
                        "repository root)\n");
        return -1;
    }
    for (int t = 0; t < START_TRIES; t++) {
        /* mcserver gives the TLS listener (-l host -p P1) its port; the
         * plaintext one is the second -l (memcached joins them). */
        g_plain_port = mcserver_free_port("127.0.0.1");
        char extra[sizeof g_server.args];
        int n = snprintf(extra, sizeof extra,
                         SERVER_ARGS " -l notls:127.0.0.1:%d -Z -o ssl_chain_cert=%s/server.pem,"
                                     "ssl_key=%s/server.key",
                         g_plain_port, dir, dir);
        if (g_plain_port <= 0 || n < 0 || (size_t)n >= sizeof extra)
            return -1;
        if (mcserver_start_tcp(&g_server, "127.0.0.1", extra) == 0) {
            snprintf(g_tls_spec, sizeof g_tls_spec, "tls:%s", g_server.spec);
            snprintf(g_plain_spec, sizeof g_plain_spec, "127.0.0.1:%d", g_plain_port);
            return 0;
        }
    }
    fprintf(stderr, "bench-tls: cannot start memcached -Z with a plaintext listener\n");
    return -1;
}

void server_stop(void)
{
    mcserver_stop(&g_server);
}

const char *tls_server_spec(void)
{
    return g_tls_spec;
}

const char *plain_server_spec(void)
{
    return g_plain_spec;
}

static mcf_client *plain_client(void)
{
    mcf_client *c = mcf_new();
    if (!c || mcf_set_servers(c, g_plain_spec) != MCF_OK) {
        mcf_free(c);
        return NULL;
    }
    mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, FILL_TIMEOUT_MS);
    return c;
}

static int store(mcf_client *c, const char **keys, const char *vals, size_t vlen, size_t n)
{
    mcf_item items[BATCH];
    for (size_t base = 0; base < n; base += BATCH) {
        size_t m = n - base < BATCH ? n - base : BATCH;
        memset(items, 0, sizeof items);
        for (size_t j = 0; j < m; j++) {
            items[j].key = keys[base + j];
            items[j].key_len = KLEN;
            items[j].value = vals + (base + j) * vlen;
            items[j].value_len = vlen;
        }
        int rc = mcf_multi(c, MCF_OP_SET, items, m, 0);
        for (size_t j = 0; j < m && rc == MCF_OK; j++)
            rc = items[j].rc;
        if (rc != MCF_OK) {
            fprintf(stderr, "bench-tls: fill failed (rc %d): %s\n", rc, mcf_last_error(c));
            return -1;
        }
    }
    return 0;
}

int server_fill(void)
{
    mcf_client *c = plain_client();
    if (!c)
        return -1;
    int rc = store(c, g_kget, g_vget, VLEN, g_nkeys);
    if (rc == 0)
        rc = store(c, g_kset, g_vset, VLEN, g_nkeys);
    if (rc == 0)
        rc = store(c, g_kbig, g_vbig, BIGLEN, NBIG);
    mcf_free(c);
    return rc;
}

typedef struct vctx {
    size_t first; /* key index of the batch's first key */
    unsigned good, bad;
} vctx;

static void on_verify(void *p, size_t index, int rc, const mcf_value *v)
{
    vctx *x = p;
    const char *want = g_vset + ((x->first + index) % g_nkeys) * VLEN;
    if (rc == MCF_OK && v->len == VLEN && memcmp(v->data, want, VLEN) == 0)
        x->good++;
    else
        x->bad++;
}

int verify_sets(const tworkload *w, uint64_t first, uint64_t calls, char *why, size_t whylen)
{
    mcf_client *c = plain_client();
    if (!c) {
        snprintf(why, whylen, "verify: cannot make a plaintext client");
        return -1;
    }
    int ok = 0;
    if (w->id == TW_SET500K) {
        for (uint64_t n = first; n < first + calls && n < first + NBIG && ok == 0; n++) {
            size_t i = call_key(w, n);
            mcf_value v;
            int rc = mcf_get(c, g_kbig[i], KLEN, &v);
            if (rc != MCF_OK || v.len != BIGLEN || memcmp(v.data, g_vbig + i * BIGLEN, BIGLEN)) {
                snprintf(why, whylen, "verify: %s is missing or holds a stale value (rc %d)",
                         g_kbig[i], rc);
                ok = -1;
            }
        }
    } else {
        /* Whole batches from the round's first; at most every key once. */
        uint64_t nb = g_nkeys / BATCH;
        const char *keys[BATCH];
        for (uint64_t n = first; n < first + calls && n < first + nb && ok == 0; n++) {
            size_t k0 = call_key(w, n);
            for (size_t j = 0; j < BATCH; j++)
                keys[j] = g_kset[k0 + j];
            vctx x = {k0, 0, 0};
            int rc = mcf_get_multi(c, MCF_GET, 0, keys, g_klens, BATCH, on_verify, &x);
            if (rc != MCF_OK || x.bad) {
                snprintf(why, whylen,
                         "verify: %u of %d keys from %s on are missing or hold a stale value "
                         "(rc %d)",
                         x.bad, BATCH, keys[0], rc);
                ok = -1;
            }
        }
    }
    mcf_free(c);
    return ok;
}
