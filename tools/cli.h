/* cli.h - what the mcfast CLI's files share: the run's options, the
 * command table's row, the command functions (tools/cmd_*.c), and the
 * helpers for options (cli_options.c, cli_cmdopts.c, cli_numbers.c), help
 * (cli_help.c) and output (cli_output.c).  tools/mcfast.c holds the command
 * table and main; a new command is one row there and one cmd_ function
 * here. */
#ifndef MCFAST_CLI_H
#define MCFAST_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mcfast.h"

/* Exit codes (XC_: names starting with E+capital are reserved for errno.h).
 * 64 is EX_USAGE from sysexits.h. */
enum { XC_OK = 0, XC_NEGATIVE = 1, XC_ERROR = 2, XC_USAGE = 64 };

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* ---- global options (before the command): cli_options.c ---- */

/* The numeric options that map one-to-one onto mcf_set_option
 * (cli_options.c's client_opts[] has this many rows). */
#define CLI_N_CLIENT_OPTS 5

struct options {
    const char *servers; /* NULL: take MEMCACHED_SERVERS */
    const char *discover; /* --discover: an ElastiCache configuration endpoint */
    int64_t ttl;
    uint32_t flags;
    const char *ns;
    int distribution; /* -1: library default */
    int hash;         /* -1: library default */
    int protocol;     /* -1: library default */
    int noreply;
    int verbose;
    int raw;   /* --raw: one key's value bytes exactly, no newline */
    int json;  /* --json: one JSON object per line (cli_json.c) */
    int quiet; /* -q: no stderr line for a miss or another negative answer */
    mcf_tls_options tls;
    int tls_given; /* any --tls* option */
    int given[CLI_N_CLIENT_OPTS];
    int64_t value[CLI_N_CLIENT_OPTS];
};

/* Returns -1 to run a command (optind at it), otherwise the exit code. */
int cli_parse_options(int argc, char **argv, struct options *o);
/* 1 and *value when the option was given on the command line. */
int cli_client_option(const struct options *o, mcf_option opt, int64_t *value);
/* The options onto a new client, then its servers: 0 or an exit code. */
int cli_setup_client(mcf_client *c, const struct options *o);

/* ---- commands ---- */

struct run;
typedef int (*cmd_fn)(struct run *r, char **args, int nargs);

/* struct command's flags. */
enum {
    CMD_CLIENT = 1u << 0, /* runs with a client and its servers */
    CMD_META = 1u << 1    /* needs meta commands: --protocol defaults to auto */
};

/* One row of the command table (tools/mcfast.c). */
struct command {
    const char *name;
    int mode; /* mcf_store_mode, mcf_get_mode or 0/1 for incr/decr */
    int min_args, max_args; /* max -1: unlimited */
    unsigned flags;         /* CMD_* */
    cmd_fn fn;
    const char *args;
    const char *help;
    unsigned copts; /* CO_*: the command options it takes */
};

extern const struct command cli_commands[];
extern const size_t cli_n_commands;

/* Command options: given after the command name, before its arguments
 * (`mcfast get --info KEY`).  Each maps onto mcf_meta_opts for the _ex
 * call (memcached's meta commands); see cli_cmdopts.c. */
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

/* cmd_keys.c */
int cmd_store(struct run *r, char **args, int nargs);
int cmd_cp(struct run *r, char **args, int nargs);
int cmd_arith(struct run *r, char **args, int nargs);
int cmd_delete(struct run *r, char **args, int nargs);
int cmd_touch(struct run *r, char **args, int nargs);
int cmd_flush(struct run *r, char **args, int nargs);
/* cmd_get.c */
int cmd_get(struct run *r, char **args, int nargs);
int cmd_exists(struct run *r, char **args, int nargs);
/* cmd_dump.c */
int cmd_dump(struct run *r, char **args, int nargs);
/* cmd_strerror.c */
int cmd_strerror(struct run *r, char **args, int nargs);
/* cmd_server.c */
int cmd_version(struct run *r, char **args, int nargs);
int cmd_stats(struct run *r, char **args, int nargs);
int cmd_fleet(struct run *r, char **args, int nargs); /* stats --fleet: cmd_fleet.c */
int cmd_ping(struct run *r, char **args, int nargs);
/* cmd_place.c */
int cmd_resolve(struct run *r, char **args, int nargs);
int cmd_server_for(struct run *r, char **args, int nargs);
int cmd_ring(struct run *r, char **args, int nargs);
int cmd_bench(struct run *r, char **args, int nargs); /* cmd_views.c */
int cmd_top(struct run *r, char **args, int nargs);

