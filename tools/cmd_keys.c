/* cmd_keys.c - the key commands that write: set/add/replace/append/
 * prepend/cas, incr/decr, delete, touch; and flush. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_store(struct run *r, char **args, int nargs)
{
    uint64_t cas = 0;
    struct input in;
    if (r->cmd->mode == MCF_CAS && cli_parse_u64(args[1], &cas) != 0)
        return cli_bad_number("cas", args[1]);
    int rc = cli_get_input(args[nargs - 1], &in);
    if (rc != 0)
        return rc;
    if (r->m->given) {
        mcf_item_info info;
        rc = mcf_store_ex(r->c, (mcf_store_mode)r->cmd->mode, args[0], strlen(args[0]),
                          in.data, in.len, r->o->flags, r->o->ttl, cas, &r->m->opts, &info);
        free(in.owned);
        return cli_report_meta(r, rc, args[0]);
    }
    rc = mcf_store(r->c, (mcf_store_mode)r->cmd->mode, args[0], strlen(args[0]), in.data,
                   in.len, r->o->flags, r->o->ttl, cas, 0);
    free(in.owned);
    return cli_report(r, rc, args[0]);
}

/* incr/decr with command options: mcf_incr_ex / mcf_decr_ex. */
static int arith_meta(struct run *r, const char *key, uint64_t delta)
{
    uint64_t value = 0;
    mcf_item_info info;
    int (*fn)(mcf_client *, const char *, size_t, uint64_t, const mcf_meta_opts *,
              uint64_t *, mcf_item_info *) = r->cmd->mode ? mcf_decr_ex : mcf_incr_ex;
    int rc = fn(r->c, key, strlen(key), delta, &r->m->opts, &value, &info);
    if (rc == MCF_OK) {
        printf("%" PRIu64 "\n", value);
        if (r->m->given & CO_INFO)
            printf("info %s ttl=%" PRId64 " cas=%" PRIu64 "\n", key, info.ttl, info.cas);
    }
    return cli_report_meta(r, rc, key);
}

int cmd_arith(struct run *r, char **args, int nargs)
{
    uint64_t delta, value = 0;
    (void)nargs;
    if (cli_parse_u64(args[1], &delta) != 0)
        return cli_bad_number(r->cmd->name, args[1]);
    if (r->m->given)
        return arith_meta(r, args[0], delta);
    int rc = r->cmd->mode ? mcf_decr(r->c, args[0], strlen(args[0]), delta, &value, 0)
                          : mcf_incr(r->c, args[0], strlen(args[0]), delta, &value, 0);
    /* With noreply the server's answer is never read: nothing to print. */
    if (rc == MCF_OK && !r->o->noreply)
        printf("%" PRIu64 "\n", value);
    return cli_report(r, rc, args[0]);
}

/* delete with command options: mcf_delete_ex, one request per key. */
static int delete_meta(struct run *r, char **keys, int n)
{
    int code = XC_OK;
    for (int i = 0; i < n; i++)
        code = cli_worse(code, cli_report_meta(r, mcf_delete_ex(r->c, keys[i], strlen(keys[i]),
                                                        &r->m->opts),
                                       keys[i]));
    return code;
}

int cmd_delete(struct run *r, char **args, int nargs)
{
    if (r->m->given)
        return delete_meta(r, args, nargs);
    /* One key: the single call's error message is the most precise. */
    if (nargs == 1)
        return cli_report(r, mcf_delete(r->c, args[0], strlen(args[0]), 0), args[0]);

    /* Several: one pipelined round trip per server. */
    mcf_item *items = calloc((size_t)nargs, sizeof *items);
    if (items == NULL)
        return cli_report(r, MCF_ERR_NOMEM, "");
    for (int i = 0; i < nargs; i++) {
        items[i].key = args[i];
        items[i].key_len = strlen(args[i]);
    }
    int rc = mcf_multi(r->c, MCF_OP_DELETE, items, (size_t)nargs, 0);
    int code = XC_OK;
    for (int i = 0; i < nargs; i++) {
        if (items[i].rc == MCF_OK)
            continue;
        fprintf(stderr, "mcfast: delete %s: %s\n", args[i], mcf_strerror(items[i].rc));
        code = cli_worse(code, mcf_is_error(items[i].rc) ? XC_ERROR : XC_NEGATIVE);
    }
    free(items);
    if (mcf_is_error(rc)) {
        cli_print_error(r->c, rc, "delete", "");
        code = XC_ERROR;
    }
    return code;
}

int cmd_touch(struct run *r, char **args, int nargs)
{
    int64_t ttl;
    (void)nargs;
    if (cli_parse_i64(args[1], &ttl) != 0)
        return cli_bad_number("touch TTL", args[1]);
    return cli_report(r, mcf_touch(r->c, args[0], strlen(args[0]), ttl, 0), args[0]);
}

int cmd_flush(struct run *r, char **args, int nargs)
{
    int64_t delay = 0;
    if (nargs == 1 && (cli_parse_i64(args[0], &delay) != 0 || delay < 0))
        return cli_bad_number("flush DELAY", args[0]);
    return cli_report(r, mcf_flush_all(r->c, delay, 0), "");
}
