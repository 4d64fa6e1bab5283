/* cli_options.c - the global options (before the command): getopt_long,
 * their checks, and putting them onto a client with its server list. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dist.h"
#include "hash.h"

enum {
    OPT_SERVERS = 256,
    OPT_DISCOVER,
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
    OPT_TLS_INSECURE,
    OPT_MAX_VALUE_SIZE,
    OPT_RAW,
    OPT_JSON
};

static const struct option long_options[] = {
    {"servers", required_argument, NULL, OPT_SERVERS},
    {"discover", required_argument, NULL, OPT_DISCOVER},
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
    {"max-value-size", required_argument, NULL, OPT_MAX_VALUE_SIZE},
    {"raw", no_argument, NULL, OPT_RAW},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, 'q'},
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
    {OPT_MAX_VALUE_SIZE, MCF_OPT_MAX_VALUE_SIZE, "--max-value-size"},
};
#define N_CLIENT_OPTS (sizeof client_opts / sizeof client_opts[0])

_Static_assert(N_CLIENT_OPTS == CLI_N_CLIENT_OPTS, "cli.h sizes struct options by it");

static int set_client_opt(struct options *o, int code, const char *arg)
{
    for (size_t i = 0; i < N_CLIENT_OPTS; i++) {
        if (client_opts[i].code != code)
            continue;
        if (cli_parse_i64(arg, &o->value[i]) != 0)
            return cli_bad_number(client_opts[i].name, arg);
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
    cli_usage_error("--distribution: '%s' is not modula, ketama, libmemcached, "
                    "ketama-libmemcached, ketama-libmemcached-unweighted, pymemcache, "
                    "nutcracker or nutcracker-modula",
                    arg);
    return XC_USAGE;
}

static int set_hash(struct options *o, const char *arg)
{
    o->hash = mcf_hash_by_name(arg);
    if (o->hash >= 0)
        return 0;
    cli_usage_error("--hash: '%s' is not default, one_at_a_time, md5, crc, fnv1_64, fnv1a_64, "
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
        cli_usage_error("--protocol: '%s' is not text, meta or auto", arg);
        return XC_USAGE;
    }
    return 0;
}

static int set_flags(struct options *o, const char *arg)
{
    uint64_t v;
    if (cli_parse_u64(arg, &v) != 0 || v > UINT32_MAX)
        return cli_bad_number("--flags", arg);
    /* The library reads this bit back as "zlib-compressed": a value stored
     * with it set by hand could never be fetched again. */
    if (v & MCF_FLAG_COMPRESSED) {
        cli_usage_error("--flags: bit 0x%x is reserved for compressed values", MCF_FLAG_COMPRESSED);
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
    if (c == '?' && cli_is_command_option(arg, len)) {
        cli_usage_error("'%.*s' is a command option: it goes after the command name "
                        "(mcfast [OPTIONS] COMMAND %.*s ...)",
                        (int)len, arg, (int)len, arg);
        return XC_USAGE;
    }
    if (c == ':')
        cli_usage_error("option '%s' needs a value", arg);
    else if (optopt && optopt < 256 && arg[0] == '-' && arg[1] != '-')
        fprintf(stderr, "mcfast: unknown option '-%c'\nTry 'mcfast --help'.\n", optopt);
    else
        cli_usage_error("unknown or ambiguous option '%s'", arg);
    return XC_USAGE;
}

/* One option; returns 0 to go on, or an exit code (-h and --version
 * end the run successfully: XC_OK is 0, so they return -1). */
