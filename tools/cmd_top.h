/* cmd_top.h - `mcfast top`: a refreshing full-screen view of the fleet
 * from each server's `stats` (tools/cmd_top.c). */
#ifndef MCFAST_CMD_TOP_H
#define MCFAST_CMD_TOP_H

#include "mcfast.h"

/* The line `mcfast --help` shows under the command list. */
#define MCFAST_TOP_ARGS "[TOP-OPTIONS]"
#define MCFAST_TOP_HELP                                                                \
    "full-screen fleet view from stats: ops/s, hit rate,\n"                          \
    "                          memory, connections, evictions, items per server\n"      \
    "                          and in total; q quits.  TOP-OPTIONS:\n"                  \
    "                          --interval MS (1000)  --once (one plain frame\n"         \
    "                          after two samples an interval apart); not on a\n"       \
    "                          terminal: plain frames until killed;  --json\n"       \
    "                          (the --once figures: one object per server, then\n"    \
    "                          {\"total\":true,...})"

/* args: the words after "top".  Returns 0, 2 (--once: a server is down;
 * or the terminal failed) or 64 (usage), with a message on stderr. */
int mcfast_cmd_top(mcf_client *c, char **args, int nargs);

#endif
