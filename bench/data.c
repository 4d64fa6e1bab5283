/* data.c - keys, values, the memcached servers and their contents. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "mcfast.h"

size_t g_nkeys, g_nbatches, g_nscale_batches;
const char **g_kget, **g_kset, **g_kmiss, **g_kbig;
size_t *g_klens;
char *g_vget, *g_vset, *g_vbig;
const char **g_kscale[NSCALE];
char *g_vscale[NSCALE];
unsigned char *g_owner[NSCALE];
mcserver g_srv[MAX_SRV];
int g_nsrv_started;

static char *keytext, *scaletext;

/* memcached -m for the servers beyond the first NSRV: they hold only their
 * share of the scaling keys (at most the 8- and 32-server sets' shares, so
 * under 2 * g_nkeys items), ITEM_BUDGET bytes each at most for an 11-byte
 * key and a 100-byte value, on top of memcached's smallest useful size. */
#define EXTRA_SRV_BASE_MB 16
#define ITEM_BUDGET 256
#define MIB (1024 * 1024)

/* A value: its key, then a byte pattern that depends on the key. */
static void make_value(char *v, size_t len, const char *key, size_t i)
{
    memcpy(v, key, KLEN);
    for (size_t j = KLEN; j < len; j++)
        v[j] = (char)('a' + (i + j) % 26);
}

int data_init(size_t nkeys)
{
    g_nkeys = nkeys;
    g_nbatches = nkeys / BATCH;
    size_t nall = 3 * nkeys + NBIG;
    keytext = malloc(nall * (KLEN + 1));
    g_kget = malloc(nkeys * sizeof *g_kget);
    g_kset = malloc(nkeys * sizeof *g_kset);
    g_kmiss = malloc(nkeys * sizeof *g_kmiss);
    g_kbig = malloc(NBIG * sizeof *g_kbig);
    g_klens = malloc(nkeys * sizeof *g_klens);
    g_vget = malloc(nkeys * VLEN);
    g_vset = malloc(nkeys * VLEN);
    g_vbig = malloc((size_t)NBIG * BIGLEN);
    if (!keytext || !g_kget || !g_kset || !g_kmiss || !g_kbig || !g_klens || !g_vget || !g_vset ||
        !g_vbig)
        return -1;
    bench_make_keys(g_kget, keytext, "bk:", nkeys);
    bench_make_keys(g_kset, keytext + nkeys * (KLEN + 1), "bs:", nkeys);
    bench_make_keys(g_kmiss, keytext + 2 * nkeys * (KLEN + 1), "bm:", nkeys);
    bench_make_keys(g_kbig, keytext + 3 * nkeys * (KLEN + 1), "bb:", NBIG);
    for (size_t i = 0; i < nkeys; i++) {
        g_klens[i] = KLEN;
        make_value(g_vget + i * VLEN, VLEN, g_kget[i], i);
        make_value(g_vset + i * VLEN, VLEN, g_kset[i], i);
    }
    for (size_t i = 0; i < NBIG; i++)
        make_value(g_vbig + i * BIGLEN, BIGLEN, g_kbig[i], i);

    g_nscale_batches = nkeys / SCALE_BATCH;
    scaletext = malloc((size_t)NSCALE * nkeys * (KLEN + 1));
    if (!scaletext)
        return -1;
    for (int k = 0; k < NSCALE; k++) {
        g_kscale[k] = malloc(nkeys * sizeof *g_kscale[k]);
        g_vscale[k] = malloc(nkeys * VLEN);
        g_owner[k] = calloc(nkeys, 1);
        if (!g_kscale[k] || !g_vscale[k] || !g_owner[k])
            return -1;
        /* The prefix is the server count, so the sets never share a key. */
        char prefix[8];
        snprintf(prefix, sizeof prefix, "%02d:", g_workloads[W_SCALE1 + k].nsrv % 100);
        bench_make_keys(g_kscale[k], scaletext + (size_t)k * nkeys * (KLEN + 1), prefix, nkeys);
        for (size_t i = 0; i < nkeys; i++)
            make_value(g_vscale[k] + i * VLEN, VLEN, g_kscale[k][i], i);
    }
    return 0;
}

void data_free(void)
{
    free(keytext);
    free(g_kget);
    free(g_kset);
    free(g_kmiss);
    free(g_kbig);
    free(g_klens);
    free(g_vget);
    free(g_vset);
    free(g_vbig);
    free(scaletext);
    for (int k = 0; k < NSCALE; k++) {
        free(g_kscale[k]);
        free(g_vscale[k]);
        free(g_owner[k]);
    }
}

void data_stamp_set(char m)
{
    for (size_t i = 0; i < g_nkeys; i++)
        g_vset[i * VLEN + KLEN] = m;
}

int servers_start(int n)
{
    if (n > MAX_SRV)
        n = MAX_SRV;
    size_t extra_mb = EXTRA_SRV_BASE_MB + (2 * g_nkeys * ITEM_BUDGET + MIB - 1) / MIB;
    for (int i = 0; i < n; i++) {
        /* -t 1: one worker thread per server, as the issue asks; -m: room
         * for every key the server holds; -c: plenty of connections. */
        char args[64];
        if (i < NSRV)
            snprintf(args, sizeof args, "-t 1 -m 256 -c 256");
        else
            snprintf(args, sizeof args, "-t 1 -m %zu -c 256", extra_mb);
        if (mcserver_start_tcp(&g_srv[i], "127.0.0.1", args) != 0) {
            fprintf(stderr, "bench: cannot start memcached %d\n", i);
            return -1;
        }
        g_nsrv_started = i + 1;
    }
    return 0;
}

