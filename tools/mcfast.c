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
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "mcfast.h"

#include "addrdiag.h"
#include "cmd_bench.h"
#include "cmd_top.h"
#include "dist.h"
#include "hash.h"
#include "placement.h"
#include "resolve.h"
#include "spec.h"

/* Exit codes (XC_: names starting with E+capital are reserved for errno.h). */
enum { XC_OK = 0, XC_NEGATIVE = 1, XC_ERROR = 2, XC_USAGE = 64 };

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

enum {
    OPT_SERVERS = 256,
    OPT_CONNECT_TIMEOUT,
    OPT_ATTEMPT_DELAY,
    OPT_IO_TIMEOUT,
    OPT_TTL,
    OPT_FLAGS,
    OPT_NAMESPACE,
    OPT_DISTRIBUTION,
    OPT_HASH,
    OPT_KETAMA_POINTS,
    OPT_NOREPLY,
    OPT_PROTOCOL,
    OPT_VERSION,
    OPT_TLS,
    OPT_TLS_CA,
    OPT_TLS_CAPATH,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_SERVER_NAME,
    OPT_TLS_INSECURE
};

static const struct option long_options[] = {
    {"servers", required_argument, NULL, OPT_SERVERS},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"attempt-delay", required_argument, NULL, OPT_ATTEMPT_DELAY},
    {"io-timeout", required_argument, NULL, OPT_IO_TIMEOUT},
    {"ttl", required_argument, NULL, OPT_TTL},
    {"flags", required_argument, NULL, OPT_FLAGS},
    {"namespace", required_argument, NULL, OPT_NAMESPACE},
    {"distribution", required_argument, NULL, OPT_DISTRIBUTION},
    {"hash", required_argument, NULL, OPT_HASH},
    {"ketama-points", required_argument, NULL, OPT_KETAMA_POINTS},
    {"noreply", no_argument, NULL, OPT_NOREPLY},
    {"protocol", required_argument, NULL, OPT_PROTOCOL},
    {"tls", no_argument, NULL, OPT_TLS},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"tls-capath", required_argument, NULL, OPT_TLS_CAPATH},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-server-name", required_argument, NULL, OPT_TLS_SERVER_NAME},
    {"tls-insecure", no_argument, NULL, OPT_TLS_INSECURE},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* Numeric options that map one-to-one onto mcf_set_option.  The library
 * owns the valid ranges; we only check that the text is a number. */
struct client_opt {
    int code;
    mcf_option opt;
    const char *name;
};

static const struct client_opt client_opts[] = {
    {OPT_CONNECT_TIMEOUT, MCF_OPT_CONNECT_TIMEOUT_MS, "--connect-timeout"},
    {OPT_ATTEMPT_DELAY, MCF_OPT_ATTEMPT_DELAY_MS, "--attempt-delay"},
    {OPT_IO_TIMEOUT, MCF_OPT_IO_TIMEOUT_MS, "--io-timeout"},
    {OPT_KETAMA_POINTS, MCF_OPT_KETAMA_POINTS, "--ketama-points"},
};
#define N_CLIENT_OPTS (sizeof client_opts / sizeof client_opts[0])

struct options {
    const char *servers; /* NULL: take MEMCACHED_SERVERS */
    int64_t ttl;
    uint32_t flags;
    const char *ns;
    int distribution; /* -1: library default */
    int hash;         /* -1: library default */
    int protocol;     /* -1: library default */
    int noreply;
    int verbose;
    mcf_tls_options tls;
    int tls_given; /* any --tls* option */
    int given[N_CLIENT_OPTS];
    int64_t value[N_CLIENT_OPTS];
};

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

struct run;
typedef int (*cmd_fn)(struct run *r, char **args, int nargs);

struct command {
    const char *name;
    int mode; /* mcf_store_mode, mcf_get_mode or 0/1 for incr/decr */
    int min_args, max_args; /* max -1: unlimited */
    int needs_client;
    cmd_fn fn;
    const char *args;
    const char *help;
    unsigned copts; /* CO_*: the command options it takes */
};

/* Command options: given after the command name, before its arguments
 * (`mcfast get --info KEY`).  Each maps onto mcf_meta_opts for the _ex
 * call (memcached's meta commands); see command_options[]. */
enum {
    CO_INFO = 1u << 0,
    CO_NO_BUMP = 1u << 1,
    CO_TOUCH = 1u << 2,
    CO_VIVIFY = 1u << 3,
    CO_INITIAL = 1u << 4,
    CO_RECACHE = 1u << 5,
    CO_INVALIDATE = 1u << 6,
    CO_CAS = 1u << 7,
    CO_REMOVE_VALUE = 1u << 8,
    CO_NEW_CAS = 1u << 9
};
#define CO_GET (CO_INFO | CO_NO_BUMP | CO_TOUCH | CO_VIVIFY | CO_RECACHE)
#define CO_STORE CO_NEW_CAS
#define CO_CAS_CMD (CO_NEW_CAS | CO_INVALIDATE)
#define CO_DELETE (CO_INVALIDATE | CO_TOUCH | CO_CAS | CO_REMOVE_VALUE | CO_NEW_CAS)
#define CO_ARITH (CO_VIVIFY | CO_INITIAL | CO_CAS | CO_TOUCH | CO_INFO)

/* The command options of one run. */
struct meta {
    unsigned given;     /* CO_* */
    const char *first;  /* the first one given, for messages */
    int ended;          /* "--" ended them */
    mcf_meta_opts opts; /* what the _ex call gets */
};

struct run {
    mcf_client *c;
    const struct options *o;
    const struct command *cmd;
    const struct meta *m;
    int noted; /* report_meta's note was printed */
};

static int cmd_store(struct run *r, char **args, int nargs);
static int cmd_get(struct run *r, char **args, int nargs);
static int cmd_arith(struct run *r, char **args, int nargs);
static int cmd_delete(struct run *r, char **args, int nargs);
static int cmd_touch(struct run *r, char **args, int nargs);
static int cmd_flush(struct run *r, char **args, int nargs);
static int cmd_version(struct run *r, char **args, int nargs);
static int cmd_stats(struct run *r, char **args, int nargs);
static int cmd_ping(struct run *r, char **args, int nargs);
static int cmd_resolve(struct run *r, char **args, int nargs);
static int cmd_server_for(struct run *r, char **args, int nargs);
static int cmd_ring(struct run *r, char **args, int nargs);
static int cmd_bench(struct run *r, char **args, int nargs);
static int cmd_top(struct run *r, char **args, int nargs);

