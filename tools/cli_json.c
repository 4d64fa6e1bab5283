/* cli_json.c - `--json` output: one JSON object per line (RFC 8259),
 * written field by field to stdout.  Values that are not valid UTF-8 go
 * out base64-encoded (RFC 4648) under "<name>_base64", since a JSON
 * string holds Unicode text, not bytes. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void sep(struct jobj *j)
{
    if (j->n++)
        putchar(',');
}

/* One string with JSON's escapes: the two that must be (quote, backslash),
 * control characters as \uXXXX, everything else as is. */
static void put_string(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", stdout);
        else if (ch < 0x20 || ch == 0x7f)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, at
 * most U+10FFFF. */
int cli_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p++;
        size_t more;
        unsigned min, cp;
        if (c < 0x80)
            continue;
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1, min = 0x80, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2, min = 0x800, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return 0;
        }
        if ((size_t)(end - p) < more)
            return 0;
        for (size_t k = 0; k < more; k++) {
            if ((p[k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        p += more;
    }
    return 1;
}

static void put_base64(const unsigned char *p, size_t n)
{
    static const char b64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    putchar('"');
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        putchar(b64[v >> 18 & 63]);
        putchar(b64[v >> 12 & 63]);
        putchar(i + 1 < n ? b64[v >> 6 & 63] : '=');
        putchar(i + 2 < n ? b64[v & 63] : '=');
    }
    putchar('"');
}

void cli_jbegin(struct jobj *j)
{
    j->n = 0;
    putchar('{');
}

void cli_jend(struct jobj *j)
{
    (void)j;
    fputs("}\n", stdout);
}

void cli_jstr(struct jobj *j, const char *name, const char *s)
{
    cli_jstrn(j, name, s, strlen(s));
}

void cli_jstrn(struct jobj *j, const char *name, const char *s, size_t n)
{
    sep(j);
    put_string(name, strlen(name));
    putchar(':');
    put_string(s, n);
}

void cli_jbytes(struct jobj *j, const char *name, const char *s, size_t n)
{
    if (cli_utf8_valid(s, n)) {
        cli_jstrn(j, name, s, n);
        return;
    }
    sep(j);
    printf("\"%s_base64\":", name);
    put_base64((const unsigned char *)s, n);
}

void cli_ji64(struct jobj *j, const char *name, int64_t v)
{
    sep(j);
    put_string(name, strlen(name));
    printf(":%" PRId64, v);
}

void cli_ju64(struct jobj *j, const char *name, uint64_t v)
{
    sep(j);
    put_string(name, strlen(name));
    printf(":%" PRIu64, v);
}

void cli_jdouble(struct jobj *j, const char *name, double v)
{
    sep(j);
    put_string(name, strlen(name));
    printf(":%.3f", v);
}

void cli_jbool(struct jobj *j, const char *name, int v)
{
    sep(j);
    put_string(name, strlen(name));
    fputs(v ? ":true" : ":false", stdout);
}

void cli_jobject(struct jobj *j, const char *name, struct jobj *inner)
{
    sep(j);
    put_string(name, strlen(name));
    putchar(':');
    cli_jbegin(inner);
}

void cli_jclose(struct jobj *inner)
{
    (void)inner;
    putchar('}');
}
