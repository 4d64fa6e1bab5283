/*
 * mcfast - command-line memcached client built on libmcfast.
 *
 *   mcfast [OPTIONS] COMMAND [COMMAND-OPTIONS] [ARGS]
 *
 * Command options (get --info, delete --invalidate, incr --vivify, ...) map
 * onto the library's _ex calls, i.e. memcached's meta commands.  They are
 * long options only, right after the command name, so arguments such as
 * "-5" or "-" keep their meaning; commands without any parse no options.
 *
 * Exit codes follow what scripts need to branch on: 0 success, 1 a
 * negative answer (miss, NOT_STORED, EXISTS, NOT_FOUND), 2 an error,
 * 64 a usage error (EX_USAGE from sysexits.h).
 *
 * `resolve` prints the library's internal report (src/addrdiag.h) on why a
 * server spec does or does not reach an address: the seed scenario is
 * glibc's AI_ADDRCONFIG hiding 127.0.0.1 on hosts whose only IPv4 address
 * is loopback.
 *
 * This file: the command table and main.  The commands are in
 * tools/cmd_*.c, the rest in tools/cli_*.c (tools/cli.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cmd_bench.h"
#include "cmd_top.h"

/* The commands, in --help's order: a new command is a row here. */
const struct command cli_commands[] = {
    {"set", MCF_SET, 2, 2, CMD_CLIENT, cmd_store, "KEY VALUE", "store VALUE under KEY", CO_STORE},
    {"add", MCF_ADD, 2, 2, CMD_CLIENT, cmd_store, "KEY VALUE",
     "store only if KEY does not exist", CO_STORE},
    {"replace", MCF_REPLACE, 2, 2, CMD_CLIENT, cmd_store, "KEY VALUE",
     "store only if KEY exists", CO_STORE},
    {"append", MCF_APPEND, 2, 2, CMD_CLIENT, cmd_store, "KEY VALUE",
     "append VALUE to KEY's value", CO_STORE},
    {"prepend", MCF_PREPEND, 2, 2, CMD_CLIENT, cmd_store, "KEY VALUE",
     "prepend VALUE to KEY's value", CO_STORE},
    {"cas", MCF_CAS, 3, 3, CMD_CLIENT, cmd_store, "KEY CAS VALUE",
     "store only if KEY's CAS is still CAS (from gets)", CO_CAS_CMD},
    {"cp", MCF_SET, 1, -1, CMD_CLIENT, cmd_cp, "[--key-prefix P] FILE...",
     "store each FILE under its base name (P first)", 0},
    {"get", MCF_GET, 1, -1, CMD_CLIENT, cmd_get, "KEY...", "print values", CO_GET},
    {"gets", MCF_GETS, 1, -1, CMD_CLIENT, cmd_get, "KEY...", "print values (-v shows CAS)",
     CO_GET},
    {"gat", MCF_GAT, 2, -1, CMD_CLIENT, cmd_get, "TTL KEY...", "print values and set their TTL",
     0},
    {"gats", MCF_GATS, 2, -1, CMD_CLIENT, cmd_get, "TTL KEY...", "gat, with CAS (-v shows it)",
     0},
    {"exists", 0, 1, -1, CMD_CLIENT | CMD_META, cmd_exists, "KEY...",
     "exit 0 if every KEY exists, 1 if not (meta mg: no value read)", 0},
    {"incr", 0, 2, 2, CMD_CLIENT, cmd_arith, "KEY N", "add N, print the new value", CO_ARITH},
    {"decr", 1, 2, 2, CMD_CLIENT, cmd_arith, "KEY N",
     "subtract N (floor 0), print the new value", CO_ARITH},
    {"delete", 0, 1, -1, CMD_CLIENT, cmd_delete, "KEY...", "delete keys", CO_DELETE},
    {"touch", 0, 2, -1, CMD_CLIENT, cmd_touch, "KEY TTL | TTL KEY...",
     "set the TTL of keys (two arguments, the second a\n"
     "                          number: KEY TTL, as before; otherwise TTL first)", 0},
    {"flush", 0, 0, 1, CMD_CLIENT, cmd_flush, "[DELAY]",
     "flush_all on every server (DELAY seconds, spread over servers)", 0},
    {"version", 0, 0, 0, CMD_CLIENT, cmd_version, "", "print \"SPEC VERSION\" per server", 0},
    {"stats", 0, 0, -1, CMD_CLIENT, cmd_stats, "[ARG...] | --fleet [--rounds N]",
     "print \"SPEC NAME VALUE\" per statistic (ARG: e.g.\n"
     "                          items, slabs, settings, cachedump CLASS N);\n"
     "                          --fleet: one table, a row per server and a\n"
     "                          total: state, round trip (N rounds of stats at\n"
     "                          once, default 5), items, memory, hits, sets", 0},
    {"dump", 0, 0, 2, CMD_CLIENT, cmd_dump, "[--pattern GLOB]",
     "print \"KEY EXP SIZE SPEC\" for every item of every\n"
     "                          server (lru_crawler metadump; EXP -1: never)", 0},
    {"ping", 0, 0, 0, CMD_CLIENT, cmd_ping, "",
     "connect to each server; print address, family, connect time, version", 0},
    {"strerror", 0, 1, 1, 0, cmd_strerror, "CODE|NAME",
     "explain an mcf error code (number or MCF_* name)", 0},
    {"resolve", 0, 1, 1, 0, cmd_resolve, "SPEC",
     "explain how SPEC resolves (getaddrinfo, interfaces, mcfast's order)", 0},
    {"server-for", 0, 1, -1, CMD_CLIENT, cmd_server_for, "KEY...",
     "print \"KEY SPEC\": the server each key maps to (no connection)", 0},
    {"ring", 0, 0, -1, CMD_CLIENT, cmd_ring, "[RING-OPTIONS]",
     "each server's share of the keys (no connection).  RING-OPTIONS:\n"
     "                          --keys N      sample keys (default 100000)\n"
     "                          --svg FILE    draw the ring and the shares as SVG\n"
     "                          --add SPEC, --remove SPEC (repeatable): the keys\n"
     "                          that would move to the changed list, and the ideal", 0},
    {"bench", 0, 0, -1, CMD_CLIENT, cmd_bench, MCFAST_BENCH_ARGS, MCFAST_BENCH_HELP, 0},
    {"top", 0, 0, -1, CMD_CLIENT, cmd_top, MCFAST_TOP_ARGS, MCFAST_TOP_HELP, 0},
};
const size_t cli_n_commands = sizeof cli_commands / sizeof cli_commands[0];

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < cli_n_commands; i++)
        if (strcmp(cli_commands[i].name, name) == 0)
            return &cli_commands[i];
    return NULL;
}