static const struct command commands[] = {
    {"set", MCF_SET, 2, 2, 1, cmd_store, "KEY VALUE", "store VALUE under KEY", CO_STORE},
    {"add", MCF_ADD, 2, 2, 1, cmd_store, "KEY VALUE", "store only if KEY does not exist",
     CO_STORE},
    {"replace", MCF_REPLACE, 2, 2, 1, cmd_store, "KEY VALUE", "store only if KEY exists",
     CO_STORE},
    {"append", MCF_APPEND, 2, 2, 1, cmd_store, "KEY VALUE", "append VALUE to KEY's value",
     CO_STORE},
    {"prepend", MCF_PREPEND, 2, 2, 1, cmd_store, "KEY VALUE", "prepend VALUE to KEY's value",
     CO_STORE},
    {"cas", MCF_CAS, 3, 3, 1, cmd_store, "KEY CAS VALUE",
     "store only if KEY's CAS is still CAS (from gets)", CO_CAS_CMD},
    {"get", MCF_GET, 1, -1, 1, cmd_get, "KEY...", "print values", CO_GET},
    {"gets", MCF_GETS, 1, -1, 1, cmd_get, "KEY...", "print values (-v shows CAS)", CO_GET},
    {"gat", MCF_GAT, 2, -1, 1, cmd_get, "TTL KEY...", "print values and set their TTL", 0},
    {"gats", MCF_GATS, 2, -1, 1, cmd_get, "TTL KEY...", "gat, with CAS (-v shows it)", 0},
    {"incr", 0, 2, 2, 1, cmd_arith, "KEY N", "add N, print the new value", CO_ARITH},
    {"decr", 1, 2, 2, 1, cmd_arith, "KEY N", "subtract N (floor 0), print the new value",
     CO_ARITH},
    {"delete", 0, 1, -1, 1, cmd_delete, "KEY...", "delete keys", CO_DELETE},
    {"touch", 0, 2, 2, 1, cmd_touch, "KEY TTL", "set KEY's TTL", 0},
    {"flush", 0, 0, 1, 1, cmd_flush, "[DELAY]",
     "flush_all on every server (DELAY seconds, spread over servers)", 0},
    {"version", 0, 0, 0, 1, cmd_version, "", "print \"SPEC VERSION\" per server", 0},
    {"stats", 0, 0, 1, 1, cmd_stats, "[ARG]", "print \"SPEC NAME VALUE\" per statistic", 0},
    {"ping", 0, 0, 0, 1, cmd_ping, "",
     "connect to each server; print address, family, connect time, version", 0},
    {"resolve", 0, 1, 1, 0, cmd_resolve, "SPEC",
     "explain how SPEC resolves (getaddrinfo, interfaces, mcfast's order)", 0},
    {"server-for", 0, 1, -1, 1, cmd_server_for, "KEY...",
     "print \"KEY SPEC\": the server each key maps to (no connection)", 0},
    {"ring", 0, 0, -1, 1, cmd_ring, "[RING-OPTIONS]",
     "each server's share of the keys (no connection).  RING-OPTIONS:\n"
     "                          --keys N      sample keys (default 100000)\n"
     "                          --svg FILE    draw the ring and the shares as SVG\n"
     "                          --add SPEC, --remove SPEC (repeatable): the keys\n"
     "                          that would move to the changed list, and the ideal", 0},
    {"bench", 0, 0, -1, 1, cmd_bench, MCFAST_BENCH_ARGS, MCFAST_BENCH_HELP, 0},
    {"top", 0, 0, -1, 1, cmd_top, MCFAST_TOP_ARGS, MCFAST_TOP_HELP, 0},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

enum co_arg { CO_ARG_NONE, CO_ARG_TTL, CO_ARG_U64 };

struct command_option {
    const char *name;    /* exact; "--opt VALUE" or "--opt=VALUE" */
    unsigned bit;        /* CO_* */
    unsigned meta_flag;  /* the MCF_META_* flag it sets (0: none by itself) */
    enum co_arg arg;     /* TTL: int64_t, U64: uint64_t ... */
    size_t field;        /* ... stored at this offset in mcf_meta_opts */
    const char *metavar; /* for usage lines */
};

/* In the order usage lines list them. */
static const struct command_option command_options[] = {
    {"--info", CO_INFO, 0, CO_ARG_NONE, 0, ""},
    {"--no-bump", CO_NO_BUMP, MCF_META_NO_BUMP, CO_ARG_NONE, 0, ""},
    {"--invalidate", CO_INVALIDATE, MCF_META_INVALIDATE, CO_ARG_NONE, 0, ""},
    {"--touch", CO_TOUCH, MCF_META_SET_TTL, CO_ARG_TTL, offsetof(mcf_meta_opts, ttl), "TTL"},
    {"--vivify", CO_VIVIFY, MCF_META_VIVIFY, CO_ARG_TTL, offsetof(mcf_meta_opts, vivify_ttl),
     "TTL"},
    {"--initial", CO_INITIAL, 0, CO_ARG_U64, offsetof(mcf_meta_opts, initial), "N"},
    {"--recache", CO_RECACHE, MCF_META_RECACHE, CO_ARG_TTL,
     offsetof(mcf_meta_opts, recache_ttl), "TTL"},
    {"--cas", CO_CAS, MCF_META_COMPARE_CAS, CO_ARG_U64, offsetof(mcf_meta_opts, cas), "N"},
    {"--remove-value", CO_REMOVE_VALUE, MCF_META_REMOVE_VALUE, CO_ARG_NONE, 0, ""},
    {"--new-cas", CO_NEW_CAS, MCF_META_NEW_CAS, CO_ARG_U64, offsetof(mcf_meta_opts, new_cas),
     "N"},
};
#define N_COMMAND_OPTIONS (sizeof command_options / sizeof command_options[0])

/* "[--info] [--touch TTL] ..." for the options in copts. */
static void format_copts(char *buf, size_t size, unsigned copts)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_COMMAND_OPTIONS && n < size; i++) {
        const struct command_option *co = &command_options[i];
        if (copts & co->bit)
            n += (size_t)snprintf(buf + n, size - n, "%s[%s%s%s]", n ? " " : "", co->name,
                                  *co->metavar ? " " : "", co->metavar);
    }
}

static void print_command_usage(const struct command *cmd)
{
    char opts[256];
    format_copts(opts, sizeof opts, cmd->copts);
    fprintf(stderr, "mcfast: usage: mcfast [OPTIONS] %s%s%s %s\nTry 'mcfast --help'.\n",
            cmd->name, *opts ? " " : "", opts, cmd->args);
}

