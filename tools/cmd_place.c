/* cmd_place.c - the commands that make no connection: resolve (the
 * library's report, src/addrdiag.h), server-for and ring
 * (tools/placement.c).  resolve is a text report (no --json). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "addrdiag.h"
#include "placement.h"
#include "resolve.h"
#include "spec.h"

/* --json: {"key":KEY,"server":SPEC} per key; the text form is placement.c's. */
int cmd_server_for(struct run *r, char **args, int nargs)
{
    if (!r->o->json)
        return placement_server_for(r->c, args, nargs);
    for (int i = 0; i < nargs; i++) {
        size_t srv;
        int rc = mcf_server_for_key(r->c, args[i], strlen(args[i]), &srv);
        if (rc != MCF_OK) {
            cli_print_error(r->c, rc, "server-for", args[i]);
            return XC_ERROR;
        }
        struct jobj j;
        cli_jbegin(&j);
        cli_jbytes(&j, "key", args[i], strlen(args[i]));
        cli_jstr(&j, "server", cli_server_spec(r->c, srv));
        cli_jend(&j);
    }
    return XC_OK;
}

int cmd_ring(struct run *r, char **args, int nargs)
{
    return placement_ring(r->c, args, nargs, r->o->json);
}

/* The report is the library's (src/addrdiag.c), as text or with --json as
 * one object; the addresses it lists come from the resolver mcfast connects
 * with, bounded by --connect-timeout. */
int cmd_resolve(struct run *r, char **args, int nargs)
{
    mcf_spec spec;
    char err[512];
    int timeout_ms = MCF_RESOLVE_DEFAULT_TIMEOUT_MS;
    (void)nargs;
    if (mcf_spec_parse(args[0], strlen(args[0]), &spec, err, sizeof err) != 0) {
        cli_usage_error("%s", err);
        return XC_USAGE;
    }
    int64_t given;
    if (cli_client_option(r->o, MCF_OPT_CONNECT_TIMEOUT_MS, &given) && given >= 0 &&
        given <= INT_MAX)
        timeout_ms = (int)given;
    int rc = r->o->json ? mcf_addr_diagnose_json(stdout, &spec, timeout_ms, err, sizeof err)
                        : mcf_addr_diagnose(stdout, &spec, timeout_ms, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "mcfast: %s\n", err); /* err already says "resolve SPEC" */
        return XC_ERROR;
    }
    return XC_OK;
}
