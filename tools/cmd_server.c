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
        if (rc == MCF_OK) {
            printf("%s %s\n", cli_server_spec(r->c, i), ver);
        } else {
            cli_print_server_error(r->c, rc, "version", i);
            code = XC_ERROR;
        }
    }
    return code;
}

static void on_stat(void *ctx, const char *name, size_t name_len, const char *value,
                    size_t value_len)
{
    const char *const *spec = ctx;
    printf("%s %.*s %.*s\n", *spec, (int)name_len, name, (int)value_len, value);
}

int cmd_stats(struct run *r, char **args, int nargs)
{
    const char *arg = nargs ? args[0] : NULL;
    int code = XC_OK;
    for (size_t i = 0; i < mcf_server_count(r->c); i++) {
        const char *spec = cli_server_spec(r->c, i);
        int rc = mcf_stats(r->c, i, arg, on_stat, &spec);
        if (rc != MCF_OK) {
            cli_print_server_error(r->c, rc, "stats", i);
            code = XC_ERROR;
        }
    }
    return code;
}

static int ping_one(mcf_client *c, size_t i)
{
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
        code = cli_worse(code, ping_one(r->c, i));
    return code;
}
