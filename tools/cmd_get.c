/* cmd_get.c - retrieval: get, gets, gat, gats (one key, several keys in
 * one round trip, or with command options one _ex call per key). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int mode_has_cas(int mode)
{
    return mode == MCF_GETS || mode == MCF_GATS;
}

static void print_value(const struct run *r, const char *key, const char *data, size_t len,
                        uint32_t flags, uint64_t cas, int several)
{
    if (r->o->verbose) {
        printf("VALUE %s %" PRIu32 " %zu", key, flags, len);
        if (mode_has_cas(r->cmd->mode))
            printf(" %" PRIu64, cas);
        putchar('\n');
    } else if (several) {
        printf("%s ", key);
    }
    fwrite(data, 1, len, stdout);
    putchar('\n');
}

static int get_one(struct run *r, int64_t ttl, const char *key)
{
    mcf_value v;
    size_t klen = strlen(key);
    int rc;
    switch (r->cmd->mode) {
    case MCF_GETS: rc = mcf_gets(r->c, key, klen, &v); break;
    case MCF_GAT: rc = mcf_gat(r->c, ttl, key, klen, &v); break;
    case MCF_GATS: rc = mcf_gats(r->c, ttl, key, klen, &v); break;
    default: rc = mcf_get(r->c, key, klen, &v); break;
    }
    if (rc == MCF_OK)
        print_value(r, key, v.data, v.len, v.flags, v.cas, 0);
    return cli_report(r, rc, key);
}

/* get/gets with command options: mcf_get_ex, one request per key (the
 * item metadata is per key and mcf_get_multi has none). */
static int get_meta(struct run *r, char **keys, int n)
{
    int code = XC_OK;
    for (int i = 0; i < n; i++) {
        mcf_value v;
        mcf_item_info in;
        int rc = mcf_get_ex(r->c, keys[i], strlen(keys[i]), &r->m->opts, &v, &in);
        if (rc == MCF_OK) {
            print_value(r, keys[i], v.data, v.len, v.flags, v.cas, n > 1);
            if (r->m->given & CO_INFO)
                printf("info %s ttl=%" PRId64 " last_access=%" PRIu64
                       " hit_before=%d win=%d stale=%d won=%d cas=%" PRIu64 "\n",
                       keys[i], in.ttl, in.last_access, in.hit_before != 0, in.win != 0,
                       in.stale != 0, in.won != 0, v.cas);
        }
        code = cli_worse(code, cli_report_meta(r, rc, keys[i]));
    }
    return code;
}

/* Values are copied in the callback (their memory lives only that long)
 * so they can be printed in request order, which scripts can rely on. */
struct fetched {
    char *data;
    size_t len;
    uint32_t flags;
    uint64_t cas;
    int rc;
};

struct fetch_ctx {
    struct fetched *v;
    size_t n;
};

static void on_value(void *ctx, size_t index, int rc, const mcf_value *value)
{
    struct fetch_ctx *f = ctx;
    if (index >= f->n)
        return;
    struct fetched *e = &f->v[index];
    free(e->data);
    e->data = NULL;
    e->rc = rc;
    if (rc != MCF_OK || value == NULL)
        return;
    e->data = malloc(value->len ? value->len : 1);
    if (e->data == NULL) {
        e->rc = MCF_ERR_NOMEM;
        return;
    }
    memcpy(e->data, value->data, value->len);
    e->len = value->len;
    e->flags = value->flags;
    e->cas = value->cas;
}

/* Prints hits in order, reports misses and per-key errors; frees copies. */
static int print_fetched(const struct run *r, struct fetched *v, char **keys, size_t n)
{
    int code = XC_OK;
    for (size_t i = 0; i < n; i++) {
        if (v[i].rc == MCF_OK) {
            print_value(r, keys[i], v[i].data, v[i].len, v[i].flags, v[i].cas, 1);
        } else {
            int rc = v[i].rc;
            /* -1: the library never called back for this key. */
            fprintf(stderr, "mcfast: %s %s: %s\n", r->cmd->name, keys[i],
                    rc < 0 ? "no answer" : mcf_strerror(rc));
            code = cli_worse(code, rc < 0 || mcf_is_error(rc) ? XC_ERROR : XC_NEGATIVE);
        }
        free(v[i].data);
    }
    return code;
}

static int get_many(struct run *r, int64_t ttl, char **keys, size_t n)
{
    struct fetch_ctx f = {calloc(n, sizeof(struct fetched)), n};
    if (f.v == NULL)
        return cli_report(r, MCF_ERR_NOMEM, "");
    for (size_t i = 0; i < n; i++)
        f.v[i].rc = -1;
    int rc = mcf_get_multi(r->c, (mcf_get_mode)r->cmd->mode, ttl, (const char *const *)keys,
                           NULL, n, on_value, &f);
    int code = print_fetched(r, f.v, keys, n);
    free(f.v);
    if (mcf_is_error(rc)) {
        cli_print_error(r->c, rc, r->cmd->name, "");
        code = XC_ERROR;
    }
    return code;
}

int cmd_get(struct run *r, char **args, int nargs)
{
    int64_t ttl = 0;
    int mode = r->cmd->mode;
    if (mode == MCF_GAT || mode == MCF_GATS) {
        if (cli_parse_i64(args[0], &ttl) != 0)
            return cli_bad_number("TTL", args[0]);
        args++;
        nargs--;
    }
    if (nargs == 0) {
        cli_usage_error("%s: missing KEY", r->cmd->name);
        return XC_USAGE;
    }
    if (r->m->given)
        return get_meta(r, args, nargs);
    if (nargs == 1)
        return get_one(r, ttl, args[0]);
    return get_many(r, ttl, args, (size_t)nargs);
}
