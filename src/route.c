/* route.c - the routing of a call: every item is validated first (nothing
 * is sent for a bad key or an oversized value), values are compressed,
 * each key is mapped to its server (dist.c; failover around servers marked
 * down), and the items are grouped per server with a counting sort into
 * the client's reusable scratch arrays: no allocation per key. */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "meta.h"
#include "route.h"

#define NO_SERVER UINT32_MAX
/* First size of the scratch arrays; they double from there. */
#define SCRATCH_MIN 64

/* MCF_OK when ns + key can be sent in the client's protocol (any bytes,
 * base64-encoded, in MCF_PROTO_META), else MCF_ERR_BAD_KEY. */
static int key_ok(const mcf_client *c, const char *key, size_t len)
{
    if (!key)
        return MCF_ERR_BAD_KEY;
    if (c->protocol == MCF_PROTO_META) {
        /* Up to 186 bytes every key can be sent, verbatim or base64: no
         * need to look at its bytes here (ops_meta.c decides which). */
        if (len && c->ns_len + len <= MCF_META_MAX_BINARY_KEY)
            return MCF_OK;
        mcf_meta_key k;
        return mcf_meta_key_init(&k, c->ns, c->ns_len, key, len, 1);
    }
    return mcf_check_key(c->ns, c->ns_len, key, len);
}

/* Builds the distribution (dist.c) from the server list; on failure the
 * client's error says why.  Out of line: it runs once per change of the
 * list or of a distribution option. */
MCF_COLD static int build_dist(mcf_client *c)
{
    mcf_dist_free(&c->dist);
    const char *why = mcf_dist_why(c->distribution, c->hash);
    if (why)
        return mcf_set_error(c, MCF_ERR_ARG, "hash %s with distribution %s: %s",
                             mcf_hash_name(c->hash) ? mcf_hash_name(c->hash) : "?",
                             mcf_dist_name(c->distribution), why);
    if (!mcf_dist_takes_fractional_weights(c->distribution))
        for (size_t i = 0; i < c->nservers; i++)
            if (c->servers[i].spec.frac_weight > 0)
                return mcf_set_error(c, MCF_ERR_ARG,
                                     "server %s has the fractional weight %g: distribution %s "
                                     "cannot honour it (only modula and ketama do, as "
                                     "Cache::Memcached::Fast)",
                                     c->servers[i].spec.text, c->servers[i].spec.frac_weight,
                                     mcf_dist_name(c->distribution));
    mcf_spec *specs = malloc(c->nservers * sizeof *specs);
    if (!specs)
        return mcf_set_error(c, MCF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < c->nservers; i++)
        specs[i] = c->servers[i].spec;
    int rc = mcf_dist_build(&c->dist, c->distribution, c->hash, specs, c->nservers,
                            c->ketama_points);
    free(specs);
    if (rc == MCF_OK)
        c->dist_dirty = 0;
    else if (rc == MCF_ERR_NOMEM)
        mcf_set_error(c, rc, "out of memory");
    else
        mcf_set_error(c, rc, "the server list cannot be spread with distribution %s (weights "
                             "too large, or totalling under 0.5, or too many servers or "
                             "points)",
                      mcf_dist_name(c->distribution));
    return rc;
}

static inline int prepare_dist(mcf_client *c)
{
    return c->dist_dirty ? build_dist(c) : MCF_OK;
}

static uint32_t pick_server(mcf_client *c, const char *key, size_t kl)
{
    if (c->nservers == 1)
        return 0;
    if (c->hash_namespace && c->ns_len) {
        char buf[2 * MCF_MAX_KEY_LEN + 2];
        memcpy(buf, c->ns, c->ns_len);
        memcpy(buf + c->ns_len, key, kl);
        return mcf_dist_pick(&c->dist, buf, c->ns_len + kl);
    }
    return mcf_dist_pick(&c->dist, key, kl);
}

