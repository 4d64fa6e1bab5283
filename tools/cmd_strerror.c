/* cmd_strerror.c - `strerror CODE|NAME`: what an mcf result code means
 * (the codes of include/mcfast.h's mcf_rc, by number or by name). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* mcf_rc's names, as include/mcfast.h spells them (t_cli_commands.sh
 * checks this table against the header). */
static const struct {
    int code;
    const char *name;
} rc_names[] = {
    {MCF_OK, "MCF_OK"},
    {MCF_MISS, "MCF_MISS"},
    {MCF_NOT_STORED, "MCF_NOT_STORED"},
    {MCF_EXISTS, "MCF_EXISTS"},
    {MCF_NOT_FOUND, "MCF_NOT_FOUND"},
    {MCF_ERR_ARG, "MCF_ERR_ARG"},
    {MCF_ERR_BAD_KEY, "MCF_ERR_BAD_KEY"},
    {MCF_ERR_TOO_LARGE, "MCF_ERR_TOO_LARGE"},
    {MCF_ERR_BAD_SPEC, "MCF_ERR_BAD_SPEC"},
    {MCF_ERR_NO_SERVERS, "MCF_ERR_NO_SERVERS"},
    {MCF_ERR_RESOLVE, "MCF_ERR_RESOLVE"},
    {MCF_ERR_CONNECT, "MCF_ERR_CONNECT"},
    {MCF_ERR_TIMEOUT, "MCF_ERR_TIMEOUT"},
    {MCF_ERR_IO, "MCF_ERR_IO"},
    {MCF_ERR_PROTOCOL, "MCF_ERR_PROTOCOL"},
    {MCF_ERR_SERVER, "MCF_ERR_SERVER"},
    {MCF_ERR_CLIENT, "MCF_ERR_CLIENT"},
    {MCF_ERR_SERVER_DOWN, "MCF_ERR_SERVER_DOWN"},
    {MCF_ERR_NOMEM, "MCF_ERR_NOMEM"},
    {MCF_ERR_COMPRESS, "MCF_ERR_COMPRESS"},
    {MCF_ERR_NOT_SUPPORTED, "MCF_ERR_NOT_SUPPORTED"},
    {MCF_ERR_RESOURCE, "MCF_ERR_RESOURCE"},
    {MCF_ERR_CANCELLED, "MCF_ERR_CANCELLED"},
    {MCF_ERR_TLS, "MCF_ERR_TLS"},
};
#define N_RC_NAMES (sizeof rc_names / sizeof rc_names[0])

/* A name matches with or without "MCF_" and "ERR_", in any case:
 * MCF_ERR_TIMEOUT, ERR_TIMEOUT, timeout. */
static int name_matches(const char *want, const char *name)
{
    const char *n = name + 4; /* after "MCF_" */
    if (strcasecmp(want, name) == 0 || strcasecmp(want, n) == 0)
        return 1;
    return strncmp(n, "ERR_", 4) == 0 && strcasecmp(want, n + 4) == 0;
}

int cmd_strerror(struct run *r, char **args, int nargs)
{
    int64_t num;
    size_t i;
    (void)nargs;
    for (i = 0; i < N_RC_NAMES; i++)
        if (cli_parse_i64(args[0], &num) == 0 ? num == rc_names[i].code
                                               : name_matches(args[0], rc_names[i].name))
            break;
    if (i == N_RC_NAMES) {
        cli_usage_error("strerror: '%s' is not an mcf result code (0-%d, %d-%d) or name "
                        "(MCF_MISS, MCF_ERR_TIMEOUT, timeout...)",
                        args[0], MCF_NOT_FOUND, MCF_ERR_FIRST, MCF_ERR_LAST);
        return XC_USAGE;
    }
    int code = rc_names[i].code;
    const char *kind = code == MCF_OK ? "success" : mcf_is_error(code) ? "error" : "negative";
    if (r->o->json) {
        struct jobj j;
        cli_jbegin(&j);
        cli_ji64(&j, "code", code);
        cli_jstr(&j, "name", rc_names[i].name);
        cli_jstr(&j, "kind", kind);
        cli_jstr(&j, "message", mcf_strerror(code));
        cli_jend(&j);
    } else {
        printf("%d %s (%s): %s\n", code, rc_names[i].name, kind, mcf_strerror(code));
    }
    return XC_OK;
}
