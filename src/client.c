/* client.c - the client object: lifecycle, options, the server list, and the
 * public commands, each a thin wrapper that describes a call (call.h) and
 * runs it (sync.c). */
#include <stdlib.h>
#include <string.h>

#include "async.h"
#include "call.h"
#include "codec.h"
#include "discovery.h"
#include "engine.h"
#include "refresh.h"
#include "route.h"
#include "sync.h"
#include "tls.h"

/* Healing's defaults (docs/failures.md says why these). */
#define FAILURE_LIMIT_DEFAULT 3
#define RETRY_MS_DEFAULT 1000
#define RETRY_MAX_MS_DEFAULT 30000
#define FLAP_MS_DEFAULT 60000
#define FAILURE_LIMIT_MAX 1000000
#define RETRY_MS_MAX (24 * 3600 * 1000)
#define US_PER_MS 1000
#define US_PER_S 1000000

/* health.h's policy from the options: Cache::Memcached::Fast's counting
 * when max_failures is set, else healing. */
static void set_health_policy(mcf_client *c)
{
    mcf_health_policy *p = &c->health_policy;
    if (c->max_failures) {
        *p = (mcf_health_policy){.failure_limit = c->max_failures,
                                 .cmf_window_us = (int64_t)c->failure_timeout_s * US_PER_S};
        return;
    }
    int64_t max = c->retry_max_ms > c->retry_ms ? c->retry_max_ms : c->retry_ms;
    *p = (mcf_health_policy){.failure_limit = c->failure_limit,
                             .retry_us = (int64_t)c->retry_ms * US_PER_MS,
                             .retry_max_us = max * US_PER_MS,
                             .flap_us = (int64_t)c->flap_ms * US_PER_MS};
}

mcf_client *mcf_new(void)
{
    mcf_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->connect_timeout_ms = 1000;
    c->attempt_delay_ms = 250;
    c->io_timeout_ms = 1000;
    c->distribution = MCF_DIST_MODULA;
    c->ketama_points = 150;
    c->max_value_size = 1024 * 1024;
    c->max_inflate_size = 64u * 1024 * 1024;
    c->compress_threshold = -1;
    c->compress_ratio = 80;
    c->failure_timeout_s = 10;
    c->failure_limit = FAILURE_LIMIT_DEFAULT;
    c->retry_ms = RETRY_MS_DEFAULT;
    c->retry_max_ms = RETRY_MAX_MS_DEFAULT;
    c->flap_ms = FLAP_MS_DEFAULT;
    c->dns_ttl_ms = MCF_DNS_TTL_FROM_DNS;
    set_health_policy(c);
    /* A blocking call routes into these even with no server (to say so). */
    c->sync_slices = calloc(1, sizeof *c->sync_slices);
    if (!c->sync_slices) {
        free(c);
        return NULL;
    }
    return c;
}

static void free_servers(mcf_client *c)
{
    mcf_conn_check_fork(c); /* never sync a socket inherited from the parent */
    mcf_async_cancel_all(c);
    for (size_t i = 0; i < c->nservers; i++) {
        mcf_refresh_cancel(c, &c->servers[i]);
        mcf_conn_sync(c, &c->servers[i]);
        mcf_conn_free(c, &c->servers[i]);
    }
    free(c->servers);
    free(c->pfds);
    free(c->pmap);
    c->servers = NULL;
    c->pfds = NULL;
    c->pmap = NULL;
    c->sync_slices[0] = (mcf_slice){0};
    c->nservers = 0;
    mcf_dist_free(&c->dist);
    c->dist_dirty = 1;
}

void mcf_free(mcf_client *c)
{
    if (!c)
        return;
    mcf_discovery_free(c); /* its connect may hold a lookup of the resolver */
    free_servers(c);
    mcf_async_free(c);
    mcf_resolver_free(c->resolver);
    mcf_tls_free(c->tls);
    free(c->sync_slices);
    free(c->srv_of);
    free(c->order);
    free(c->zoff);
    free(c->zlen);
    free(c->answered);
    free(c->kptr);
    free(c->klen);
    free(c->zbuf);
    free(c->ibuf);
    free(c);
}

/* The same memcached: the spec may differ in weight or spelling of the
 * port ("mc1" and "mc1:11211"), not in where it leads or whether it is TLS. */