/* ---- number arguments: cli_numbers.c ---- */
/* Whole-string decimal parses: 0, or -1 for anything else. */
int cli_parse_i64(const char *s, int64_t *out);
int cli_parse_u64(const char *s, uint64_t *out);

/* ---- command options: cli_cmdopts.c ---- */

/* "[--info] [--touch TTL] ..." for the options in copts. */
void cli_format_copts(char *buf, size_t size, unsigned copts);
/* Whether arg (up to len bytes, e.g. before "=") names a command option. */
int cli_is_command_option(const char *arg, size_t len);
/* Parses cmd's options at the front of args: how many arguments were
 * used, or -1 after a usage error. */
int cli_parse_command_options(const struct command *cmd, char **args, int nargs,
                              struct meta *m);
/* The rules between the options and the arguments left: 0 or XC_USAGE. */
int cli_check_command_options(const struct command *cmd, struct meta *m, char **args,
                              int nargs, const struct options *o);

/* ---- help: cli_help.c ---- */

void cli_print_help(void);
void cli_print_command_usage(const struct command *cmd);

/* ---- output and messages: cli_output.c ---- */

void cli_usage_error(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Usage error for a bad number in a command argument: XC_USAGE. */
int cli_bad_number(const char *what, const char *s);
void cli_print_error(const mcf_client *c, int rc, const char *what, const char *detail);
/* A result as the exit code, saying on stderr why it is not 0 (a
 * negative answer not with -q).  An error about a KEY (detail) names its
 * server when the library's message does not. */
int cli_report(const struct run *r, int rc, const char *detail);
/* cli_report for a command whose success prints nothing: with --json
 * first {"key":KEY,"status":...} (no "key" when key is ""). */
int cli_outcome(const struct run *r, int rc, const char *key);
/* Only the --json object of cli_outcome (when --json is on). */
void cli_json_status(const struct run *r, int rc, const char *key);
/* One KEY's rc from a multi-key call (mcf_multi, mcf_get_multi; -1: no
 * answer): the --json object and the stderr line, naming the key's server
 * for an error; returns the exit code for it. */
int cli_item_result(const struct run *r, int rc, const char *key);
/* "ok", "miss", "not_stored", "exists", "not_found" or "error". */
const char *cli_status_name(int rc);
/* The message for rc: the client's last error, else mcf_strerror. */
const char *cli_error_text(const mcf_client *c, int rc);
/* cli_report for an _ex call (a note on MCF_ERR_NOT_SUPPORTED). */
int cli_report_meta(struct run *r, int rc, const char *detail);
/* The configured spec of server i, for output and messages. */
const char *cli_server_spec(const mcf_client *c, size_t i);
void cli_print_server_error(const mcf_client *c, int rc, const char *what, size_t i);
static inline int cli_worse(int a, int b)
{
    return a > b ? a : b;
}

/* A value from the command line or, for "-", all of stdin. */
struct input {
    const char *data;
    size_t len;
    char *owned;
};
/* 0, or XC_ERROR after a message. */
int cli_get_input(const char *arg, struct input *in);
/* All of f into a new buffer: 0, or -1 (errno set). */
int cli_read_all(FILE *f, struct input *in);

/* ---- --json: cli_json.c ---- */

/* An object being written to stdout: cli_jbegin, fields, cli_jend (which
 * ends the line). */
struct jobj {
    int n; /* fields so far */
};
void cli_jbegin(struct jobj *j);
void cli_jend(struct jobj *j);
void cli_jstr(struct jobj *j, const char *name, const char *s);
void cli_jstrn(struct jobj *j, const char *name, const char *s, size_t n);
/* A value: "name":"text" when s is UTF-8, else "name_base64":"...". */
void cli_jbytes(struct jobj *j, const char *name, const char *s, size_t n);
void cli_ji64(struct jobj *j, const char *name, int64_t v);
void cli_ju64(struct jobj *j, const char *name, uint64_t v);
void cli_jdouble(struct jobj *j, const char *name, double v);
void cli_jbool(struct jobj *j, const char *name, int v);
/* "name":{ ... cli_jclose(inner) */
void cli_jobject(struct jobj *j, const char *name, struct jobj *inner);
void cli_jclose(struct jobj *inner);
int cli_utf8_valid(const char *s, size_t n);

#endif