int mcf_route_key(mcf_client *c, const char *key, size_t len, size_t *server)
{
    if (key_ok(c, key, len) != MCF_OK)
        return mcf_set_error(c, MCF_ERR_BAD_KEY, "bad key");
    if (c->nservers == 0)
        return mcf_set_error(c, MCF_ERR_NO_SERVERS, "no servers configured");
    int rc = prepare_dist(c);
    if (rc != MCF_OK)
        return rc;
    *server = pick_server(c, key, len);
    return MCF_OK;
}

static int ensure_scratch(mcf_client *c, size_t n)
{
    if (n <= c->scratch_cap)
        return 0;
    size_t cap = c->scratch_cap ? c->scratch_cap : SCRATCH_MIN;
    while (cap < n)
        cap *= 2;
    uint32_t *srv = realloc(c->srv_of, cap * sizeof *srv);
    if (!srv)
        return -1;
    c->srv_of = srv;
    size_t *o = realloc(c->order, cap * sizeof *o);
    if (!o)
        return -1;
    c->order = o;
    o = realloc(c->zoff, cap * sizeof *o);
    if (!o)
        return -1;
    c->zoff = o;
    o = realloc(c->zlen, cap * sizeof *o);
    if (!o)
        return -1;
    c->zlen = o;
    unsigned char *a = realloc(c->answered, cap);
    if (!a)
        return -1;
    c->answered = a;
    const char **kp = realloc(c->kptr, cap * sizeof *kp);
    if (!kp)
        return -1;
    c->kptr = kp;
    o = realloc(c->klen, cap * sizeof *o);
    if (!o)
        return -1;
    c->klen = o;
    c->scratch_cap = cap;
    return 0;
}

int mcf_route_grow_scratch(mcf_client *c, size_t n)
{
    return ensure_scratch(c, n);
}

/* The key of item i as the caller gave it (routing resolves it once). */
static size_t caller_key(const mcf_call *call, size_t i, const char **key)
{
    if (call->kind == CALL_GET) {
        *key = call->keys[i];
        if (!*key)
            return 0;
        return call->key_lens ? call->key_lens[i] : strlen(*key);
    }
    *key = call->items[i].key;
    return call->items[i].key_len;
}

/* Finishes storage item i with rc, its value refused or not compressible. */
MCF_COLD static int refuse_value(mcf_client *c, mcf_call *call, size_t i, const char *key,
                                 size_t kl, int rc)
{
    const mcf_item *it = &call->items[i];
    if (rc == MCF_ERR_ARG)
        mcf_note_error(c, rc, "key '%.*s': NULL value with nonzero length", (int)kl, key);
    else if (rc == MCF_ERR_TOO_LARGE)
        mcf_note_error(c, rc,
                       "key '%.*s': value of %zu bytes is over the max value size of %zu "
                       "bytes; nothing was sent",
                       (int)kl, key, it->value_len, c->max_value_size);
    else
        mcf_note_error(c, rc, "key '%.*s': compression failed", (int)kl, key);
    mcf_finish(c, call, NULL, i, rc, NULL);
    return rc;
}

/* Checks a storage item's value and compresses it when worth it: MCF_OK,
 * or an error after finishing the item with it. */
static MCF_HOT_INLINE int prepare_value(mcf_client *c, mcf_call *call, size_t i,
                                        const char *key, size_t kl)
{
    const mcf_item *it = &call->items[i];
    if (!it->value && it->value_len)
        return refuse_value(c, call, i, key, kl, MCF_ERR_ARG);
    if (it->value_len > c->max_value_size)
        return refuse_value(c, call, i, key, kl, MCF_ERR_TOO_LARGE);
    /* Appending compressed bytes to a value would corrupt it. */
    if (c->compress_threshold >= 0 && !call->no_compress &&
        (int64_t)it->value_len >= c->compress_threshold && call->mode != MCF_APPEND &&
        call->mode != MCF_PREPEND) {
        size_t off, zl;
        int zr = mcf_compress(c, it->value, it->value_len, &off, &zl);
        if (zr < 0)
            return refuse_value(c, call, i, key, kl, zr);
        if (zr == 1) {
            call->zoff[i] = off;
            call->zlen[i] = zl;
        }
    }
    return MCF_OK;
}

