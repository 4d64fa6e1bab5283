/* cmd_views.c - the commands that watch or load the fleet, as rows of the
 * command table: `bench` (tools/cmd_bench.c) and `top` (tools/cmd_top.c). */
#include <stdlib.h>

#include "cli.h"
#include "cmd_bench.h"
#include "cmd_top.h"

/* The global --json is the command's own --json (bench: its summary as
 * one object; top: the --once figures as objects). */
static int with_json(int (*fn)(mcf_client *, char **, int), struct run *r, char **args,
                     int nargs)
{
    if (!r->o->json)
        return fn(r->c, args, nargs);
    char **with = malloc(((size_t)nargs + 2) * sizeof *with);
    if (!with)
        return XC_ERROR;
    static char json_opt[] = "--json";
    with[0] = json_opt;
    for (int i = 0; i < nargs; i++)
        with[i + 1] = args[i];
    with[nargs + 1] = NULL;
    int rc = fn(r->c, with, nargs + 1);
    free(with);
    return rc;
}

int cmd_bench(struct run *r, char **args, int nargs)
{
    return with_json(mcfast_cmd_bench, r, args, nargs);
}

int cmd_top(struct run *r, char **args, int nargs)
{
    return with_json(mcfast_cmd_top, r, args, nargs);
}