static void print_help_command_options(void)
{
    printf("\nCommand options (after the command name, before its arguments; \"--\" ends\n"
           "them, for a KEY that starts with \"--\").  They use memcached's meta commands\n"
           "(memcached >= 1.6.10): with any of them --protocol defaults to auto, and a\n"
           "server without meta commands, or --protocol text, gives exit 2.\n"
           "  get|gets [--info] [--no-bump] [--touch TTL] [--vivify TTL] [--recache TTL] KEY...\n"
           "    --info          after each value, one line:\n"
           "                    info KEY ttl=T last_access=S hit_before=0|1 win=0|1 stale=0|1\n"
           "                    won=0|1 cas=N\n"
           "                    ttl: seconds left (-1: never expires); last_access: seconds\n"
           "                    since the item was last read; hit_before: it was read before;\n"
           "                    win: this caller should recompute and store the value;\n"
           "                    stale: the value is invalidated but usable; won: another\n"
           "                    caller is recomputing it\n"
           "    --no-bump       no LRU bump, no access time or hit_before update\n"
           "    --touch TTL     also set the item's TTL\n"
           "    --vivify TTL    on a miss create an empty item with this TTL (exit 0): its\n"
           "                    creator gets win=1, later callers won=1\n"
           "    --recache TTL   win=1 for one caller once the TTL left is below TTL (later\n"
           "                    callers get won=1 until the value is stored again)\n"
           "    With several KEYs: one request per key; output as without options.\n");
    printf("  set|add|replace|append|prepend [--new-cas N] KEY VALUE\n"
           "  cas [--invalidate] [--new-cas N] KEY CAS VALUE\n"
           "    --new-cas N     give the stored item CAS N (memcached >= 1.6.27)\n"
           "    --invalidate    a CAS older than the item's still stores VALUE, marked stale\n"
           "                    (exit 0; readers get stale=1, the first of them win=1)\n"
           "  delete [--invalidate] [--touch TTL] [--cas N] [--remove-value] [--new-cas N] KEY...\n"
           "    --invalidate    mark the item stale (and give it a new CAS) instead of\n"
           "                    removing it: readers keep its value with stale=1, the first\n"
           "                    of them gets win=1\n"
           "    --touch TTL     with --invalidate: also set the item's TTL\n"
           "    --cas N         only if the item's CAS is N, else exit 1 (one KEY)\n"
           "    --remove-value  empty the value but keep the item (memcached >= 1.6.27)\n"
           "    --new-cas N     give the item CAS N (memcached >= 1.6.27)\n"
           "  incr|decr [--info] [--touch TTL] [--vivify TTL] [--initial N] [--cas N] KEY N\n"
           "    --info          after the value, one line: info KEY ttl=T cas=N\n"
           "    --touch TTL     also set the item's TTL\n"
           "    --vivify TTL    on a miss create the item with value --initial N (default\n"
           "                    0) and this TTL, and print that value (N is not applied)\n"
           "    --cas N         only if the item's CAS is N, else exit 1\n");
    printf("\nStale-while-revalidate in a shell script (a win exits 0; the info line is\n"
           "always the last line):\n"
           "  out=$(mcfast get --info --vivify 30 --recache 30 KEY) || exit\n"
           "  info=\" ${out##*$'\\n'} \" value=${out%%$'\\n'*}\n"
           "  case $info in\n"
           "  *\" win=1 \"*) value=$(compute) && mcfast --ttl 300 set KEY \"$value\" ;;\n"
           "  *\" won=1 \"*) [ -n \"$value\" ] || { sleep 0.1; retry; } ;; # being computed\n"
           "  esac  # then use $value (stale=1: old but usable)\n");
}

static void print_help(void)
{
    printf("usage: mcfast [OPTIONS] COMMAND [COMMAND-OPTIONS] [ARGS]\n\n"
           "Options (before the command; --opt=VALUE or --opt VALUE):\n"
           "  --servers LIST          servers, separated by commas or spaces:\n"
           "                          host[:port], 1.2.3.4:port, [v6]:port, ::1,\n"
           "                          /path.sock, unix:/path; optional :weight last;\n"
           "                          tls:host:port, tls:[v6]:port for TLS to that server.\n"
           "                          Default: $MEMCACHED_SERVERS\n"
           "  --connect-timeout MS    whole connect, all addresses (default 1000)\n"
           "  --attempt-delay MS      Happy Eyeballs delay between addresses (default 250)\n"
           "  --io-timeout MS         deadline per command (default 1000)\n"
           "  --ttl SECONDS           expiry for storage commands (default 0: never)\n"
           "  --flags N               32-bit flags for storage commands (default 0);\n"
           "                          bit 0x2 is reserved: it marks zlib-compressed values\n"
           "  --namespace NS          prefix added to every key\n"
           "  --distribution NAME     which server a key goes to, as another client does:\n"
           "                          modula (Cache::Memcached, default),\n"
           "                          ketama (Cache::Memcached::Fast ketama_points),\n"
           "                          libmemcached (pylibmc, php-memcached default),\n"
           "                          ketama-libmemcached (libmemcached KETAMA_WEIGHTED,\n"
           "                          php-memcached LIBKETAMA_COMPATIBLE),\n"
           "                          ketama-libmemcached-unweighted (pylibmc ketama),\n"
           "                          pymemcache (HashClient), nutcracker (twemproxy\n"
           "                          ketama), nutcracker-modula; see README.md\n"
           "  --hash NAME             the key hash for libmemcached and nutcracker modes:\n"
           "                          one_at_a_time, md5, crc, fnv1_64, fnv1a_64, fnv1_32,\n"
           "                          fnv1a_32, hsieh, murmur, jenkins, crc32a, murmur3\n"
           "  --ketama-points N       points per server for ketama (default 150)\n"
           "  --protocol NAME         text (default; auto with command options), meta\n"
           "                          (memcached >= 1.6 meta commands; keys may then hold\n"
           "                          any bytes), or auto (meta where the server has it)\n"
           "  --noreply               do not wait for replies (results are not known:\n"
           "                          exit 0, incr/decr print nothing); not with command\n"
           "                          options\n"
           "  --tls                   TLS to every TCP server (not only tls: ones)\n"
           "  --tls-ca FILE           verify servers against these CAs (PEM; default:\n"
           "                          the system's trust store)\n"
           "  --tls-capath DIR        ... or the hashed CA certificates in DIR\n"
           "  --tls-cert FILE         client certificate (PEM), for mutual TLS\n"
           "  --tls-key FILE          its private key (default: in --tls-cert)\n"
           "  --tls-server-name NAME  the name to send and verify instead of each host\n"
           "  --tls-insecure          do not verify certificates (testing only)\n"
           "  -v, --verbose           get: print each hit as \"VALUE KEY FLAGS BYTES [CAS]\"\n"
           "                          then the value bytes and a newline (CAS for\n"
           "                          gets/gats)\n"
           "  -h, --help              this help\n"
           "      --version           print the version\n\n"
           "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char head[64];
        snprintf(head, sizeof head, "%s %s", commands[i].name, commands[i].args);
        printf("  %-22s  %s\n", head, commands[i].help);
    }
    print_help_command_options();
    printf("\nVALUE '-' reads the value from standard input (binary-safe).\n"
           "get output: one key prints exactly the value bytes and a newline; several\n"
           "keys print \"KEY VALUE\" lines in request order, misses omitted (values\n"
           "with newlines are ambiguous there: use -v, which gives byte counts).\n"
           "--info adds its line after each value.\n\n"
           "Environment:\n"
           "  MEMCACHED_SERVERS       server list when --servers is not given\n"
           "                          (the variable libmemcached's tools read)\n\n"
           "Exit status:\n"
           "  0   success\n"
           "  1   negative answer: miss (for several keys: any miss), NOT_STORED,\n"
           "      EXISTS, NOT_FOUND\n"
           "  2   error (connection, timeout, server error...); message on stderr\n"
           "  64  usage error (bad option or argument, malformed server list)\n");
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

static void usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

static void usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("mcfast: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'mcfast --help'.\n", stderr);
}