/* memcached takes a while to exit after SIGTERM: signalling every server
 * before reaping any lets them all finish at once. */
void servers_stop(void)
{
    for (int i = 0; i < g_nsrv_started; i++)
        if (g_srv[i].pid > 0)
            kill(g_srv[i].pid, SIGTERM);
    for (int i = 0; i < g_nsrv_started; i++)
        mcserver_stop(&g_srv[i]);
    g_nsrv_started = 0;
}

const char *srv_spec(int i)
{
    return g_srv[i].spec;
}

static int store_range(mcf_client *c, const char **keys, const char *vals, size_t vlen,
                       size_t n)
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
        if (rc != MCF_OK) {
            fprintf(stderr, "bench: fill failed: %s\n", mcf_last_error(c));
            return -1;
        }
        for (size_t j = 0; j < m; j++)
            if (items[j].rc != MCF_OK) {
                fprintf(stderr, "bench: fill: item rc %d\n", items[j].rc);
                return -1;
            }
    }
    return 0;
}

int servers_fill(int nbase, int with_big)
{
    for (int s = 0; s < nbase && s < g_nsrv_started; s++) {
        mcf_client *c = mcf_new();
        if (!c || mcf_set_servers(c, g_srv[s].spec) != MCF_OK) {
            fprintf(stderr, "bench: fill: cannot configure %s\n", g_srv[s].spec);
            mcf_free(c);
            return -1;
        }
        mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, 10000);
        int rc = store_range(c, g_kget, g_vget, VLEN, g_nkeys);
        if (rc == 0)
            rc = store_range(c, g_kset, g_vset, VLEN, g_nkeys);
        if (rc == 0 && with_big)
            rc = store_range(c, g_kbig, g_vbig, BIGLEN, NBIG);
        mcf_free(c);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Every scaling key goes to its owner alone, through a one-server client,
 * so nothing but the owner can answer for it. */
int scale_fill(const workload *w)
{
    int k = scale_index(w);
    if (k < 0 || w->nsrv > g_nsrv_started)
        return -1;
    if (lmc_owners(w->nsrv, g_kscale[k], g_nkeys, g_owner[k]) != 0) {
        fprintf(stderr, "bench: %s: cannot compute libmemcached's placement\n", w->name);
        return -1;
    }
    int rc = 0;
    for (int s = 0; s < w->nsrv && rc == 0; s++) {
        mcf_client *c = mcf_new();
        if (!c || mcf_set_servers(c, g_srv[s].spec) != MCF_OK) {
            fprintf(stderr, "bench: fill: cannot configure %s\n", g_srv[s].spec);
            mcf_free(c);
            return -1;
        }
        mcf_set_option(c, MCF_OPT_IO_TIMEOUT_MS, 10000);
        mcf_item items[BATCH];
        size_t m = 0;
        for (size_t i = 0; i <= g_nkeys && rc == 0; i++) {
            if (i < g_nkeys && g_owner[k][i] == s) {
                memset(&items[m], 0, sizeof items[m]);
                items[m].key = g_kscale[k][i];
                items[m].key_len = KLEN;
                items[m].value = g_vscale[k] + i * VLEN;
                items[m].value_len = VLEN;
                m++;
            }
            if (m == BATCH || (i == g_nkeys && m)) {
                rc = mcf_multi(c, MCF_OP_SET, items, m, 0);
                for (size_t j = 0; j < m && rc == MCF_OK; j++)
                    rc = items[j].rc;
                if (rc != MCF_OK)
                    fprintf(stderr, "bench: fill %s on %s: rc %d: %s\n", w->name, g_srv[s].spec,
                            rc, mcf_last_error(c));
                m = 0;
            }
        }
        mcf_free(c);
    }
    return rc == MCF_OK ? 0 : -1;
}

typedef struct vctx {
    size_t base;
    unsigned good, bad;
} vctx;

static void on_verify(void *p, size_t index, int rc, const mcf_value *v)
{
    vctx *x = p;
    const char *want = g_vset + ((x->base + index) % g_nkeys) * VLEN;
    if (rc == MCF_OK && v->len == VLEN && memcmp(v->data, want, VLEN) == 0)
        x->good++;
    else
        x->bad++;
}

int verify_set_keys(size_t first, size_t n, char *why, size_t whylen)
{
    mcf_client *c = mcf_new();
    int ok = 0;
    if (n > g_nkeys)
        n = g_nkeys;
    if (!c || mcf_set_servers(c, g_srv[0].spec) != MCF_OK) {
        snprintf(why, whylen, "verify: cannot configure a client");
        mcf_free(c);
        return -1;
    }
    const char *keys[BATCH];
    for (size_t done = 0; done < n && ok == 0; done += BATCH) {
        size_t m = n - done < BATCH ? n - done : BATCH;
        vctx x = {first + done, 0, 0};
        for (size_t j = 0; j < m; j++)
            keys[j] = g_kset[(first + done + j) % g_nkeys];
        int rc = mcf_get_multi(c, MCF_GET, 0, keys, g_klens, m, on_verify, &x);
        if (rc != MCF_OK || x.bad) {
            snprintf(why, whylen,
                     "verify: %u of %zu keys from %s on are missing or hold a stale value "
                     "(rc %d)",
                     x.bad, m, keys[0], rc);
            ok = -1;
        }
    }
    mcf_free(c);
    return ok;
}
