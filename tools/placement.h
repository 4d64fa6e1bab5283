/* placement.h - the CLI's placement reports: `mcfast server-for` and
 * `mcfast ring` (shares of the key space, an SVG picture, the keys that a
 * change of the server list would move).  No connection is made: only the
 * client's distribution is asked. */
#ifndef MCFAST_PLACEMENT_H
#define MCFAST_PLACEMENT_H

#include "mcfast.h"

/* "KEY SPEC" per key.  Returns 0, or 2 after a message on stderr. */
int placement_server_for(mcf_client *c, char **keys, int nkeys);

/* `ring [--keys N] [--svg FILE] [--add SPEC]... [--remove SPEC]...`; json:
 * --json's objects instead of the tables (tools/cli_json.c).  Returns 0, 2
 * (error) or 64 (usage), with a message on stderr. */
int placement_ring(mcf_client *c, char **args, int nargs, int json);

#endif
