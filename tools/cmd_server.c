/* cmd_server.c - the per-server commands: version, stats, ping. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#include "addr.h"

int cmd_version(struct run *r, char **args, int nargs)
{
    int code = XC_OK;
    (void)args;
    (void)nargs;
    for (size_t i = 0; i < mcf_server_count(r->c); i++) {
        char ver[128];
        int rc = mcf_version(r->c, i, ver, sizeof ver);
        if (rc != MCF_OK) {
            cli_print_server_error(r->c, rc, "version", i);
            code = XC_ERROR;
        } else if (r->o->json) {
            struct jobj j;
            cli_jbegin(&j);
            cli_jstr(&j, "server", cli_server_spec(r->c, i));
            cli_jstr(&j, "version", ver);
            cli_jend(&j);
        } else {
            printf("%s %s\n", cli_server_spec(r->c, i), ver);
        }
    }
    return code;
}

struct stat_ctx {
    const char *spec;
    struct jobj *stats; /* --json: the "stats" object being written */
};

static void on_stat(void *ctx, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    const struct stat_ctx *s = ctx;
    if (s->stats) {
        char nm[MCF_MAX_KEY_LEN + 1];
        snprintf(nm, sizeof nm, "%.*s", (int)name_len, name);
        cli_jstrn(s->stats, nm, value, value_len);
    } else {
        printf("%s %.*s %.*s\n", s->spec, (int)name_len, name, (int)value_len, value);
    }
}

/* ARG...: the words of one stats argument ("stats cachedump 1 3"); the
 * library checks them (no control characters, one space between words). */
static char *join_args(char **args, int nargs)
{
    size_t len = 1;
    for (int i = 0; i < nargs; i++)
        len += strlen(args[i]) + 1;
    char *s = malloc(len), *p = s;
    if (s == NULL)
        return NULL;
    *p = '\0';
    for (int i = 0; i < nargs; i++)
        p += sprintf(p, "%s%s", i ? " " : "", args[i]);
    return s;
}

/* --json: one {"server":SPEC,"stats":{NAME:VALUE,...}} per server; a server
 * that fails mid-way still closes its object ("error" after "stats"). */
int cmd_stats(struct run *r, char **args, int nargs)
{
    if (nargs && strcmp(args[0], "--fleet") == 0)
        return cmd_fleet(r, args + 1, nargs - 1);
    char *arg = nargs ? join_args(args, nargs) : NULL;
    int code = XC_OK;
    if (nargs && arg == NULL)
        return cli_report(r, MCF_ERR_NOMEM, "");
    for (size_t i = 0; i < mcf_server_count(r->c); i++) {
        struct jobj j, st;
        struct stat_ctx s = {cli_server_spec(r->c, i), NULL};
        if (r->o->json) {
            cli_jbegin(&j);
            cli_jstr(&j, "server", s.spec);
            cli_jobject(&j, "stats", &st);
            s.stats = &st;
        }
        int rc = mcf_stats(r->c, i, arg, on_stat, &s);
        if (r->o->json) {
            cli_jclose(&st);
            if (rc != MCF_OK)
                cli_jstr(&j, "error", cli_error_text(r->c, rc));
            cli_jend(&j);
        }
        if (rc != MCF_OK) {
            cli_print_server_error(r->c, rc, "stats", i);
            code = rc == MCF_ERR_ARG ? XC_USAGE : XC_ERROR;
            if (rc == MCF_ERR_ARG)
                break; /* the same for every server */
        }
    }
    free(arg);
    return code;
}

static int ping_one(const struct run *r, size_t i)
{
    mcf_client *c = r->c;
    mcf_server_info info;
    char ver[128];
    int rc = mcf_connect_server(c, i);
    if (rc == MCF_OK)
        rc = mcf_version(c, i, ver, sizeof ver);
    if (rc == MCF_OK)
        rc = mcf_server_info_get(c, i, &info);
    if (rc != MCF_OK) {
        cli_print_server_error(c, rc, "ping", i);
        return XC_ERROR;
    }
    if (r->o->json) {
        struct jobj j;
        cli_jbegin(&j);
        cli_jstr(&j, "server", info.spec);
        cli_jstr(&j, "address", info.address);
        cli_jstr(&j, "family", mcf_family_name(info.family));
        cli_jdouble(&j, "connect_ms", info.connect_ms);
        cli_jstr(&j, "version", ver);
        if (info.tls_version[0]) {
            cli_jstr(&j, "tls", info.tls_version);
            cli_jstr(&j, "cipher", info.tls_cipher);
            cli_jbool(&j, "resumed", info.tls_resumed);
        }
        cli_jend(&j);
        return XC_OK;
    }
    printf("%s address=%s family=%s connect_ms=%.3f version=%s", info.spec, info.address,
           mcf_family_name(info.family), info.connect_ms, ver);
    if (info.tls_version[0])
        printf(" tls=%s cipher=%s resumed=%d", info.tls_version, info.tls_cipher,
               info.tls_resumed);
    printf("\n");
    return XC_OK;
}

int cmd_ping(struct run *r, char **args, int nargs)
{
    int code = XC_OK;
    (void)args;
    (void)nargs;
    for (size_t i = 0; i < mcf_server_count(r->c); i++)
        code = cli_worse(code, ping_one(r, i));
    return code;
}