/* Whole-string decimal parse; strtoll alone accepts "12abc" and "". */
static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* strtoull silently negates "-1"; require a leading digit. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* Usage error for a bad number in a command argument. */
static int bad_number(const char *what, const char *s)
{
    fprintf(stderr, "mcfast: %s: '%s' is not a valid number\nTry 'mcfast --help'.\n",
            what, s);
    return XC_USAGE;
}

/* Prints an error: the client's message names server, address and cause;
 * mcf_strerror is the fallback when the failure happened before any
 * server was involved. */
static void print_error(const mcf_client *c, int rc, const char *what, const char *detail)
{
    const char *msg = c ? mcf_last_error(c) : "";
    if (msg == NULL || *msg == '\0')
        msg = mcf_strerror(rc);
    if (detail && *detail)
        fprintf(stderr, "mcfast: %s %s: %s\n", what, detail, msg);
    else
        fprintf(stderr, "mcfast: %s: %s\n", what, msg);
}

/* Maps a result to the exit code and says on stderr why it is not 0. */
static int report(const struct run *r, int rc, const char *detail)
{
    if (rc == MCF_OK)
        return XC_OK;
    if (!mcf_is_error(rc)) {
        fprintf(stderr, "mcfast: %s%s%s: %s\n", r->cmd->name, *detail ? " " : "", detail,
                mcf_strerror(rc));
        return XC_NEGATIVE;
    }
    print_error(r->c, rc, r->cmd->name, detail);
    return XC_ERROR;
}

/* report() for an _ex call.  MCF_ERR_NOT_SUPPORTED gets a note in the
 * CLI's terms, once per run: the library's message names the server and
 * what it lacks, not the option that asked for it. */
static int report_meta(struct run *r, int rc, const char *detail)
{
    int code = report(r, rc, detail);
    if (rc != MCF_ERR_NOT_SUPPORTED || r->noted)
        return code;
    r->noted = 1;
    if (r->o->protocol == MCF_PROTO_TEXT)
        fprintf(stderr,
                "mcfast: %s %s needs memcached's meta commands, which --protocol text "
                "turns off: leave --protocol out (auto is then used) or use auto or meta\n",
                r->cmd->name, r->m->first);
    else
        fprintf(stderr,
                "mcfast: note: %s %s uses memcached's meta commands; mcfast asked for them "
                "with --protocol %s\n",
                r->cmd->name, r->m->first, r->o->protocol == MCF_PROTO_META ? "meta" : "auto");
    return code;
}

static int worse(int a, int b)
{
    return a > b ? a : b;
}

/* A value from the command line or, for "-", all of stdin. */
struct input {
    const char *data;
    size_t len;
    char *owned;
};

static int read_all(FILE *f, struct input *in)
{
    size_t cap = 0, n = 0;
    char *buf = NULL;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, ncap);
            if (nb == NULL) {
                free(buf);
                return -1;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return -1;
    }
    in->data = in->owned = buf;
    in->len = n;
    return 0;
}

