/* cmd_keys.c - the key commands that write: set/add/replace/append/
 * prepend/cas, cp (files), incr/decr, delete, touch; and flush. */
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
        cli_json_status(r, rc, args[0]);
        return cli_report_meta(r, rc, args[0]);
    }
    rc = mcf_store(r->c, (mcf_store_mode)r->cmd->mode, args[0], strlen(args[0]), in.data,
                   in.len, r->o->flags, r->o->ttl, cas, 0);
    free(in.owned);
    return cli_outcome(r, rc, args[0]);
}

/* The key of FILE for cp: its base name (what follows the last '/'),
 * after the prefix; as libmemcached's memccp does. */
static int cp_key(char *buf, size_t size, const char *prefix, const char *file)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    if (*base == '\0')
        return -1;
    return snprintf(buf, size, "%s%s", prefix, base) < (int)size ? 0 : -1;
}

static int cp_one(struct run *r, const char *prefix, const char *file)
{
    char key[MCF_MAX_KEY_LEN * 2];
    struct input in;
    if (cp_key(key, sizeof key, prefix, file) != 0) {
        cli_usage_error("cp: '%s' has no file name to use as a key", file);
        return XC_USAGE;
    }
    FILE *f = fopen(file, "rb");
    if (f == NULL) {
        fprintf(stderr, "mcfast: cp %s: %s\n", file, strerror(errno));
        return XC_ERROR;
    }
    int failed = cli_read_all(f, &in) != 0;
    int err = errno;
    fclose(f);
    if (failed) {
        fprintf(stderr, "mcfast: cp %s: reading: %s\n", file, strerror(err));
        return XC_ERROR;
    }
    int rc = mcf_store(r->c, MCF_SET, key, strlen(key), in.data, in.len, r->o->flags,
                       r->o->ttl, 0, 0);
    free(in.owned);
    return cli_outcome(r, rc, key);
}

int cmd_cp(struct run *r, char **args, int nargs)
{
    const char *prefix = "";
    int i = 0;
    /* Its one option, before the files ("--" ends it). */
    if (i < nargs && strncmp(args[i], "--key-prefix=", 13) == 0) {
        prefix = args[i] + 13;
        i++;
    } else if (i < nargs && strcmp(args[i], "--key-prefix") == 0) {
        if (i + 1 >= nargs) {
            cli_usage_error("cp: --key-prefix needs a value");
            return XC_USAGE;
        }
        prefix = args[i + 1];
        i += 2;
    }
    if (i < nargs && strcmp(args[i], "--") == 0)
        i++;
    if (i >= nargs) {
        cli_print_command_usage(r->cmd);
        return XC_USAGE;
    }
    int code = XC_OK;
    for (; i < nargs; i++)
        code = cli_worse(code, cp_one(r, prefix, args[i]));
    return code;
}

static void print_number(const struct run *r, const char *key, uint64_t value,
                         const mcf_item_info *info)
{
    if (r->o->json) {
        struct jobj j;
        cli_jbegin(&j);
        cli_jbytes(&j, "key", key, strlen(key));
        cli_jstr(&j, "status", "ok");
        cli_ju64(&j, "value", value);
        if (info) {
            cli_ji64(&j, "ttl", info->ttl);
            cli_ju64(&j, "cas", info->cas);
        }
        cli_jend(&j);
        return;
    }
    printf("%" PRIu64 "\n", value);
    if (info)
        printf("info %s ttl=%" PRId64 " cas=%" PRIu64 "\n", key, info->ttl, info->cas);
}

/* incr/decr with command options: mcf_incr_ex / mcf_decr_ex. */
static int arith_meta(struct run *r, const char *key, uint64_t delta)
{
    uint64_t value = 0;
    mcf_item_info info;
    int (*fn)(mcf_client *, const char *, size_t, uint64_t, const mcf_meta_opts *,
              uint64_t *, mcf_item_info *) = r->cmd->mode ? mcf_decr_ex : mcf_incr_ex;
    int rc = fn(r->c, key, strlen(key), delta, &r->m->opts, &value, &info);
    if (rc == MCF_OK)
        print_number(r, key, value, r->m->given & CO_INFO ? &info : NULL);
    else
        cli_json_status(r, rc, key);
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
        print_number(r, args[0], value, NULL);
    else
        cli_json_status(r, rc, args[0]);
    return cli_report(r, rc, args[0]);
}

/* delete with command options: mcf_delete_ex, one request per key. */
static int delete_meta(struct run *r, char **keys, int n)
{
    int code = XC_OK;
    for (int i = 0; i < n; i++) {
        int rc = mcf_delete_ex(r->c, keys[i], strlen(keys[i]), &r->m->opts);
        cli_json_status(r, rc, keys[i]);
        code = cli_worse(code, cli_report_meta(r, rc, keys[i]));
    }
    return code;
}

/* op (delete, touch) on several keys: one pipelined round trip per server. */
static int multi_keys(struct run *r, mcf_op op, int64_t ttl, char **keys, int n)
{
    mcf_item *items = calloc((size_t)n, sizeof *items);
    if (items == NULL)
        return cli_report(r, MCF_ERR_NOMEM, "");
    for (int i = 0; i < n; i++) {
        items[i].key = keys[i];
        items[i].key_len = strlen(keys[i]);
        items[i].exptime = ttl;
    }
    int rc = mcf_multi(r->c, op, items, (size_t)n, 0);
    int code = XC_OK;
    for (int i = 0; i < n; i++)
        code = cli_worse(code, cli_item_result(r, items[i].rc, keys[i]));
    free(items);
    if (mcf_is_error(rc)) {
        cli_print_error(r->c, rc, r->cmd->name, "");
        code = XC_ERROR;
    }
    return code;
}

int cmd_delete(struct run *r, char **args, int nargs)
{
    if (r->m->given)
        return delete_meta(r, args, nargs);
    /* One key: the single call's error message is the most precise. */
    if (nargs == 1)
        return cli_outcome(r, mcf_delete(r->c, args[0], strlen(args[0]), 0), args[0]);
    return multi_keys(r, MCF_OP_DELETE, 0, args, nargs);
}

/* `touch KEY TTL` (two arguments, the second a number) keeps its old
 * meaning; anything else is `touch TTL KEY...`, as gat takes it.  So
 * `touch 5 10` sets key "5" to TTL 10, and `touch 10 a` key "a" to 10. */
int cmd_touch(struct run *r, char **args, int nargs)
{
    int64_t ttl;
    if (nargs == 2 && cli_parse_i64(args[1], &ttl) == 0)
        return cli_outcome(r, mcf_touch(r->c, args[0], strlen(args[0]), ttl, 0), args[0]);
    if (cli_parse_i64(args[0], &ttl) != 0)
        return cli_bad_number("touch TTL", nargs == 2 ? args[1] : args[0]);
    if (nargs == 2)
        return cli_outcome(r, mcf_touch(r->c, args[1], strlen(args[1]), ttl, 0), args[1]);
    return multi_keys(r, MCF_OP_TOUCH, ttl, args + 1, nargs - 1);
}

int cmd_flush(struct run *r, char **args, int nargs)
{
    int64_t delay = 0;
    if (nargs == 1 && (cli_parse_i64(args[0], &delay) != 0 || delay < 0))
        return cli_bad_number("flush DELAY", args[0]);
    return cli_outcome(r, mcf_flush_all(r->c, delay, 0), "");
}
