/* cmd_bench.h - `mcfast bench`: a load generator against the client's
 * servers through the async API (tools/cmd_bench.c). */
#ifndef MCFAST_CMD_BENCH_H
#define MCFAST_CMD_BENCH_H

#include "mcfast.h"

/* The line `mcfast --help` shows under the command list. */
#define MCFAST_BENCH_ARGS "[BENCH-OPTIONS]"
#define MCFAST_BENCH_HELP                                                                 \
    "load generator (pre-populates the keys first).  BENCH-OPTIONS:\n"                   \
    "                          --ratio GET:SET (9:1)  --keys N (100000)\n"                \
    "                          --key-dist uniform|zipf  --zipf-s S (0.99)\n"              \
    "                          --value-size BYTES (100)  --concurrency N in flight (64)\n" \
    "                          --duration SECONDS (10) or --requests N\n"                 \
    "                          --no-populate  --seed N  --json (summary as JSON)"

/* args: the words after "bench".  Prints a live line on a terminal and a
 * summary (or --json) at the end.  Returns 0, 2 (errors met: the summary
 * counts them) or 64 (usage), with a message on stderr. */
int mcfast_cmd_bench(mcf_client *c, char **args, int nargs);

#endif
