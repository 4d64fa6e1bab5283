/* cli_cmdopts.c - command options (after the command name, before its
 * arguments: `mcfast get --info KEY`), mapped onto mcf_meta_opts for the
 * library's _ex calls (memcached's meta commands). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
void cli_format_copts(char *buf, size_t size, unsigned copts)
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

static const struct command_option *find_command_option(const char *arg, size_t len)
{
    for (size_t i = 0; i < N_COMMAND_OPTIONS; i++)
        if (strlen(command_options[i].name) == len &&
            strncmp(arg, command_options[i].name, len) == 0)
            return &command_options[i];
    return NULL;
}

int cli_is_command_option(const char *arg, size_t len)
{
    return find_command_option(arg, len) != NULL;
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
        if (cli_parse_i64(val, &i64) != 0)
            return cli_bad_number(what, val);
        memcpy(field, &i64, sizeof i64);
    } else {
        if (cli_parse_u64(val, &u64) != 0)
            return cli_bad_number(what, val);
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
        cli_usage_error("%s: unknown option '%.*s' (a KEY that starts with \"--\" goes after "
                        "\"--\")",
                        cmd->name, (int)len, arg);
        return XC_USAGE;
    }
    if (!(cmd->copts & co->bit)) {
        cli_format_copts(list, sizeof list, cmd->copts);
        cli_usage_error("%s: %s is not an option of %s (it takes %s)", cmd->name, co->name,
                        cmd->name, list);
        return XC_USAGE;
    }
    if (co->arg == CO_ARG_NONE && eq) {
        cli_usage_error("%s: option '%s' takes no value", cmd->name, co->name);
        return XC_USAGE;
    }
    if (co->arg != CO_ARG_NONE) {
        const char *val = eq ? eq + 1 : *i < nargs ? args[(*i)++] : NULL;
        if (val == NULL) {
            cli_usage_error("%s: option '%s' needs a value", cmd->name, co->name);
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
int cli_parse_command_options(const struct command *cmd, char **args, int nargs,
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
            cli_usage_error("%s: option %s after an argument: options go right after the "
                            "command name (\"--\" first makes it an argument)",
                            cmd->name, co->name);
            return XC_USAGE;
        }
    }
    return 0;
}

/* Rules between options and arguments; the MCF_META_GET_* flags --info
 * stands for.  Returns 0 or XC_USAGE (message printed). */
static int check_rules(const struct command *cmd, struct meta *m, int nargs,
                       const struct options *o)
{
    if (m->given == 0)
        return 0;
    if ((m->given & CO_INITIAL) && !(m->given & CO_VIVIFY)) {
        cli_usage_error("%s: --initial needs --vivify", cmd->name);
        return XC_USAGE;
    }
    if (cmd->fn == cmd_delete && (m->given & CO_TOUCH) && !(m->given & CO_INVALIDATE)) {
        cli_usage_error("delete: --touch needs --invalidate");
        return XC_USAGE;
    }
    if (cmd->fn == cmd_delete && (m->given & CO_CAS) && nargs > 1) {
        cli_usage_error("delete: --cas takes one KEY");
        return XC_USAGE;
    }
    if (o->noreply) {
        cli_usage_error("%s: --noreply does not go with command options (%s): their calls "
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

int cli_check_command_options(const struct command *cmd, struct meta *m, char **args,
                              int nargs, const struct options *o)
{
    if (misplaced_option(cmd, m, args, nargs) != 0)
        return XC_USAGE;
    return check_rules(cmd, m, nargs, o);
}