/* Finishes item i, whose key cannot be sent, with MCF_ERR_BAD_KEY. */
MCF_COLD static void refuse_key(mcf_client *c, mcf_call *call, size_t i, const char *key,
                                size_t kl)
{
    mcf_note_error(c, MCF_ERR_BAD_KEY,
                   c->protocol == MCF_PROTO_META
                       ? "bad key '%.*s' (%zu bytes with namespace): keys are 1..250 bytes, "
                         "or 1..186 bytes of any kind (sent base64); nothing was sent for it"
                       : "bad key '%.*s' (%zu bytes with namespace): keys are 1..250 bytes "
                         "with no space or control character; nothing was sent for it",
                   (int)(kl > 250 || !key ? (key ? 250 : 0) : kl), key ? key : "",
                   kl + c->ns_len);
    mcf_finish(c, call, NULL, i, MCF_ERR_BAD_KEY, NULL);
}

MCF_COLD void mcf_route_note_down(mcf_client *c, const mcf_server *s, int64_t now)
{
    char label[MCF_LABEL_MAX];
    mcf_srv_label(s, label, sizeof label);
    const mcf_health *h = &s->health;
    if (c->max_failures)
        mcf_note_error(c, MCF_ERR_SERVER_DOWN,
                       "server %s skipped: it failed %u times within %d s; retrying after %lld ms",
                       label, c->max_failures, c->failure_timeout_s,
                       (long long)((h->retry_at_us - now) / 1000));
    else if (h->state == MCF_HEALTH_PROBING)
        mcf_note_error(c, MCF_ERR_SERVER_DOWN,
                       "server %s skipped: it is down (%u failures in a row) and being probed%s%s",
                       label, c->failure_limit, s->down_why[0] ? "; last probe: " : "",
                       s->down_why);
    else
        mcf_note_error(c, MCF_ERR_SERVER_DOWN,
                       "server %s skipped: it is down (%u failures in a row); next probe in "
                       "%lld ms%s%s",
                       label, c->failure_limit,
                       (long long)(h->retry_at_us > now ? (h->retry_at_us - now) / 1000 : 0),
                       s->down_why[0] ? "; last probe: " : "", s->down_why);
}

/* Finishes item i, whose server is marked down, with MCF_ERR_SERVER_DOWN. */
MCF_COLD static void skip_down(mcf_client *c, mcf_call *call, size_t i, mcf_server *s,
                               int64_t now)
{
    mcf_route_note_down(c, s, now);
    mcf_finish(c, call, s, i, MCF_ERR_SERVER_DOWN, NULL);
}

/* Item i's server srv is marked down: the next live server in list order
 * for the down period when failover is on; else, for an async request,
 * srv itself (the item fails from the next dispatch: a submit never hands
 * out a result, and a down server is no reason to refuse one), else
 * NO_SERVER after finishing the item with MCF_ERR_SERVER_DOWN. */
MCF_COLD static uint32_t route_around(mcf_client *c, mcf_call *call, size_t i, uint32_t srv,
                                      int64_t now)
{
    if (c->failover)
        for (size_t k = 1; k < c->nservers; k++) {
            uint32_t alt = (uint32_t)((srv + k) % c->nservers);
            if (!mcf_conn_is_down(c, &c->servers[alt], now)) {
                mcf_server *down = &c->servers[srv];
                if (!down->failover_told) { /* once per down period */
                    down->failover_told = 1;
                    mcf_conn_event(c, down, MCF_EVENT_FAILOVER);
                }
                return alt;
            }
        }
    if (call->defer)
        return srv;
    skip_down(c, call, i, &c->servers[srv], now);
    return NO_SERVER;
}

