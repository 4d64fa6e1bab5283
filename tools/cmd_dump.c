/* cmd_dump.c - `dump [--pattern GLOB]`: every item of every server, by
 * memcached's "lru_crawler metadump hash" (mcf_metadump), printed as the
 * lines arrive, one server after the other. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* memcached runs one crawl at a time, its own background ones included,
 * and answers BUSY meanwhile: a few tries, a pause apart, before that is
 * an error.  Nothing was listed by a BUSY answer, so a retry repeats no
 * line. */
#define DUMP_BUSY_TRIES 5
#define DUMP_BUSY_PAUSE_NS 200000000L /* 0.2 s */

struct dump_ctx {
    const struct run *r;
    const char *spec;
    const char *pattern; /* NULL: every key */
    size_t shown;
};

/* The value of field NAME ("exp") in a metadump line, up to the next space. */
static const char *field(const char *line, size_t len, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i + nl + 1 <= len;) {
        size_t end = i;
        while (end < len && line[end] != ' ')
            end++;
        if (end - i > nl && memcmp(line + i, name, nl) == 0 && line[i + nl] == '=') {
            *vlen = end - i - nl - 1;
            return line + i + nl + 1;
        }
        i = end + 1;
    }
    return NULL;
}

static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* memcached writes the key URL-encoded (%XX for every byte but letters,
 * digits and "-._~": its uriencode table).  Returns the decoded length. */
static size_t url_decode(char *out, const char *in, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (in[i] == '%' && i + 2 < len &&
            (hi = hex(in[i + 1])) >= 0 && (lo = hex(in[i + 2])) >= 0) {
            out[n++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[n++] = in[i];
        }
    }
    out[n] = '\0';
    return n;
}

static void on_line(void *ctx, const char *line, size_t len)
{
    struct dump_ctx *d = ctx;
    size_t kl, el = 0, sl = 0;
    const char *k = field(line, len, "key", &kl);
    const char *exp = field(line, len, "exp", &el);
    const char *size = field(line, len, "size", &sl);
    char key[MCF_MAX_KEY_LEN * 3 + 1];
    if (k == NULL || kl >= sizeof key)
        return; /* not an item line memcached documents */
    size_t n = url_decode(key, k, kl);
    /* A key with a NUL byte (meta protocol, binary) cannot match a glob. */
    if (d->pattern && (strlen(key) != n || fnmatch(d->pattern, key, 0) != 0))
        return;
    d->shown++;
    if (d->r->o->json) {
        struct jobj j;
        cli_jbegin(&j);
        cli_jbytes(&j, "key", key, n);
        cli_ji64(&j, "exp", exp ? strtoll(exp, NULL, 10) : 0);
        cli_ju64(&j, "size", size ? strtoull(size, NULL, 10) : 0);
        cli_jstr(&j, "server", d->spec);
        cli_jend(&j);
        return;
    }
    fwrite(key, 1, n, stdout);
    printf(" %.*s %.*s %s\n", (int)el, exp ? exp : "", (int)sl, size ? size : "", d->spec);
}

int cmd_dump(struct run *r, char **args, int nargs)
{
    const char *pattern = NULL;
    if (nargs == 1 && strncmp(args[0], "--pattern=", 10) == 0)
        pattern = args[0] + 10;
    else if (nargs == 2 && strcmp(args[0], "--pattern") == 0)
        pattern = args[1];
    else if (nargs != 0) {
        cli_print_command_usage(r->cmd);
        return XC_USAGE;
    }
    int code = XC_OK;
    for (size_t i = 0; i < mcf_server_count(r->c); i++) {
        struct dump_ctx d = {r, cli_server_spec(r->c, i), pattern, 0};
        int rc = mcf_metadump(r->c, i, on_line, &d);
        for (int t = 1; t < DUMP_BUSY_TRIES && rc == MCF_ERR_SERVER && d.shown == 0 &&
                        strstr(cli_error_text(r->c, rc), "BUSY") != NULL;
             t++) {
            struct timespec pause = {0, DUMP_BUSY_PAUSE_NS};
            nanosleep(&pause, NULL);
            rc = mcf_metadump(r->c, i, on_line, &d);
        }
        if (rc != MCF_OK) {
            cli_print_server_error(r->c, rc, "dump", i);
            if (rc == MCF_ERR_SERVER || rc == MCF_ERR_CLIENT)
                fprintf(stderr, "mcfast: dump: server %s cannot dump its keys: it needs "
                                "lru_crawler metadump hash (memcached >= 1.6.9, without -X, "
                                "with the LRU crawler on)\n",
                        d.spec);
            code = XC_ERROR;
        }
        /* streamed: each server's lines out before the next is asked */
        fflush(stdout);
    }
    return code;
}