static int get_input(const char *arg, struct input *in)
{
    in->owned = NULL;
    if (strcmp(arg, "-") != 0) {
        in->data = arg;
        in->len = strlen(arg);
        return 0;
    }
    if (read_all(stdin, in) != 0) {
        fprintf(stderr, "mcfast: reading the value from stdin: %s\n", strerror(errno));
        return XC_ERROR;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Storage, arithmetic, delete, touch, flush                           */
/* ------------------------------------------------------------------ */

static int cmd_store(struct run *r, char **args, int nargs)
{
    uint64_t cas = 0;
    struct input in;
    if (r->cmd->mode == MCF_CAS && parse_u64(args[1], &cas) != 0)
        return bad_number("cas", args[1]);
    int rc = get_input(args[nargs - 1], &in);
    if (rc != 0)
        return rc;
    if (r->m->given) {
        mcf_item_info info;
        rc = mcf_store_ex(r->c, (mcf_store_mode)r->cmd->mode, args[0], strlen(args[0]),
                          in.data, in.len, r->o->flags, r->o->ttl, cas, &r->m->opts, &info);
        free(in.owned);
        return report_meta(r, rc, args[0]);
    }
    rc = mcf_store(r->c, (mcf_store_mode)r->cmd->mode, args[0], strlen(args[0]), in.data,
                   in.len, r->o->flags, r->o->ttl, cas, 0);
    free(in.owned);
    return report(r, rc, args[0]);
}

/* incr/decr with command options: mcf_incr_ex / mcf_decr_ex. */
static int arith_meta(struct run *r, const char *key, uint64_t delta)
{
    uint64_t value = 0;
    mcf_item_info info;
    int (*fn)(mcf_client *, const char *, size_t, uint64_t, const mcf_meta_opts *,
              uint64_t *, mcf_item_info *) = r->cmd->mode ? mcf_decr_ex : mcf_incr_ex;
    int rc = fn(r->c, key, strlen(key), delta, &r->m->opts, &value, &info);
    if (rc == MCF_OK) {
        printf("%" PRIu64 "\n", value);
        if (r->m->given & CO_INFO)
            printf("info %s ttl=%" PRId64 " cas=%" PRIu64 "\n", key, info.ttl, info.cas);
    }
    return report_meta(r, rc, key);
}

static int cmd_arith(struct run *r, char **args, int nargs)
{
    uint64_t delta, value = 0;
    (void)nargs;
    if (parse_u64(args[1], &delta) != 0)
        return bad_number(r->cmd->name, args[1]);
    if (r->m->given)
        return arith_meta(r, args[0], delta);
    int rc = r->cmd->mode ? mcf_decr(r->c, args[0], strlen(args[0]), delta, &value, 0)
                          : mcf_incr(r->c, args[0], strlen(args[0]), delta, &value, 0);
    /* With noreply the server's answer is never read: nothing to print. */
    if (rc == MCF_OK && !r->o->noreply)
        printf("%" PRIu64 "\n", value);
    return report(r, rc, args[0]);
}

/* delete with command options: mcf_delete_ex, one request per key. */
static int delete_meta(struct run *r, char **keys, int n)
{
    int code = XC_OK;
    for (int i = 0; i < n; i++)
        code = worse(code, report_meta(r, mcf_delete_ex(r->c, keys[i], strlen(keys[i]),
                                                        &r->m->opts),
                                       keys[i]));
    return code;
}

static int cmd_delete(struct run *r, char **args, int nargs)
{
    if (r->m->given)
        return delete_meta(r, args, nargs);
    /* One key: the single call's error message is the most precise. */
    if (nargs == 1)
        return report(r, mcf_delete(r->c, args[0], strlen(args[0]), 0), args[0]);

    /* Several: one pipelined round trip per server. */
    mcf_item *items = calloc((size_t)nargs, sizeof *items);
    if (items == NULL)
        return report(r, MCF_ERR_NOMEM, "");
    for (int i = 0; i < nargs; i++) {
        items[i].key = args[i];
        items[i].key_len = strlen(args[i]);
    }
    int rc = mcf_multi(r->c, MCF_OP_DELETE, items, (size_t)nargs, 0);
    int code = XC_OK;
    for (int i = 0; i < nargs; i++) {
        if (items[i].rc == MCF_OK)
            continue;
        fprintf(stderr, "mcfast: delete %s: %s\n", args[i], mcf_strerror(items[i].rc));
        code = worse(code, mcf_is_error(items[i].rc) ? XC_ERROR : XC_NEGATIVE);
    }
    free(items);
    if (mcf_is_error(rc)) {
        print_error(r->c, rc, "delete", "");
        code = XC_ERROR;
    }
    return code;
}

static int cmd_touch(struct run *r, char **args, int nargs)
{
    int64_t ttl;
    (void)nargs;
    if (parse_i64(args[1], &ttl) != 0)
        return bad_number("touch TTL", args[1]);
    return report(r, mcf_touch(r->c, args[0], strlen(args[0]), ttl, 0), args[0]);
}

static int cmd_flush(struct run *r, char **args, int nargs)
{
    int64_t delay = 0;
    if (nargs == 1 && (parse_i64(args[0], &delay) != 0 || delay < 0))
        return bad_number("flush DELAY", args[0]);
    return report(r, mcf_flush_all(r->c, delay, 0), "");
}

/* ------------------------------------------------------------------ */
/* Retrieval                                                           */
/* ------------------------------------------------------------------ */

static int mode_has_cas(int mode)
{
    return mode == MCF_GETS || mode == MCF_GATS;
}

static void print_value(const struct run *r, const char *key, const char *data, size_t len,
                        uint32_t flags, uint64_t cas, int several)
{
    if (r->o->verbose) {
        printf("VALUE %s %" PRIu32 " %zu", key, flags, len);
        if (mode_has_cas(r->cmd->mode))
            printf(" %" PRIu64, cas);
        putchar('\n');
    } else if (several) {
        printf("%s ", key);
    }
    fwrite(data, 1, len, stdout);
    putchar('\n');
}

static int get_one(struct run *r, int64_t ttl, const char *key)
{
    mcf_value v;
    size_t klen = strlen(key);
    int rc;
    switch (r->cmd->mode) {
    case MCF_GETS: rc = mcf_gets(r->c, key, klen, &v); break;
    case MCF_GAT: rc = mcf_gat(r->c, ttl, key, klen, &v); break;
    case MCF_GATS: rc = mcf_gats(r->c, ttl, key, klen, &v); break;
    default: rc = mcf_get(r->c, key, klen, &v); break;
    }
    if (rc == MCF_OK)
        print_value(r, key, v.data, v.len, v.flags, v.cas, 0);
    return report(r, rc, key);
}

/* get/gets with command options: mcf_get_ex, one request per key (the
 * item metadata is per key and mcf_get_multi has none). */
static int get_meta(struct run *r, char **keys, int n)
{
    int code = XC_OK;
    for (int i = 0; i < n; i++) {
        mcf_value v;
        mcf_item_info in;
        int rc = mcf_get_ex(r->c, keys[i], strlen(keys[i]), &r->m->opts, &v, &in);
        if (rc == MCF_OK) {
            print_value(r, keys[i], v.data, v.len, v.flags, v.cas, n > 1);
            if (r->m->given & CO_INFO)
                printf("info %s ttl=%" PRId64 " last_access=%" PRIu64
                       " hit_before=%d win=%d stale=%d won=%d cas=%" PRIu64 "\n",
                       keys[i], in.ttl, in.last_access, in.hit_before != 0, in.win != 0,
                       in.stale != 0, in.won != 0, v.cas);
        }
        code = worse(code, report_meta(r, rc, keys[i]));
    }
    return code;
}

/* Values are copied in the callback (their memory lives only that long)
 * so they can be printed in request order, which scripts can rely on. */
struct fetched {
    char *data;
    size_t len;
    uint32_t flags;
    uint64_t cas;
    int rc;
};

struct fetch_ctx {
    struct fetched *v;
    size_t n;
};

static void on_value(void *ctx, size_t index, int rc, const mcf_value *value)
{
    struct fetch_ctx *f = ctx;
    if (index >= f->n)
        return;
    struct fetched *e = &f->v[index];
    free(e->data);
    e->data = NULL;
    e->rc = rc;
    if (rc != MCF_OK || value == NULL)
        return;
    e->data = malloc(value->len ? value->len : 1);
    if (e->data == NULL) {
        e->rc = MCF_ERR_NOMEM;
        return;
    }
    memcpy(e->data, value->data, value->len);
    e->len = value->len;
    e->flags = value->flags;
    e->cas = value->cas;
}

/* Prints hits in order, reports misses and per-key errors; frees copies. */
static int print_fetched(const struct run *r, struct fetched *v, char **keys, size_t n)
{
    int code = XC_OK;
    for (size_t i = 0; i < n; i++) {
        if (v[i].rc == MCF_OK) {
            print_value(r, keys[i], v[i].data, v[i].len, v[i].flags, v[i].cas, 1);
        } else {
            int rc = v[i].rc;
            /* -1: the library never called back for this key. */
            fprintf(stderr, "mcfast: %s %s: %s\n", r->cmd->name, keys[i],
                    rc < 0 ? "no answer" : mcf_strerror(rc));
            code = worse(code, rc < 0 || mcf_is_error(rc) ? XC_ERROR : XC_NEGATIVE);
        }
        free(v[i].data);
    }
    return code;
}

static int get_many(struct run *r, int64_t ttl, char **keys, size_t n)
{
    struct fetch_ctx f = {calloc(n, sizeof(struct fetched)), n};
    if (f.v == NULL)
        return report(r, MCF_ERR_NOMEM, "");
    for (size_t i = 0; i < n; i++)
        f.v[i].rc = -1;
    int rc = mcf_get_multi(r->c, (mcf_get_mode)r->cmd->mode, ttl, (const char *const *)keys,
                           NULL, n, on_value, &f);
    int code = print_fetched(r, f.v, keys, n);
    free(f.v);
    if (mcf_is_error(rc)) {
        print_error(r->c, rc, r->cmd->name, "");
        code = XC_ERROR;
    }
    return code;
}

static int cmd_get(struct run *r, char **args, int nargs)
{
    int64_t ttl = 0;
    int mode = r->cmd->mode;
    if (mode == MCF_GAT || mode == MCF_GATS) {
        if (parse_i64(args[0], &ttl) != 0)
            return bad_number("TTL", args[0]);
        args++;
        nargs--;
    }
    if (nargs == 0) {
        usage_error("%s: missing KEY", r->cmd->name);
        return XC_USAGE;
    }
    if (r->m->given)
        return get_meta(r, args, nargs);
    if (nargs == 1)
        return get_one(r, ttl, args[0]);
    return get_many(r, ttl, args, (size_t)nargs);
}

/* ------------------------------------------------------------------ */
/* Per-server commands                                                 */
/* ------------------------------------------------------------------ */

/* The configured spec of server i, for output and messages. */
static const char *server_spec(const mcf_client *c, size_t i)
{
    mcf_server_info info;
    if (mcf_server_info_get(c, i, &info) != MCF_OK || info.spec == NULL)
        return "?";
    return info.spec;
}

/* For per-server commands: the library's message names the server, so
 * the spec is only added when falling back to mcf_strerror. */
static void print_server_error(const mcf_client *c, int rc, const char *what, size_t i)
{
    const char *msg = mcf_last_error(c);
    if (msg != NULL && *msg != '\0')
        fprintf(stderr, "mcfast: %s: %s\n", what, msg);
    else
        fprintf(stderr, "mcfast: %s %s: %s\n", what, server_spec(c, i), mcf_strerror(rc));
}

/* Placement reports: tools/placement.c. */
static int cmd_server_for(struct run *r, char **args, int nargs)
{
    return placement_server_for(r->c, args, nargs);
}

static int cmd_ring(struct run *r, char **args, int nargs)
{
    return placement_ring(r->c, args, nargs);
}

/* Load and fleet views: tools/cmd_bench.c, tools/cmd_top.c. */
static int cmd_bench(struct run *r, char **args, int nargs)
{
    return mcfast_cmd_bench(r->c, args, nargs);
}

static int cmd_top(struct run *r, char **args, int nargs)
{
    return mcfast_cmd_top(r->c, args, nargs);
}

static int cmd_version(struct run *r, char **args, int nargs)
{
    int code = XC_OK;
    (void)args;
    (void)nargs;
    for (size_t i = 0; i < mcf_server_count(r->c); i++) {
        char ver[128];
        int rc = mcf_version(r->c, i, ver, sizeof ver);
        if (rc == MCF_OK) {
            printf("%s %s\n", server_spec(r->c, i), ver);
        } else {
            print_server_error(r->c, rc, "version", i);
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

static int cmd_stats(struct run *r, char **args, int nargs)
{
    const char *arg = nargs ? args[0] : NULL;
    int code = XC_OK;
    for (size_t i = 0; i < mcf_server_count(r->c); i++) {
        const char *spec = server_spec(r->c, i);
        int rc = mcf_stats(r->c, i, arg, on_stat, &spec);
        if (rc != MCF_OK) {
            print_server_error(r->c, rc, "stats", i);
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
        print_server_error(c, rc, "ping", i);
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

static int cmd_ping(struct run *r, char **args, int nargs)
{
    int code = XC_OK;
    (void)args;
    (void)nargs;
    for (size_t i = 0; i < mcf_server_count(r->c); i++)
        code = worse(code, ping_one(r->c, i));
    return code;
}

/* ------------------------------------------------------------------ */
/* resolve: why a spec does (not) reach an address                     */
/* ------------------------------------------------------------------ */

/* The report is the library's (src/addrdiag.c); the addresses it lists come
 * from the resolver mcfast connects with, bounded by --connect-timeout. */
static int cmd_resolve(struct run *r, char **args, int nargs)
{
    mcf_spec spec;
    char err[512];
    int timeout_ms = MCF_RESOLVE_DEFAULT_TIMEOUT_MS;
    (void)nargs;
    if (mcf_spec_parse(args[0], strlen(args[0]), &spec, err, sizeof err) != 0) {
        usage_error("%s", err);
        return XC_USAGE;
    }
    for (size_t i = 0; i < N_CLIENT_OPTS; i++)
        if (client_opts[i].opt == MCF_OPT_CONNECT_TIMEOUT_MS && r->o->given[i] &&
            r->o->value[i] >= 0 && r->o->value[i] <= INT_MAX)
            timeout_ms = (int)r->o->value[i];
    if (mcf_addr_diagnose(stdout, &spec, timeout_ms, err, sizeof err) != 0) {
        fprintf(stderr, "mcfast: %s\n", err); /* err already says "resolve SPEC" */
        return XC_ERROR;
    }
    return XC_OK;
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

static int set_client_opt(struct options *o, int code, const char *arg)
{
    for (size_t i = 0; i < N_CLIENT_OPTS; i++) {
        if (client_opts[i].code != code)
            continue;
        if (parse_i64(arg, &o->value[i]) != 0)
            return bad_number(client_opts[i].name, arg);
        o->given[i] = 1;
        return 0;
    }
    return XC_USAGE;
}

static int set_distribution(struct options *o, const char *arg)
{
    o->distribution = mcf_dist_by_name(arg);
    if (o->distribution >= 0)
        return 0;
    usage_error("--distribution: '%s' is not modula, ketama, libmemcached, ketama-libmemcached, "
                "ketama-libmemcached-unweighted, pymemcache, nutcracker or nutcracker-modula",
                arg);
    return XC_USAGE;
}

static int set_hash(struct options *o, const char *arg)
{
    o->hash = mcf_hash_by_name(arg);
    if (o->hash >= 0)
        return 0;
    usage_error("--hash: '%s' is not default, one_at_a_time, md5, crc, fnv1_64, fnv1a_64, "
                "fnv1_32, fnv1a_32, hsieh, murmur, jenkins, crc32a or murmur3",
                arg);
    return XC_USAGE;
}

static int set_protocol(struct options *o, const char *arg)
{
    if (strcmp(arg, "text") == 0)
        o->protocol = MCF_PROTO_TEXT;
    else if (strcmp(arg, "meta") == 0)
        o->protocol = MCF_PROTO_META;
    else if (strcmp(arg, "auto") == 0)
        o->protocol = MCF_PROTO_AUTO;
    else {
        usage_error("--protocol: '%s' is not text, meta or auto", arg);
        return XC_USAGE;
    }
    return 0;
}

static int set_flags(struct options *o, const char *arg)
{
    uint64_t v;
    if (parse_u64(arg, &v) != 0 || v > UINT32_MAX)
        return bad_number("--flags", arg);
    /* The library reads this bit back as "zlib-compressed": a value stored
     * with it set by hand could never be fetched again. */
    if (v & MCF_FLAG_COMPRESSED) {
        usage_error("--flags: bit 0x%x is reserved for compressed values", MCF_FLAG_COMPRESSED);
        return XC_USAGE;
    }
    o->flags = (uint32_t)v;
    return 0;
}

/* getopt's own messages would carry argv[0] (e.g. "build/mcfast"); ours
 * always start with "mcfast: ". */
static int bad_option(int c, char **argv)
{
    const char *arg = argv[optind - 1];
    size_t len = strcspn(arg, "=");
    for (size_t i = 0; c == '?' && i < N_COMMAND_OPTIONS; i++) {
        if (strlen(command_options[i].name) == len &&
            strncmp(arg, command_options[i].name, len) == 0) {
            usage_error("'%.*s' is a command option: it goes after the command name "
                        "(mcfast [OPTIONS] COMMAND %.*s ...)",
                        (int)len, arg, (int)len, arg);
            return XC_USAGE;
        }
    }
    if (c == ':')
        usage_error("option '%s' needs a value", arg);
    else if (optopt && optopt < 256 && arg[0] == '-' && arg[1] != '-')
        fprintf(stderr, "mcfast: unknown option '-%c'\nTry 'mcfast --help'.\n", optopt);
    else
        usage_error("unknown or ambiguous option '%s'", arg);
    return XC_USAGE;
}

/* One option; returns 0 to go on, or an exit code (-h and --version
 * end the run successfully: XC_OK is 0, so they return -1). */
static int handle_option(struct options *o, int c, char **argv)
{
    switch (c) {
    case 'h': print_help(); return -1;
    case OPT_VERSION: printf("mcfast %s\n", MCF_VERSION_STRING); return -1;
    case 'v': o->verbose = 1; return 0;
    case OPT_NOREPLY: o->noreply = 1; return 0;
    case OPT_SERVERS: o->servers = optarg; return 0;
    case OPT_NAMESPACE: o->ns = optarg; return 0;
    case OPT_FLAGS: return set_flags(o, optarg);
    case OPT_DISTRIBUTION: return set_distribution(o, optarg);
    case OPT_HASH: return set_hash(o, optarg);
    case OPT_PROTOCOL: return set_protocol(o, optarg);
    case OPT_TTL: return parse_i64(optarg, &o->ttl) ? bad_number("--ttl", optarg) : 0;
    case OPT_TLS: o->tls.all_servers = 1; o->tls_given = 1; return 0;
    case OPT_TLS_CA: o->tls.ca_file = optarg; o->tls_given = 1; return 0;
    case OPT_TLS_CAPATH: o->tls.ca_path = optarg; o->tls_given = 1; return 0;
    case OPT_TLS_CERT: o->tls.cert_file = optarg; o->tls_given = 1; return 0;
    case OPT_TLS_KEY: o->tls.key_file = optarg; o->tls_given = 1; return 0;
    case OPT_TLS_SERVER_NAME: o->tls.server_name = optarg; o->tls_given = 1; return 0;
    case OPT_TLS_INSECURE: o->tls.insecure = 1; o->tls_given = 1; return 0;
    case '?':
    case ':': return bad_option(c, argv);
    default: return set_client_opt(o, c, optarg);
    }
}

/* Returns -1 to run a command, otherwise the exit code. */
static int parse_options(int argc, char **argv, struct options *o)
{
    int c;
    memset(o, 0, sizeof *o);
    o->distribution = -1;
    o->hash = -1;
    o->protocol = -1;
    opterr = 0;
    /* "+": stop at the command, so a VALUE such as "-5" is never taken
     * for an option; ":": report a missing value apart from a bad option. */
    while ((c = getopt_long(argc, argv, "+:hv", long_options, NULL)) != -1) {
        int rc = handle_option(o, c, argv);
        if (rc == -1)
            return XC_OK;
        if (rc != 0)
            return rc;
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Command options                                                     */
/* ------------------------------------------------------------------ */

static const struct command_option *find_command_option(const char *arg, size_t len)
{
    for (size_t i = 0; i < N_COMMAND_OPTIONS; i++)
        if (strlen(command_options[i].name) == len &&
            strncmp(arg, command_options[i].name, len) == 0)
            return &command_options[i];
    return NULL;
}

/* Stores an option's value in m->opts; XC_USAGE (message printed) if it is
 * not a number of the option's kind. */
static int set_command_option_value(const struct command *cmd,
                                    const struct command_option *co, const char *val,
                                    struct meta *m)
{
    char what[64];
    char *field = (char *)&m->opts + co->field;
    int64_t i64;
    uint64_t u64;
    snprintf(what, sizeof what, "%s %s", cmd->name, co->name);
    if (co->arg == CO_ARG_TTL) {
        if (parse_i64(val, &i64) != 0)
            return bad_number(what, val);
        memcpy(field, &i64, sizeof i64);
    } else {
        if (parse_u64(val, &u64) != 0)
            return bad_number(what, val);
        memcpy(field, &u64, sizeof u64);
    }
    return 0;
}

/* One option at args[*i] (which starts with "--" and is not "--"). */
static int parse_command_option(const struct command *cmd, char **args, int nargs, int *i,
                                struct meta *m)
{
    const char *arg = args[(*i)++];
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const struct command_option *co = find_command_option(arg, len);
    char list[256];
    if (co == NULL) {
        usage_error("%s: unknown option '%.*s' (a KEY that starts with \"--\" goes after "
                    "\"--\")",
                    cmd->name, (int)len, arg);
        return XC_USAGE;
    }
    if (!(cmd->copts & co->bit)) {
        format_copts(list, sizeof list, cmd->copts);
        usage_error("%s: %s is not an option of %s (it takes %s)", cmd->name, co->name,
                    cmd->name, list);
        return XC_USAGE;
    }
    if (co->arg == CO_ARG_NONE && eq) {
        usage_error("%s: option '%s' takes no value", cmd->name, co->name);
        return XC_USAGE;
    }
    if (co->arg != CO_ARG_NONE) {
        const char *val = eq ? eq + 1 : *i < nargs ? args[(*i)++] : NULL;
        if (val == NULL) {
            usage_error("%s: option '%s' needs a value", cmd->name, co->name);
            return XC_USAGE;
        }
        if (set_command_option_value(cmd, co, val, m) != 0)
            return XC_USAGE;
    }
    m->given |= co->bit;
    m->opts.flags |= co->meta_flag;
    if (m->first == NULL)
        m->first = co->name;
    return 0;
}

/* Parses cmd's options at the front of args: long options with exact
 * names only, so KEYs and VALUEs such as "-5", "-x" or "-" are never
 * taken for options.  Stops at the first argument not starting with "--",
 * or after "--".  Returns how many arguments were used, or -1 after a
 * usage error. */
static int parse_command_options(const struct command *cmd, char **args, int nargs,
                                 struct meta *m)
{
    int i = 0;
    if (cmd->copts == 0)
        return 0; /* gat -1 KEY, touch --odd-key 5: arguments as always */
    while (i < nargs && strncmp(args[i], "--", 2) == 0) {
        if (args[i][2] == '\0') {
            m->ended = 1;
            return i + 1;
        }
        if (parse_command_option(cmd, args, nargs, &i, m) != 0)
            return -1;
    }
    return i;
}

/* `mcfast get KEY --info` would fetch a key named "--info": an argument
 * that is one of the command's options is refused unless "--" came first. */
static int misplaced_option(const struct command *cmd, const struct meta *m, char **args,
                            int nargs)
{
    for (int i = 0; i < nargs && !m->ended; i++) {
        const char *a = args[i];
        const struct command_option *co =
            strncmp(a, "--", 2) == 0 ? find_command_option(a, strcspn(a, "=")) : NULL;
        if (co != NULL && (cmd->copts & co->bit)) {
            usage_error("%s: option %s after an argument: options go right after the "
                        "command name (\"--\" first makes it an argument)",
                        cmd->name, co->name);
            return XC_USAGE;
        }
    }
    return 0;
}

/* Rules between options and arguments; the MCF_META_GET_* flags --info
 * stands for.  Returns 0 or XC_USAGE (message printed). */
static int check_command_options(const struct command *cmd, struct meta *m, int nargs,
                                 const struct options *o)
{
    if (m->given == 0)
        return 0;
    if ((m->given & CO_INITIAL) && !(m->given & CO_VIVIFY)) {
        usage_error("%s: --initial needs --vivify", cmd->name);
        return XC_USAGE;
    }
    if (cmd->fn == cmd_delete && (m->given & CO_TOUCH) && !(m->given & CO_INVALIDATE)) {
        usage_error("delete: --touch needs --invalidate");
        return XC_USAGE;
    }
    if (cmd->fn == cmd_delete && (m->given & CO_CAS) && nargs > 1) {
        usage_error("delete: --cas takes one KEY");
        return XC_USAGE;
    }
    if (o->noreply) {
        usage_error("%s: --noreply does not go with command options (%s): their calls "
                    "always wait for the answer",
                    cmd->name, m->first);
        return XC_USAGE;
    }
    if (m->given & CO_INFO)
        m->opts.flags |= cmd->fn == cmd_get ? MCF_META_GET_TTL | MCF_META_GET_LAST_ACCESS |
                                                  MCF_META_GET_HIT_BEFORE
                                            : MCF_META_GET_TTL;
    return 0;
}

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static int apply_options(mcf_client *c, const struct options *o)
{
    for (size_t i = 0; i < N_CLIENT_OPTS; i++) {
        if (o->given[i] && mcf_set_option(c, client_opts[i].opt, o->value[i]) != MCF_OK) {
            usage_error("%s: value out of range", client_opts[i].name);
            return XC_USAGE;
        }
    }
    int rc = MCF_OK;
    if (o->distribution >= 0)
        rc = mcf_set_option(c, MCF_OPT_DISTRIBUTION, o->distribution);
    if (rc == MCF_OK && o->hash >= 0)
        rc = mcf_set_option(c, MCF_OPT_HASH, o->hash);
    if (rc == MCF_OK && o->protocol >= 0)
        rc = mcf_set_option(c, MCF_OPT_PROTOCOL, o->protocol);
    if (rc == MCF_OK && o->noreply)
        rc = mcf_set_option(c, MCF_OPT_NOREPLY, 1);
    if (rc == MCF_OK && o->ns)
        rc = mcf_set_namespace(c, o->ns);
    if (rc == MCF_OK && o->tls_given) {
        rc = mcf_set_tls(c, &o->tls);
        if (rc != MCF_OK) {
            print_error(c, rc, "options", "");
            return rc == MCF_ERR_ARG ? XC_USAGE : XC_ERROR;
        }
    }
    if (rc != MCF_OK) {
        print_error(c, rc, "options", "");
        return XC_USAGE;
    }
    return 0;
}

static int set_servers(mcf_client *c, const struct options *o)
{
    const char *list = o->servers;
    if (list == NULL) {
        list = getenv("MEMCACHED_SERVERS");
        if (list != NULL && *list == '\0')
            list = NULL;
    }
    if (list == NULL) {
        usage_error("no servers: use --servers or set MEMCACHED_SERVERS");
        return XC_USAGE;
    }
    int rc = mcf_set_servers(c, list);
    if (rc == MCF_OK)
        return 0;
    print_error(c, rc, o->servers ? "--servers" : "MEMCACHED_SERVERS", "");
    return rc == MCF_ERR_BAD_SPEC ? XC_USAGE : XC_ERROR;
}

static int run_command(const struct command *cmd, const struct options *o,
                       const struct meta *m, char **args, int nargs)
{
    struct run r = {NULL, o, cmd, m, 0};
    if (!cmd->needs_client)
        return cmd->fn(&r, args, nargs);
    r.c = mcf_new();
    if (r.c == NULL) {
        fprintf(stderr, "mcfast: %s\n", mcf_strerror(MCF_ERR_NOMEM));
        return XC_ERROR;
    }
    int code = apply_options(r.c, o);
    if (code == 0)
        code = set_servers(r.c, o);
    if (code == 0)
        code = cmd->fn(&r, args, nargs);
    mcf_free(r.c);
    return code;
}

int main(int argc, char **argv)
{
    struct options o;
    int code = parse_options(argc, argv, &o);
    if (code >= 0)
        return code;
    if (optind >= argc) {
        usage_error("no command");
        return XC_USAGE;
    }
    const struct command *cmd = find_command(argv[optind]);
    if (cmd == NULL) {
        usage_error("unknown command '%s'", argv[optind]);
        return XC_USAGE;
    }
    char **args = argv + optind + 1;
    int nargs = argc - optind - 1;
    struct meta m;
    memset(&m, 0, sizeof m);
    int used = parse_command_options(cmd, args, nargs, &m);
    if (used < 0)
        return XC_USAGE;
    args += used;
    nargs -= used;
    if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
        print_command_usage(cmd);
        return XC_USAGE;
    }
    if (misplaced_option(cmd, &m, args, nargs) != 0 ||
        check_command_options(cmd, &m, nargs, &o) != 0)
        return XC_USAGE;
    /* The _ex calls need meta commands: ask for them where the server has
     * them, and let a text-only server say why not. */
    if (m.given && o.protocol < 0)
        o.protocol = MCF_PROTO_AUTO;
    code = run_command(cmd, &o, &m, args, nargs);
    /* A full disk or closed pipe must not look like success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "mcfast: writing output: %s\n", strerror(errno));
        return XC_ERROR;
    }
    return code;
}