/* Server for item i, or NO_SERVER after finishing it with an error. */
static MCF_HOT_INLINE uint32_t route(mcf_client *c, mcf_call *call, size_t i, int64_t now)
{
    if (!mcf_call_has_items(call) && call->kind != CALL_GET)
        return call->kind == CALL_FLUSH ? (uint32_t)i : (uint32_t)call->server;
    const char *key;
    size_t kl = caller_key(call, i, &key);
    call->kptr[i] = key;
    call->klen[i] = kl;
    call->zoff[i] = SIZE_MAX;
    if (key_ok(c, key, kl) != MCF_OK) {
        refuse_key(c, call, i, key, kl);
        return NO_SERVER;
    }
    if (call->kind == CALL_STORE && prepare_value(c, call, i, key, kl) != MCF_OK)
        return NO_SERVER;
    uint32_t srv = pick_server(c, key, kl);
    if (mcf_conn_is_down(c, &c->servers[srv], now))
        return route_around(c, call, i, srv, now);
    return srv;
}

/* Finishes every item of the call with rc (no servers, or a distribution
 * that cannot be built). */
MCF_COLD static int fail_all(mcf_client *c, mcf_call *call, int rc)
{
    for (size_t i = 0; i < call->n; i++)
        mcf_finish(c, call, NULL, i, rc, NULL);
    if (rc == MCF_ERR_NO_SERVERS)
        return mcf_set_error(c, rc, "no servers configured");
    return rc;
}

/* One slice (one key, or one server): it goes to that key's server. */
static int route_one(mcf_client *c, mcf_call *call, int64_t now)
{
    mcf_slice *sl = &call->slices[0];
    *sl = (mcf_slice){.call = call};
    if (call->n) {
        call->answered[0] = 0;
        uint32_t srv = route(c, call, 0, now);
        call->srv_of[0] = srv;
        if (srv != NO_SERVER) {
            sl->count = 1;
            sl->server = &c->servers[srv];
            call->order[0] = 0;
        }
    }
    /* Compression may have moved zbuf while routing: its final place. */
    call->zbuf = c->zbuf;
    return MCF_OK;
}

/* Routes every item, then groups them per server (a counting sort into
 * order[]), so each server gets one request with its keys in order. */
static int route_many(mcf_client *c, mcf_call *call, int64_t now)
{
    for (size_t k = 0; k < call->nslices; k++)
        call->slices[k] = (mcf_slice){.call = call};
    /* In locals: stores through answered (a char array) could alias the
     * call, so the compiler would reload these for every item. */
    unsigned char *answered = call->answered;
    uint32_t *srv_of = call->srv_of;
    mcf_slice *slices = call->slices;
    for (size_t i = 0; i < call->n; i++) {
        answered[i] = 0;
        uint32_t srv = route(c, call, i, now);
        srv_of[i] = srv;
        if (srv != NO_SERVER)
            slices[srv].count++;
    }
    size_t off = 0;
    for (size_t k = 0; k < c->nservers; k++) {
        mcf_slice *sl = &call->slices[k];
        sl->server = &c->servers[k];
        sl->first = off;
        sl->cursor = sl->count;
        off += sl->count;
    }
    /* Filled from the back so that each server's items keep the caller's
     * order and every cursor ends at 0, where the replies start. */
    size_t *order = call->order;
    for (size_t i = call->n; i-- > 0;)
        if (srv_of[i] != NO_SERVER) {
            mcf_slice *sl = &slices[srv_of[i]];
            order[sl->first + --sl->cursor] = i;
        }
    /* Compression may have moved zbuf while routing: its final place. */
    call->zbuf = c->zbuf;
    return MCF_OK;
}

int mcf_route_call(mcf_client *c, mcf_call *call, int64_t now)
{
    if (c->nservers == 0)
        return fail_all(c, call, MCF_ERR_NO_SERVERS);
    /* Server commands (version, stats, flush_all) name their server: only
     * key calls need the distribution, so a placement option the server
     * list refuses fails those alone. */
    if (mcf_call_has_items(call) || call->kind == CALL_GET) {
        int rc = prepare_dist(c);
        if (rc != MCF_OK)
            return fail_all(c, call, rc);
    }
    c->zused = 0;
    call->slices_left = 0;
    if (call->kind != CALL_FLUSH && call->n <= 1)
        return route_one(c, call, now);
    return route_many(c, call, now);
}