static int same_server(const mcf_spec *a, const mcf_spec *b)
{
    if (a->is_unix != b->is_unix || a->tls != b->tls)
        return 0;
    if (a->is_unix)
        return strcmp(a->path, b->path) == 0;
    return a->port == b->port && strcmp(a->host, b->host) == 0;
}

/* A new list keeps what it shares with the old one: each server that stays
 * moves into its new place with its connection, buffers, protocol and
 * version, TLS session and failure record (only its spec, so its weight
 * and text, is the new one).  Connects still in progress are given up
 * first: the resolver holds pointers into the server. */
static void keep_servers(mcf_client *c, mcf_server *fresh, size_t n)
{
    mcf_conn_check_fork(c); /* inherited connections are never carried over */
    for (size_t j = 0; j < c->nservers; j++) {
        mcf_server *old = &c->servers[j];
        for (size_t i = 0; i < n; i++) {
            if (fresh[i].client == NULL || !same_server(&fresh[i].spec, &old->spec))
                continue;
            mcf_conn_open_abort(c, old);
            mcf_refresh_cancel(c, old); /* its next tick asks again */
            mcf_spec spec = fresh[i].spec;
            fresh[i] = *old;
            fresh[i].spec = spec;
            mcf_async_server_moved(c, fresh[i].fd, &fresh[i]);
            /* Marks fresh[i] taken (client is set again below). */
            fresh[i].client = NULL;
            memset(old, 0, sizeof *old);
            old->client = c;
            old->fd = -1;
            old->held_off = SIZE_MAX;
            break;
        }
    }
    for (size_t i = 0; i < n; i++)
        fresh[i].client = c;
}

