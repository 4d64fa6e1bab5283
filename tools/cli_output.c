/* cli_output.c - the CLI's messages and exit codes: usage errors, errors
 * naming the server, the result-to-exit-code mapping; reading a value
 * from the command line or stdin. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("mcfast: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'mcfast --help'.\n", stderr);
}

/* Usage error for a bad number in a command argument. */
int cli_bad_number(const char *what, const char *s)
{
    fprintf(stderr, "mcfast: %s: '%s' is not a valid number\nTry 'mcfast --help'.\n",
            what, s);
    return XC_USAGE;
}

/* Prints an error: the client's message names server, address and cause;
 * mcf_strerror is the fallback when the failure happened before any
 * server was involved. */
const char *cli_error_text(const mcf_client *c, int rc)
{
    const char *msg = c ? mcf_last_error(c) : "";
    return msg == NULL || *msg == '\0' ? mcf_strerror(rc) : msg;
}

void cli_print_error(const mcf_client *c, int rc, const char *what, const char *detail)
{
    const char *msg = cli_error_text(c, rc);
    if (detail && *detail)
        fprintf(stderr, "mcfast: %s %s: %s\n", what, detail, msg);
    else
        fprintf(stderr, "mcfast: %s: %s\n", what, msg);
}

/* Maps a result to the exit code and says on stderr why it is not 0. */
int cli_report(const struct run *r, int rc, const char *detail)
{
    if (rc == MCF_OK)
        return XC_OK;
    if (!mcf_is_error(rc)) {
        if (!r->o->quiet)
            fprintf(stderr, "mcfast: %s%s%s: %s\n", r->cmd->name, *detail ? " " : "", detail,
                    mcf_strerror(rc));
        return XC_NEGATIVE;
    }
    if (rc == MCF_ERR_TOO_LARGE && !r->o->quiet)
        fprintf(stderr, "mcfast: note: --max-value-size BYTES raises the client's limit "
                        "(memcached's -I must allow the size too)\n");
    /* A KEY's error names its server: the library's message mostly does
     * ("server S (address): ..."); a check before sending (value too
     * large, say) does not. */
    const char *msg = cli_error_text(r->c, rc);
    size_t srv;
    if (*detail && r->c && mcf_server_for_key(r->c, detail, strlen(detail), &srv) == MCF_OK &&
        strstr(msg, cli_server_spec(r->c, srv)) == NULL) {
        fprintf(stderr, "mcfast: %s %s: server %s: %s\n", r->cmd->name, detail,
                cli_server_spec(r->c, srv), msg);
        return XC_ERROR;
    }
    cli_print_error(r->c, rc, r->cmd->name, detail);
    return XC_ERROR;
}

const char *cli_status_name(int rc)
{
    switch (rc) {
    case MCF_OK: return "ok";
    case MCF_MISS: return "miss";
    case MCF_NOT_STORED: return "not_stored";
    case MCF_EXISTS: return "exists";
    case MCF_NOT_FOUND: return "not_found";
    default: return "error";
    }
}

static void json_status(const struct run *r, int rc, const char *key, const char *error)
{
    struct jobj j;
    cli_jbegin(&j);
    if (*key)
        cli_jbytes(&j, "key", key, strlen(key));
    cli_jstr(&j, "status", cli_status_name(rc));
    if (mcf_is_error(rc))
        cli_jstr(&j, "error", error ? error : cli_error_text(r->c, rc));
    cli_jend(&j);
}

void cli_json_status(const struct run *r, int rc, const char *key)
{
    if (r->o->json)
        json_status(r, rc, key, NULL);
}

int cli_outcome(const struct run *r, int rc, const char *key)
{
    cli_json_status(r, rc, key);
    return cli_report(r, rc, key);
}

int cli_item_result(const struct run *r, int rc, const char *key)
{
    char msg[512];
    size_t srv;
    if (rc < 0)
        snprintf(msg, sizeof msg, "no answer");
    else if (mcf_is_error(rc) &&
             mcf_server_for_key(r->c, key, strlen(key), &srv) == MCF_OK)
        snprintf(msg, sizeof msg, "server %s: %s", cli_server_spec(r->c, srv),
                 mcf_strerror(rc));
    else
        snprintf(msg, sizeof msg, "%s", mcf_strerror(rc));
    if (r->o->json)
        json_status(r, rc < 0 ? MCF_ERR_IO : rc, key, msg);
    if (rc == MCF_OK)
        return XC_OK;
    int code = rc < 0 || mcf_is_error(rc) ? XC_ERROR : XC_NEGATIVE;
    if (code == XC_ERROR || !r->o->quiet)
        fprintf(stderr, "mcfast: %s %s: %s\n", r->cmd->name, key, msg);
    return code;
}

/* cli_report() for an _ex call.  MCF_ERR_NOT_SUPPORTED gets a note in the
 * CLI's terms, once per run: the library's message names the server and
 * what it lacks, not the option that asked for it. */
int cli_report_meta(struct run *r, int rc, const char *detail)
{
    int code = cli_report(r, rc, detail);
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

int cli_read_all(FILE *f, struct input *in)
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

int cli_get_input(const char *arg, struct input *in)
{
    in->owned = NULL;
    if (strcmp(arg, "-") != 0) {
        in->data = arg;
        in->len = strlen(arg);
        return 0;
    }
    if (cli_read_all(stdin, in) != 0) {
        fprintf(stderr, "mcfast: reading the value from stdin: %s\n", strerror(errno));
        return XC_ERROR;
    }
    return 0;
}

/* The configured spec of server i, for output and messages. */
const char *cli_server_spec(const mcf_client *c, size_t i)
{
    mcf_server_info info;
    if (mcf_server_info_get(c, i, &info) != MCF_OK || info.spec == NULL)
        return "?";
    return info.spec;
}

/* For per-server commands: the library's message mostly names the
 * server; the spec is added when it does not. */
void cli_print_server_error(const mcf_client *c, int rc, const char *what, size_t i)
{
    const char *msg = cli_error_text(c, rc), *spec = cli_server_spec(c, i);
    if (strstr(msg, spec) != NULL)
        fprintf(stderr, "mcfast: %s: %s\n", what, msg);
    else
        fprintf(stderr, "mcfast: %s: server %s: %s\n", what, spec, msg);
}