static int handle_option(struct options *o, int c, char **argv)
{
    switch (c) {
    case 'h': cli_print_help(); return -1;
    case OPT_VERSION: printf("mcfast %s\n", MCF_VERSION_STRING); return -1;
    case 'v': o->verbose = 1; return 0;
    case 'q': o->quiet = 1; return 0;
    case OPT_RAW: o->raw = 1; return 0;
    case OPT_JSON: o->json = 1; return 0;
    case OPT_NOREPLY: o->noreply = 1; return 0;
    case OPT_SERVERS: o->servers = optarg; return 0;
    case OPT_DISCOVER: o->discover = optarg; return 0;
    case OPT_NAMESPACE: o->ns = optarg; return 0;
    case OPT_FLAGS: return set_flags(o, optarg);
    case OPT_DISTRIBUTION: return set_distribution(o, optarg);
    case OPT_HASH: return set_hash(o, optarg);
    case OPT_PROTOCOL: return set_protocol(o, optarg);
    case OPT_TTL: return cli_parse_i64(optarg, &o->ttl) ? cli_bad_number("--ttl", optarg) : 0;
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
int cli_parse_options(int argc, char **argv, struct options *o)
{
    int c;
    memset(o, 0, sizeof *o);
    o->distribution = -1;
    o->hash = -1;
    o->protocol = -1;
    opterr = 0;
    /* "+": stop at the command, so a VALUE such as "-5" is never taken
     * for an option; ":": report a missing value apart from a bad option. */
    while ((c = getopt_long(argc, argv, "+:hvq", long_options, NULL)) != -1) {
        int rc = handle_option(o, c, argv);
        if (rc == -1)
            return XC_OK;
        if (rc != 0)
            return rc;
    }
    /* --raw is the bytes alone; --json and -v frame them. */
    if (o->raw && (o->json || o->verbose)) {
        cli_usage_error("--raw does not go with %s", o->json ? "--json" : "-v");
        return XC_USAGE;
    }
    return -1;
}

static int apply_options(mcf_client *c, const struct options *o)
{
    for (size_t i = 0; i < N_CLIENT_OPTS; i++) {
        if (o->given[i] && mcf_set_option(c, client_opts[i].opt, o->value[i]) != MCF_OK) {
            cli_usage_error("%s: value out of range", client_opts[i].name);
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
            cli_print_error(c, rc, "options", "");
            return rc == MCF_ERR_ARG ? XC_USAGE : XC_ERROR;
        }
    }
    if (rc != MCF_OK) {
        cli_print_error(c, rc, "options", "");
        return XC_USAGE;
    }
    return 0;
}

/* --discover: the list from an ElastiCache configuration endpoint, waited
 * for once (a command runs once: there is no later poll to wait for). */
static int discover_servers(mcf_client *c, const struct options *o)
{
    int rc = mcf_set_discovery(c, o->discover, 0);
    if (rc == MCF_OK)
        rc = mcf_discover_now(c);
    if (rc == MCF_OK)
        return 0;
    cli_print_error(c, rc, "--discover", "");
    return rc == MCF_ERR_BAD_SPEC ? XC_USAGE : XC_ERROR;
}

static int set_servers(mcf_client *c, const struct options *o)
{
    if (o->discover) {
        if (o->servers) {
            cli_usage_error("--discover and --servers: one or the other");
            return XC_USAGE;
        }
        return discover_servers(c, o);
    }
    const char *list = o->servers;
    if (list == NULL) {
        list = getenv("MEMCACHED_SERVERS");
        if (list != NULL && *list == '\0')
            list = NULL;
    }
    if (list == NULL) {
        cli_usage_error("no servers: use --servers or set MEMCACHED_SERVERS");
        return XC_USAGE;
    }
    int rc = mcf_set_servers(c, list);
    if (rc == MCF_OK)
        return 0;
    cli_print_error(c, rc, o->servers ? "--servers" : "MEMCACHED_SERVERS", "");
    return rc == MCF_ERR_BAD_SPEC ? XC_USAGE : XC_ERROR;
}

int cli_setup_client(mcf_client *c, const struct options *o)
{
    int code = apply_options(c, o);
    return code != 0 ? code : set_servers(c, o);
}

int cli_client_option(const struct options *o, mcf_option opt, int64_t *value)
{
    for (size_t i = 0; i < N_CLIENT_OPTS; i++)
        if (client_opts[i].opt == opt && o->given[i]) {
            *value = o->value[i];
            return 1;
        }
    return 0;
}
