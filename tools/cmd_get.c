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

/* --json: {"key":K,"status":"ok","value":V,"flags":F[,"cas":C][,"info":{...}]}. */
static void json_value(const struct run *r, const char *key, const char *data, size_t len,
                       uint32_t flags, uint64_t cas, const mcf_item_info *info)
{
    struct jobj j, in;
    cli_jbegin(&j);
    cli_jbytes(&j, "key", key, strlen(key));
    cli_jstr(&j, "status", "ok");
    cli_jbytes(&j, "value", data, len);
    cli_ju64(&j, "flags", flags);
    if (mode_has_cas(r->cmd->mode) || info)
        cli_ju64(&j, "cas", cas);
    if (info) {
        cli_jobject(&j, "info", &in);
        cli_ji64(&in, "ttl", info->ttl);
        cli_ju64(&in, "last_access", info->last_access);
        cli_jbool(&in, "hit_before", info->hit_before);
        cli_jbool(&in, "win", info->win);
        cli_jbool(&in, "stale", info->stale);
        cli_jbool(&in, "won", info->won);
        cli_jclose(&in);
    }
    cli_jend(&j);
}

static void print_value(const struct run *r, const char *key, const char *data, size_t len,
                        uint32_t flags, uint64_t cas, int several)
{
    if (r->o->json) {
        json_value(r, key, data, len, flags, cas, NULL);
        return;
    }
    if (r->o->raw) {
        fwrite(data, 1, len, stdout); /* the bytes alone: cmd_get allows one key */
        return;
    }
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
    else
        cli_json_status(r, rc, key);
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
        if (rc == MCF_OK && r->o->json) {
            json_value(r, keys[i], v.data, v.len, v.flags, v.cas,
                       r->m->given & CO_INFO ? &in : NULL);
        } else if (rc == MCF_OK) {
            print_value(r, keys[i], v.data, v.len, v.flags, v.cas, n > 1);
            if (r->m->given & CO_INFO)
                printf("info %s ttl=%" PRId64 " last_access=%" PRIu64
                       " hit_before=%d win=%d stale=%d won=%d cas=%" PRIu64 "\n",
                       keys[i], in.ttl, in.last_access, in.hit_before != 0, in.win != 0,
                       in.stale != 0, in.won != 0, v.cas);
        } else {
            cli_json_status(r, rc, keys[i]);
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
        if (v[i].rc == MCF_OK)
            print_value(r, keys[i], v[i].data, v[i].len, v[i].flags, v[i].cas, 1);
        else /* -1: the library never called back for this key */
            code = cli_worse(code, cli_item_result(r, v[i].rc, keys[i]));
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
    if (r->o->raw && (nargs > 1 || (r->m->given & CO_INFO))) {
        cli_usage_error("%s: --raw prints one value alone: give one KEY, without --info",
                        r->cmd->name);
        return XC_USAGE;
    }
    if (r->m->given)
        return get_meta(r, args, nargs);
    if (nargs == 1)
        return get_one(r, ttl, args[0]);
    return get_many(r, ttl, args, (size_t)nargs);
}

/* exists: mcf_exists per key ("mg KEY" with no flags: HD or EN, the value
 * is not sent and nothing about the item changes).  Text has no such
 * command (get reads the value, touch changes the TTL), so it needs a
 * server with meta commands; --protocol defaults to auto for it. */
int cmd_exists(struct run *r, char **args, int nargs)
{
    int code = XC_OK;
    for (int i = 0; i < nargs; i++) {
        int rc = mcf_exists(r->c, args[i], strlen(args[i]));
        cli_json_status(r, rc, args[i]);
        code = cli_worse(code, cli_report(r, rc, args[i]));
        if (rc == MCF_ERR_NOT_SUPPORTED && !r->noted) {
            r->noted = 1;
            fprintf(stderr, "mcfast: note: exists uses memcached's meta commands (mg)%s\n",
                    r->o->protocol == MCF_PROTO_TEXT ? ", which --protocol text turns off" : "");
        }
    }
    return code;
}