static int run_command(const struct command *cmd, const struct options *o,
                       const struct meta *m, char **args, int nargs)
{
    struct run r = {NULL, o, cmd, m, 0};
    if (!(cmd->flags & CMD_CLIENT))
        return cmd->fn(&r, args, nargs);
    r.c = mcf_new();
    if (r.c == NULL) {
        fprintf(stderr, "mcfast: %s\n", mcf_strerror(MCF_ERR_NOMEM));
        return XC_ERROR;
    }
    int code = cli_setup_client(r.c, o);
    if (code == 0)
        code = cmd->fn(&r, args, nargs);
    mcf_free(r.c);
    return code;
}

int main(int argc, char **argv)
{
    struct options o;
    int code = cli_parse_options(argc, argv, &o);
    if (code >= 0)
        return code;
    if (optind >= argc) {
        cli_usage_error("no command");
        return XC_USAGE;
    }
    const struct command *cmd = find_command(argv[optind]);
    if (cmd == NULL) {
        cli_usage_error("unknown command '%s'", argv[optind]);
        return XC_USAGE;
    }
    char **args = argv + optind + 1;
    int nargs = argc - optind - 1;
    struct meta m;
    memset(&m, 0, sizeof m);
    int used = cli_parse_command_options(cmd, args, nargs, &m);
    if (used < 0)
        return XC_USAGE;
    args += used;
    nargs -= used;
    if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
        cli_print_command_usage(cmd);
        return XC_USAGE;
    }
    if (cli_check_command_options(cmd, &m, args, nargs, &o) != 0)
        return XC_USAGE;
    /* The _ex calls (and mcf_exists) need meta commands: ask for them where
     * the server has them, and let a text-only server say why not. */
    if ((m.given || (cmd->flags & CMD_META)) && o.protocol < 0)
        o.protocol = MCF_PROTO_AUTO;
    code = run_command(cmd, &o, &m, args, nargs);
    /* A full disk or closed pipe must not look like success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mcfast: writing output: %s\n", strerror(errno));
        return XC_ERROR;
    }
    return code;
}