/* Installs a parsed server list (takes ownership of specs). */
static int install_servers(mcf_client *c, mcf_spec *specs, size_t n)
{
    if (c->inflight) {
        free(specs);
        return mcf_set_error(c, MCF_ERR_ARG,
                             "the server list cannot change while %zu async requests are in "
                             "flight",
                             c->inflight);
    }
    /* A TLS server needs the TLS context: made now with the defaults if
     * mcf_set_tls was not called, since reading the system's trust store
     * takes milliseconds that a connect (or an event loop) must not pay. */
    for (size_t i = 0; i < n && !c->tls; i++) {
        if (!specs[i].tls)
            continue;
        char msg[512];
        int rc = mcf_tls_new(NULL, &c->tls, msg, sizeof msg);
        if (rc != MCF_OK) {
            mcf_set_error(c, rc, "server %s: %s", specs[i].text, msg);
            free(specs);
            return rc;
        }
    }
    mcf_server *servers = calloc(n, sizeof *servers);
    /* Room for every connect attempt of every server (connect_servers). */
    struct pollfd *pfds = calloc(n * MCF_MAX_ADDRS, sizeof *pfds);
    mcf_server **pmap = calloc(n, sizeof *pmap);
    mcf_slice *slices = realloc(c->sync_slices, (n ? n : 1) * sizeof *slices);
    if (slices)
        c->sync_slices = slices;
    if (!servers || !pfds || !pmap || !slices) {
        free(servers);
        free(pfds);
        free(pmap);
        free(specs);
        return mcf_set_error(c, MCF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        servers[i].client = c;
        servers[i].spec = specs[i];
        servers[i].fd = -1;
        servers[i].held_off = SIZE_MAX;
        /* The jitter of each server's waits differs, and from one client to
         * the next (the address of its slot is as good a seed as any). */
        mcf_health_init(&servers[i].health, (uint64_t)(uintptr_t)&servers[i] ^ i);
    }
    free(specs);
    keep_servers(c, servers, n);
    free_servers(c);
    c->servers = servers;
    c->pfds = pfds;
    c->pmap = pmap;
    c->nservers = n;
    c->dist_dirty = 1;
    c->dns_next_us = 0; /* the servers kept are scheduled again (refresh.h) */
    /* The servers kept brought their health along. */
    c->unhealthy = 0;
    for (size_t i = 0; i < n; i++)
        c->unhealthy += servers[i].health.state != MCF_HEALTH_UP;
    return MCF_OK;
}

int mcf_set_servers(mcf_client *c, const char *list)
{
    if (!c || !list)
        return MCF_ERR_ARG;
    mcf_spec *specs;
    size_t n;
    char msg[512];
    int rc = mcf_spec_parse_list(list, &specs, &n, msg, sizeof msg);
    if (rc != MCF_OK)
        return mcf_set_error(c, rc, "%s", msg);
    return install_servers(c, specs, n);
}

/* Discovery (discovery.h) installs its lists as mcf_set_servers does. */
int mcf_set_discovery(mcf_client *c, const char *endpoint, int interval_ms)
{
    if (!c)
        return MCF_ERR_ARG;
    return mcf_discovery_set(c, endpoint, interval_ms, install_servers);
}

int mcf_discover_now(mcf_client *c)
{
    return c ? mcf_discovery_now(c) : MCF_ERR_ARG;
}

int mcf_discovery_info_get(mcf_client *c, mcf_discovery_info *info)
{
    if (!c || !info)
        return MCF_ERR_ARG;
    return mcf_discovery_get_info(c, info);
}

int mcf_add_server(mcf_client *c, const char *spec, unsigned weight)
{
    if (!c || !spec || weight == 0)
        return MCF_ERR_ARG;
    return mcf_add_server_weight(c, spec, (double)weight);
}

int mcf_add_server_weight(mcf_client *c, const char *spec, double weight)
{
    /* !(weight > 0) also refuses NaN */
    if (!c || !spec || !(weight > 0) || weight > MCF_SPEC_WEIGHT_MAX)
        return MCF_ERR_ARG;
    mcf_spec one;
    char msg[512];
    int rc = mcf_spec_parse(spec, strlen(spec), &one, msg, sizeof msg);
    if (rc != MCF_OK)
        return mcf_set_error(c, rc, "%s", msg);
    if (one.weight_written)
        return mcf_set_error(c, MCF_ERR_BAD_SPEC,
                             "server spec '%s' carries a weight; pass it as the argument instead",
                             spec);
    if (weight == (double)(unsigned)weight) {
        one.weight = (unsigned)weight;
    } else {
        one.frac_weight = weight;
        one.weight = weight < 1 ? 1 : (unsigned)(weight + 0.5);
    }
    mcf_spec *specs = malloc((c->nservers + 1) * sizeof *specs);
    if (!specs)
        return mcf_set_error(c, MCF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->nservers; i++)
        specs[i] = c->servers[i].spec;
    specs[c->nservers] = one;
    return install_servers(c, specs, c->nservers + 1);
}

int mcf_set_option(mcf_client *c, mcf_option opt, int64_t v)
{
    if (!c)
        return MCF_ERR_ARG;
    switch (opt) {
    case MCF_OPT_CONNECT_TIMEOUT_MS:
        if (v < 1 || v > 3600000)
            break;
        c->connect_timeout_ms = (int)v;
        return MCF_OK;
    case MCF_OPT_ATTEMPT_DELAY_MS:
        if (v < 0 || v > 3600000)
            break;
        c->attempt_delay_ms = v < 10 ? 10 : (int)v; /* RFC 8305 §5: at least 10 ms */
        return MCF_OK;
    case MCF_OPT_IO_TIMEOUT_MS:
        if (v < 1 || v > 3600000)
            break;
        c->io_timeout_ms = (int)v;
        return MCF_OK;
    case MCF_OPT_TCP_KEEPALIVE:
        c->keepalive = v != 0;
        return MCF_OK;
    case MCF_OPT_DISTRIBUTION:
        if (v < MCF_DIST_MODULA || v > MCF_DIST_NUTCRACKER_MODULA)
            break;
        c->distribution = (int)v;
        c->dist_dirty = 1;
        return MCF_OK;
    case MCF_OPT_HASH:
        /* Whether the distribution takes it is said by the next call
         * (options may be set in either order). */
        if (v < MCF_HASH_DEFAULT || v > MCF_HASH_MURMUR3)
            break;
        c->hash = (int)v;
        c->dist_dirty = 1;
        return MCF_OK;
    case MCF_OPT_KETAMA_POINTS:
        if (v < 1 || v > 100000)
            break;
        c->ketama_points = (unsigned)v;
        c->dist_dirty = 1;
        return MCF_OK;
    case MCF_OPT_HASH_NAMESPACE:
        c->hash_namespace = v != 0;
        return MCF_OK;
    case MCF_OPT_NOREPLY:
        c->noreply_default = v != 0;
        return MCF_OK;
    case MCF_OPT_MAX_VALUE_SIZE:
        if (v < 1 || v > (int64_t)1 << 32)
            break;
        c->max_value_size = (size_t)v;
        return MCF_OK;
    case MCF_OPT_COMPRESS_THRESHOLD:
        if (v < -1)
            break;
        c->compress_threshold = v;
        return MCF_OK;
    case MCF_OPT_COMPRESS_RATIO:
        if (v < 1 || v > 100)
            break;
        c->compress_ratio = (int)v;
        return MCF_OK;
    case MCF_OPT_MAX_FAILURES:
        if (v < 0 || v > FAILURE_LIMIT_MAX)
            break;
        c->max_failures = (unsigned)v;
        set_health_policy(c);
        return MCF_OK;
    case MCF_OPT_FAILURE_TIMEOUT_S:
        if (v < 1 || v > 86400)
            break;
        c->failure_timeout_s = (int)v;
        set_health_policy(c);
        return MCF_OK;
    case MCF_OPT_FAILURE_LIMIT:
        if (v < 0 || v > FAILURE_LIMIT_MAX)
            break;
        c->failure_limit = (unsigned)v;
        set_health_policy(c);
        return MCF_OK;
    case MCF_OPT_RETRY_MS:
        if (v < 1 || v > RETRY_MS_MAX)
            break;
        c->retry_ms = (int)v;
        set_health_policy(c);
        return MCF_OK;
    case MCF_OPT_RETRY_MAX_MS:
        if (v < 1 || v > RETRY_MS_MAX)
            break;
        c->retry_max_ms = (int)v;
        set_health_policy(c);
        return MCF_OK;
    case MCF_OPT_FLAP_MS:
        if (v < 0 || v > RETRY_MS_MAX)
            break;
        c->flap_ms = (int)v;
        set_health_policy(c);
        return MCF_OK;
    case MCF_OPT_DNS_TTL_MS:
        if (v < MCF_DNS_TTL_FROM_DNS || v > RETRY_MS_MAX)
            break;
        c->dns_ttl_ms = (int)v;
        mcf_refresh_reschedule(c);
        return MCF_OK;
    case MCF_OPT_LATENCY:
        if (v != 0 && v != 1)
            break;
        c->latency = (int)v;
        return MCF_OK;
    case MCF_OPT_FAILOVER:
        c->failover = v != 0;
        return MCF_OK;
    case MCF_OPT_MAX_INFLATE_SIZE:
        if (v < 1 || v > (int64_t)1 << 34)
            break;
        c->max_inflate_size = (size_t)v;
        return MCF_OK;
    case MCF_OPT_PROTOCOL:
        if (v != MCF_PROTO_TEXT && v != MCF_PROTO_META && v != MCF_PROTO_AUTO)
            break;
        c->protocol = (int)v;
        /* Open connections choose again on their next call (auto probes
         * an idle connection: it is in step). */
        for (size_t i = 0; i < c->nservers; i++)
            c->servers[i].proto = PROTO_UNKNOWN;
        return MCF_OK;
    }
    return mcf_set_error(c, MCF_ERR_ARG, "option %d: value %lld out of range or unknown option",
                         (int)opt, (long long)v);
}

int64_t mcf_get_option(const mcf_client *c, mcf_option opt)
{
    switch (opt) {
    case MCF_OPT_CONNECT_TIMEOUT_MS: return c->connect_timeout_ms;
    case MCF_OPT_ATTEMPT_DELAY_MS: return c->attempt_delay_ms;
    case MCF_OPT_IO_TIMEOUT_MS: return c->io_timeout_ms;
    case MCF_OPT_TCP_KEEPALIVE: return c->keepalive;
    case MCF_OPT_DISTRIBUTION: return c->distribution;
    case MCF_OPT_KETAMA_POINTS: return c->ketama_points;
    case MCF_OPT_HASH_NAMESPACE: return c->hash_namespace;
    case MCF_OPT_NOREPLY: return c->noreply_default;
    case MCF_OPT_MAX_VALUE_SIZE: return (int64_t)c->max_value_size;
    case MCF_OPT_COMPRESS_THRESHOLD: return c->compress_threshold;
    case MCF_OPT_COMPRESS_RATIO: return c->compress_ratio;
    case MCF_OPT_MAX_FAILURES: return c->max_failures;
    case MCF_OPT_FAILURE_TIMEOUT_S: return c->failure_timeout_s;
    case MCF_OPT_FAILOVER: return c->failover;
    case MCF_OPT_MAX_INFLATE_SIZE: return (int64_t)c->max_inflate_size;
    case MCF_OPT_PROTOCOL: return c->protocol;
    case MCF_OPT_HASH: return c->hash;
    case MCF_OPT_FAILURE_LIMIT: return c->failure_limit;
    case MCF_OPT_RETRY_MS: return c->retry_ms;
    case MCF_OPT_RETRY_MAX_MS: return c->retry_max_ms;
    case MCF_OPT_FLAP_MS: return c->flap_ms;
    case MCF_OPT_DNS_TTL_MS: return c->dns_ttl_ms;
    case MCF_OPT_LATENCY: return c->latency;
    }
    return -1;
}

int mcf_set_namespace(mcf_client *c, const char *ns)
{
    if (!c)
        return MCF_ERR_ARG;
    size_t len = ns ? strlen(ns) : 0;
    if (len && mcf_check_key(NULL, 0, ns, len) != MCF_OK)
        return mcf_set_error(c, MCF_ERR_BAD_KEY,
                             "namespace must be at most 250 bytes with no space or control character");
    memcpy(c->ns, ns ? ns : "", len);
    c->ns[len] = 0;
    c->ns_len = len;
    return MCF_OK;
}


/* ---- retrieval ---- */

static int get_one(mcf_client *c, mcf_get_mode mode, int64_t exptime, const char *key,
                   size_t key_len, mcf_value *out)
{
    if (!c || !out)
        return MCF_ERR_ARG;
    memset(out, 0, sizeof *out);
    /* One key, no callback: the engine records a hit in *out directly. */
    const char *keys[1] = {key};
    size_t lens[1] = {key_len};
    mcf_call call = {.kind = CALL_GET, .mode = mode, .exptime = exptime, .keys = keys,
                     .key_lens = lens, .n = 1, .hold = 1, .held = out};
    int rc = mcf_run(c, &call);
    if (rc != MCF_OK)
        return rc;
    /* A hit always points somewhere (an empty value too); a miss is zeroed. */
    return out->data ? MCF_OK : MCF_MISS;
}

int mcf_get(mcf_client *c, const char *key, size_t key_len, mcf_value *out)
{
    return get_one(c, MCF_GET, 0, key, key_len, out);
}

int mcf_gets(mcf_client *c, const char *key, size_t key_len, mcf_value *out)
{
    return get_one(c, MCF_GETS, 0, key, key_len, out);
}

int mcf_gat(mcf_client *c, int64_t exptime, const char *key, size_t key_len, mcf_value *out)
{
    return get_one(c, MCF_GAT, exptime, key, key_len, out);
}

int mcf_gats(mcf_client *c, int64_t exptime, const char *key, size_t key_len, mcf_value *out)
{
    return get_one(c, MCF_GATS, exptime, key, key_len, out);
}

int mcf_get_multi(mcf_client *c, mcf_get_mode mode, int64_t exptime, const char *const *keys,
                  const size_t *key_lens, size_t n, mcf_get_cb cb, void *ctx)
{
    if (!c || (n && (!keys || !cb)) || mode < MCF_GET || mode > MCF_GATS)
        return c ? mcf_set_error(c, MCF_ERR_ARG, "mcf_get_multi: invalid argument") : MCF_ERR_ARG;
    mcf_call call = {.kind = CALL_GET, .mode = mode, .exptime = exptime, .keys = keys,
                     .key_lens = key_lens, .n = n, .get_cb = cb, .ctx = ctx};
    return mcf_run(c, &call);
}

/* ---- writes ---- */

int mcf_multi(mcf_client *c, mcf_op op, mcf_item *items, size_t n, unsigned call_flags)
{
    if (!c || (n && !items))
        return c ? mcf_set_error(c, MCF_ERR_ARG, "mcf_multi: invalid argument") : MCF_ERR_ARG;
    mcf_call call = {0};
    if (mcf_call_of_op(c, "mcf_multi", &call, op, items, n, call_flags) != MCF_OK)
        return MCF_ERR_ARG;
    return mcf_run(c, &call);
}

/* A single item through the multi path: the outcome is the item's rc. */
static int one_item(mcf_client *c, mcf_op op, mcf_item *it, unsigned call_flags)
{
    if (!c)
        return MCF_ERR_ARG;
    int rc = mcf_multi(c, op, it, 1, call_flags);
    return rc == MCF_OK ? it->rc : rc;
}

int mcf_store(mcf_client *c, mcf_store_mode mode, const char *key, size_t key_len,
              const void *value, size_t value_len, uint32_t flags, int64_t exptime, uint64_t cas,
              unsigned call_flags)
{
    if (mode < MCF_SET || mode > MCF_CAS)
        return c ? mcf_set_error(c, MCF_ERR_ARG, "mcf_store: unknown mode") : MCF_ERR_ARG;
    mcf_item it = {.key = key, .key_len = key_len, .value = value, .value_len = value_len,
                   .flags = flags, .exptime = exptime, .cas = cas};
    return one_item(c, (mcf_op)mode, &it, call_flags);
}

int mcf_set(mcf_client *c, const char *key, size_t key_len, const void *value, size_t value_len,
            uint32_t flags, int64_t exptime)
{
    return mcf_store(c, MCF_SET, key, key_len, value, value_len, flags, exptime, 0, 0);
}

static int arith(mcf_client *c, mcf_op op, const char *key, size_t key_len, uint64_t delta,
                 uint64_t *new_value, unsigned call_flags)
{
    mcf_item it = {.key = key, .key_len = key_len, .delta = delta};
    int rc = one_item(c, op, &it, call_flags);
    if (rc == MCF_OK && new_value)
        *new_value = it.number;
    return rc;
}

int mcf_incr(mcf_client *c, const char *key, size_t key_len, uint64_t delta, uint64_t *new_value,
             unsigned call_flags)
{
    return arith(c, MCF_OP_INCR, key, key_len, delta, new_value, call_flags);
}

int mcf_decr(mcf_client *c, const char *key, size_t key_len, uint64_t delta, uint64_t *new_value,
             unsigned call_flags)
{
    return arith(c, MCF_OP_DECR, key, key_len, delta, new_value, call_flags);
}

int mcf_delete(mcf_client *c, const char *key, size_t key_len, unsigned call_flags)
{
    mcf_item it = {.key = key, .key_len = key_len};
    return one_item(c, MCF_OP_DELETE, &it, call_flags);
}

int mcf_touch(mcf_client *c, const char *key, size_t key_len, int64_t exptime,
              unsigned call_flags)
{
    mcf_item it = {.key = key, .key_len = key_len, .exptime = exptime};
    return one_item(c, MCF_OP_TOUCH, &it, call_flags);
}

/* ---- meta-only calls (mcf_*_ex) ---- */

static const mcf_meta_opts no_opts;


int mcf_get_ex(mcf_client *c, const char *key, size_t key_len, const mcf_meta_opts *opts,
               mcf_value *out, mcf_item_info *info)
{
    if (!c || !out)
        return c ? mcf_set_error(c, MCF_ERR_ARG, "mcf_get_ex: invalid argument") : MCF_ERR_ARG;
    memset(out, 0, sizeof *out);
    if (info)
        memset(info, 0, sizeof *info);
    int rc = mcf_call_check_ex(c, "mcf_get_ex", CALL_GET, MCF_GETS, opts);
    if (rc != MCF_OK)
        return rc;
    const char *keys[1] = {key};
    size_t lens[1] = {key_len};
    mcf_call call = {.kind = CALL_GET, .mode = MCF_GETS, .keys = keys, .key_lens = lens, .n = 1,
                     .hold = 1, .held = out, .meta = opts ? opts : &no_opts, .info = info};
    rc = mcf_run(c, &call);
    if (rc != MCF_OK)
        return rc;
    return out->data ? MCF_OK : MCF_MISS;
}

/* One item of an _ex call through the engine; the outcome is the item's rc. */
static int ex_item(mcf_client *c, mcf_call_kind kind, int mode, mcf_item *it,
                   const mcf_meta_opts *opts, mcf_item_info *info)
{
    if (info)
        memset(info, 0, sizeof *info);
    mcf_call call = {.kind = kind, .mode = mode, .items = it, .n = 1,
                     .meta = opts ? opts : &no_opts, .info = info};
    int rc = mcf_run(c, &call);
    return rc == MCF_OK ? it->rc : rc;
}

int mcf_store_ex(mcf_client *c, mcf_store_mode mode, const char *key, size_t key_len,
                 const void *value, size_t value_len, uint32_t flags, int64_t exptime,
                 uint64_t cas, const mcf_meta_opts *opts, mcf_item_info *info)
{
    if (!c)
        return MCF_ERR_ARG;
    int rc = mcf_call_check_ex(c, "mcf_store_ex", CALL_STORE, (int)mode, opts);
    if (rc != MCF_OK)
        return rc;
    mcf_item it = {.key = key, .key_len = key_len, .value = value, .value_len = value_len,
                   .flags = flags, .exptime = exptime, .cas = cas};
    return ex_item(c, CALL_STORE, (int)mode, &it, opts, info);
}

int mcf_delete_ex(mcf_client *c, const char *key, size_t key_len, const mcf_meta_opts *opts)
{
    if (!c)
        return MCF_ERR_ARG;
    int rc = mcf_call_check_ex(c, "mcf_delete_ex", CALL_DELETE, 0, opts);
    if (rc != MCF_OK)
        return rc;
    mcf_item it = {.key = key, .key_len = key_len};
    return ex_item(c, CALL_DELETE, 0, &it, opts, NULL);
}

int mcf_exists(mcf_client *c, const char *key, size_t key_len)
{
    if (!c)
        return MCF_ERR_ARG;
    int rc = mcf_call_check_ex(c, "mcf_exists", CALL_TOUCH, MCF_TOUCH_EXISTS, NULL);
    if (rc != MCF_OK)
        return rc;
    mcf_item it = {.key = key, .key_len = key_len};
    rc = ex_item(c, CALL_TOUCH, MCF_TOUCH_EXISTS, &it, NULL, NULL);
    return rc == MCF_NOT_FOUND ? MCF_MISS : rc;
}

static int arith_ex(mcf_client *c, int incr, const char *key, size_t key_len, uint64_t delta,
                    const mcf_meta_opts *opts, uint64_t *new_value, mcf_item_info *info)
{
    if (!c)
        return MCF_ERR_ARG;
    int rc = mcf_call_check_ex(c, incr ? "mcf_incr_ex" : "mcf_decr_ex", CALL_ARITH, incr, opts);
    if (rc != MCF_OK)
        return rc;
    mcf_item it = {.key = key, .key_len = key_len, .delta = delta};
    rc = ex_item(c, CALL_ARITH, incr, &it, opts, info);
    if (rc == MCF_OK && new_value)
        *new_value = it.number;
    return rc;
}

int mcf_incr_ex(mcf_client *c, const char *key, size_t key_len, uint64_t delta,
                const mcf_meta_opts *opts, uint64_t *new_value, mcf_item_info *info)
{
    return arith_ex(c, 1, key, key_len, delta, opts, new_value, info);
}

int mcf_decr_ex(mcf_client *c, const char *key, size_t key_len, uint64_t delta,
                const mcf_meta_opts *opts, uint64_t *new_value, mcf_item_info *info)
{
    return arith_ex(c, 0, key, key_len, delta, opts, new_value, info);
}

/* ---- per-server and fleet commands ---- */

size_t mcf_server_count(const mcf_client *c)
{
    return c ? c->nservers : 0;
}

int mcf_flush_all(mcf_client *c, int64_t delay, unsigned call_flags)
{
    if (!c)
        return MCF_ERR_ARG;
    mcf_call call = {.kind = CALL_FLUSH, .n = c->nservers, .exptime = delay < 0 ? 0 : delay,
                     .noreply = mcf_call_noreply(c, call_flags)};
    return mcf_run(c, &call);
}

int mcf_version(mcf_client *c, size_t server, char *buf, size_t buflen)
{
    if (!c || !buf || !buflen || server >= c->nservers)
        return c ? mcf_set_error(c, MCF_ERR_ARG, "mcf_version: invalid argument") : MCF_ERR_ARG;
    buf[0] = 0;
    mcf_call call = {.kind = CALL_VERSION, .n = 1, .server = server, .version_buf = buf,
                     .version_len = buflen};
    return mcf_run(c, &call);
}

int mcf_stats(mcf_client *c, size_t server, const char *arg, mcf_stat_cb cb, void *ctx)
{
    if (!c || !cb || server >= c->nservers)
        return c ? mcf_set_error(c, MCF_ERR_ARG, "mcf_stats: invalid argument") : MCF_ERR_ARG;
    if (mcf_call_check_stats_arg(c, "mcf_stats", arg) != MCF_OK)
        return MCF_ERR_ARG;
    mcf_call call = {.kind = CALL_STATS, .n = 1, .server = server, .stats_arg = arg,
                     .stat_cb = cb, .ctx = ctx};
    return mcf_run(c, &call);
}

int mcf_metadump(mcf_client *c, size_t server, mcf_dump_cb cb, void *ctx)
{
    if (!c || !cb || server >= c->nservers)
        return c ? mcf_set_error(c, MCF_ERR_ARG, "mcf_metadump: invalid argument") : MCF_ERR_ARG;
    mcf_call call = {.kind = CALL_STATS, .n = 1, .server = server, .dump_cb = cb, .ctx = ctx};
    return mcf_run(c, &call);
}

int mcf_server_for_key(mcf_client *c, const char *key, size_t key_len, size_t *server)
{
    if (!c || !server)
        return MCF_ERR_ARG;
    return mcf_route_key(c, key, key_len, server);
}

int mcf_server_info_get(const mcf_client *c, size_t server, mcf_server_info *info)
{
    if (!c || !info || server >= c->nservers)
        return MCF_ERR_ARG;
    const mcf_server *s = &c->servers[server];
    info->spec = s->spec.text;
    info->address = s->address;
    info->family = s->family;
    info->weight = s->spec.weight;
    info->connect_ms = s->connect_ms;
    info->connected = s->fd >= 0 && mcf_conn_owned(c); /* not the parent's after fork() */
    info->tls = mcf_conn_wants_tls(c, s);
    if (info->connected && s->tls_on)
        mcf_tls_describe(s->tr_ctx, &info->tls_version, &info->tls_cipher, &info->tls_resumed);
    else {
        info->tls_version = info->tls_cipher = "";
        info->tls_resumed = 0;
    }
    const mcf_health *h = &s->health;
    int64_t now = mcf_now_us();
    info->down = h->state != MCF_HEALTH_UP && (h->state == MCF_HEALTH_PROBING ||
                                              c->health_policy.cmf_window_us == 0 ||
                                              now < h->retry_at_us);
    info->failures = h->failures;
    info->retry_in_ms =
        h->state == MCF_HEALTH_DOWN && h->retry_at_us > now ? (h->retry_at_us - now + 999) / 1000 : 0;
    info->downs = h->downs;
    info->down_why = s->down_why;
    info->dns_expires_in_ms = info->connected ? mcf_refresh_expires_in_ms(c, s, now) : -1;
    info->re_resolved = s->dns.re_resolved;
    return MCF_OK;
}

void mcf_set_event_callback(mcf_client *c, mcf_event_cb cb, void *ctx)
{
    if (!c)
        return;
    c->on_event = cb;
    c->event_ctx = ctx;
}

int mcf_tls_available(void)
{
    return mcf_tls_built_in();
}

int mcf_set_tls(mcf_client *c, const mcf_tls_options *opts)
{
    if (!c)
        return MCF_ERR_ARG;
    mcf_conn_check_fork(c);
    char msg[512];
    mcf_tls *t;
    int rc = mcf_tls_new(opts, &t, msg, sizeof msg);
    if (rc != MCF_OK)
        return mcf_set_error(c, rc, "TLS configuration: %s", msg);
    /* Connections made with the old context, or without TLS, go, and so
     * do the sessions they saved: resuming one would skip verifying the
     * server against the new trust settings. */
    mcf_disconnect_all(c);
    for (size_t i = 0; i < c->nservers; i++) {
        mcf_tls_session_free(c->servers[i].tls_session);
        c->servers[i].tls_session = NULL;
    }
    mcf_tls_free(c->tls);
    c->tls = t;
    return MCF_OK;
}

int mcf_connect_server(mcf_client *c, size_t server)
{
    if (!c || server >= c->nservers)
        return MCF_ERR_ARG;
    mcf_conn_check_fork(c);
    c->err[0] = 0;
    c->err_rc = 0;
    mcf_server *s = &c->servers[server];
    if (s->fd >= 0)
        return MCF_OK;
    return mcf_engine_connect(c, s);
}

void mcf_disconnect_all(mcf_client *c)
{
    if (!c)
        return;
    mcf_conn_check_fork(c);
    mcf_async_cancel_all(c);
    for (size_t i = 0; i < c->nservers; i++) {
        mcf_conn_sync(c, &c->servers[i]);
        mcf_conn_close(&c->servers[i]);
    }
    mcf_discovery_disconnect(c); /* the endpoint's too */
}
