/* test_spec.c - server spec and spec list parsing (src/spec.c). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mcfast.h"
#include "spec.h"

typedef struct good_case {
    const char *in;
    const char *text;
    const char *host; /* NULL for unix */
    unsigned port;
    int port_written;
    unsigned weight;
    const char *path; /* NULL for TCP */
} good_case;

static const good_case good[] = {
    {"mc1:11212", "mc1:11212", "mc1", 11212, 1, 1, NULL},
    {"mc1", "mc1", "mc1", 11211, 0, 1, NULL},
    {"1.2.3.4:5", "1.2.3.4:5", "1.2.3.4", 5, 1, 1, NULL},
    {"127.0.0.1", "127.0.0.1", "127.0.0.1", 11211, 0, 1, NULL},
    {"[::1]:11212", "[::1]:11212", "::1", 11212, 1, 1, NULL},
    {"[::1]", "[::1]", "::1", 11211, 0, 1, NULL},
    {"[fe80::1%eth0]:11211", "[fe80::1%eth0]:11211", "fe80::1%eth0", 11211, 1, 1, NULL},
    {"[fe80::1%2]:1", "[fe80::1%2]:1", "fe80::1%2", 1, 1, 1, NULL},
    {"::1", "::1", "::1", 11211, 0, 1, NULL},
    {"2001:db8::1", "2001:db8::1", "2001:db8::1", 11211, 0, 1, NULL},
    {"1::2:5", "1::2:5", "1::2:5", 11211, 0, 1, NULL}, /* valid v6: never host:port:weight */
    {"fe80::1%lo", "fe80::1%lo", "fe80::1%lo", 11211, 0, 1, NULL},
    {"::ffff:127.0.0.1", "::ffff:127.0.0.1", "::ffff:127.0.0.1", 11211, 0, 1, NULL},
    {"host:11211:3", "host:11211", "host", 11211, 1, 3, NULL},
    {"[::1]:11212:5", "[::1]:11212", "::1", 11212, 1, 5, NULL},
    {"[2001:db8::7]:65535:1000000", "[2001:db8::7]:65535", "2001:db8::7", 65535, 1, 1000000,
     NULL},
    {"localhost:65535", "localhost:65535", "localhost", 65535, 1, 1, NULL},
    {"LocalHost.", "LocalHost.", "LocalHost.", 11211, 0, 1, NULL}, /* case kept */
    {"  mc1:1 \t", "mc1:1", "mc1", 1, 1, 1, NULL},
    {"my_host-1.Example.COM:80", "my_host-1.Example.COM:80", "my_host-1.Example.COM", 80, 1,
     1, NULL},
    {"host:011211", "host:011211", "host", 11211, 1, 1, NULL},
    {"unix:11211", "unix:11211", "unix", 11211, 1, 1, NULL}, /* a host named unix */
    {"/tmp/mc.sock", "/tmp/mc.sock", NULL, 0, 0, 1, "/tmp/mc.sock"},
    {"unix:/tmp/mc.sock", "unix:/tmp/mc.sock", NULL, 0, 0, 1, "/tmp/mc.sock"},
    {"/tmp/mc.sock:7", "/tmp/mc.sock", NULL, 0, 0, 7, "/tmp/mc.sock"},
    {"unix:/tmp/mc.sock:2", "unix:/tmp/mc.sock", NULL, 0, 0, 2, "/tmp/mc.sock"},
    {"unix:/tmp/a:b.sock", "unix:/tmp/a:b.sock", NULL, 0, 0, 1, "/tmp/a:b.sock"},
    {"/tmp/a:b:3", "/tmp/a:b", NULL, 0, 0, 3, "/tmp/a:b"},
    {"/tmp/x:", "/tmp/x:", NULL, 0, 0, 1, "/tmp/x:"},
    {"tls:mc1:11212", "tls:mc1:11212", "mc1", 11212, 1, 1, NULL},
    {"tls:[::1]:5:2", "tls:[::1]:5", "::1", 5, 1, 2, NULL},
    {"tls:127.0.0.1", "tls:127.0.0.1", "127.0.0.1", 11211, 0, 1, NULL},
    {"tls:::1", "tls:::1", "::1", 11211, 0, 1, NULL},
    {" tls:mc1:1 ", "tls:mc1:1", "mc1", 1, 1, 1, NULL},
    {"tls:11211", "tls:11211", "tls", 11211, 1, 1, NULL},     /* a host named tls */
    {"tls:11211:3", "tls:11211", "tls", 11211, 1, 3, NULL},
};

typedef struct bad_case {
    const char *in;
    const char *why; /* a substring of the message */
} bad_case;

static const bad_case bad[] = {
    {"[::1", "missing ']'"},
    {"[::1:11211", "missing ']'"},
    {"host:99999", "out of range"},
    {"host:65536", "out of range"},
    {"host:0", "out of range"},
    {"host:123456789012345678901234567890", "out of range"},
    {"host:port:extra:junk", "neither host:port:weight"},
    {"host:11211:1:2", "neither host:port:weight"},
    {"::1:11212", "[addr]:port"},
    {"fe80::1%eth0:11211", "[addr]:port"},
    {"", "empty server spec"},
    {"   ", "empty server spec"},
    {":11211", "empty host"},
    {"[]:11211", "empty host"},
    {"[::1]x", "after ']'"},
    {"[::1]]:80", "after ']'"},
    {"[::1]11211", "after ']'"},
    {"[::1]:", "empty port"},
    {"host:", "empty port"},
    {"[::1]:11211:", "empty weight"},
    {"[::1]:11211:0", "out of range"},
    {"host:11211:0", "out of range"},
    {"host:11211:99999999999", "out of range"},
    {"host:11211:x", "not a decimal"},
    {"/tmp/mc.sock:0", "out of range"},
    {"host:abc", "not a decimal"},
    {"host:-1", "not a decimal"},
    {"host:+80", "not a decimal"},
    {"host:0x50", "not a decimal"},
    {"[127.0.0.1]:80", "not an IPv6 address"},
    {"[mc1]:80", "not an IPv6 address"},
    {"[fe80::1%]:80", "not an IPv6 address"},
    {"[fe80::1%waytoolonginterfacename]:80", "not an IPv6 address"},
    {"[[::1]]:80", "misplaced '['"},
    {"host name:1", "blank or control"},
    {"host,b:1", "invalid character ','"},
    {"host%eth0:80", "invalid character '%'"},
    {"ho]st:80", "misplaced ']'"},
    {"unix:", "empty unix socket path"},
    {"unix:relative.sock", "must be absolute"},
    {"mc::5", "empty port"},
    {"tls:/tmp/mc.sock", "TLS over a unix socket"},
    {"tls:unix:/tmp/mc.sock", "TLS over a unix socket"},
    {"tls:host:99999", "out of range"},
    {"tls:", "empty port"},
};

TEST(good_specs)
{
    size_t i;
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        const good_case *g = &good[i];
        mcf_spec sp;
        char err[256] = "";
        int rc = mcf_spec_parse(g->in, strlen(g->in), &sp, err, sizeof err);
        CHECKF(rc == 0, "'%s': rc %d: %s", g->in, rc, err);
        if (rc)
            continue;
        CHECKF(strcmp(sp.text, g->text) == 0, "'%s': text '%s', want '%s'", g->in, sp.text,
               g->text);
        CHECKF(sp.weight == g->weight, "'%s': weight %u, want %u", g->in, sp.weight,
               g->weight);
        if (g->path) {
            CHECKF(sp.is_unix, "'%s': not unix", g->in);
            CHECKF(strcmp(sp.path, g->path) == 0, "'%s': path '%s', want '%s'", g->in,
                   sp.path, g->path);
        } else {
            CHECKF(!sp.is_unix, "'%s': parsed as unix", g->in);
            CHECKF(strcmp(sp.host, g->host) == 0, "'%s': host '%s', want '%s'", g->in,
                   sp.host, g->host);
            CHECKF(sp.port == g->port, "'%s': port %u, want %u", g->in, (unsigned)sp.port,
                   g->port);
            CHECKF(sp.port_written == g->port_written, "'%s': port_written %d", g->in,
                   sp.port_written);
        }
    }
}

TEST(bad_specs)
{
    size_t i;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const bad_case *b = &bad[i];
        mcf_spec sp;
        char err[512] = "";
        char quoted[300];
        int rc = mcf_spec_parse(b->in, strlen(b->in), &sp, err, sizeof err);
        CHECKF(rc == MCF_ERR_BAD_SPEC, "'%s': rc %d, want MCF_ERR_BAD_SPEC", b->in, rc);
        CHECKF(strstr(err, b->why) != NULL, "'%s': message '%s' lacks '%s'", b->in, err,
               b->why);
        /* The message names the spec (trimmed) so the operator finds it. */
        {
            const char *s = b->in;
            size_t n = strlen(s);
            while (*s == ' ')
                s++, n--;
            while (n > 0 && s[n - 1] == ' ')
                n--;
            snprintf(quoted, sizeof quoted, "bad server spec '%.*s'", (int)n, s);
        }
        CHECKF(strncmp(err, quoted, strlen(quoted)) == 0, "'%s': message '%s'", b->in, err);
    }
}

/* "tls:" marks the server for TLS and nothing else: host, port, weight
 * (and so key placement) are those of the spec without it. */
TEST(tls_prefix)
{
    static const struct {
        const char *in;
        int tls;
    } cases[] = {{"tls:mc1:11212", 1}, {"tls:[::1]", 1}, {"mc1:11212", 0},
                 {"tls:11211", 0},     {"TLS:mc1:1", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mcf_spec sp;
        char err[256] = "";
        int rc = mcf_spec_parse(cases[i].in, strlen(cases[i].in), &sp, err, sizeof err);
        CHECKF(rc == 0 || cases[i].tls == 0, "'%s': rc %d: %s", cases[i].in, rc, err);
        CHECKF(rc != 0 || sp.tls == cases[i].tls, "'%s': tls %d, want %d", cases[i].in, sp.tls,
               cases[i].tls);
    }
}

TEST(unix_path_length)
{
    /* sun_path holds 108 bytes on Linux: 107 characters and the NUL. */
    size_t max = sizeof(((mcf_spec *)0)->path) - 1;
    char spec[400], err[512];
    mcf_spec sp;

    memset(spec, 0, sizeof spec);
    spec[0] = '/';
    memset(spec + 1, 'p', max - 1);
    CHECK_RC(mcf_spec_parse(spec, strlen(spec), &sp, err, sizeof err), 0);
    CHECK(strlen(sp.path) == max);

    spec[max] = 'p'; /* one byte more */
    CHECK_RC(mcf_spec_parse(spec, strlen(spec), &sp, err, sizeof err), MCF_ERR_BAD_SPEC);
    CHECKF(strstr(err, "too long") && strstr(err, "sun_path"), "message: %s", err);

    snprintf(spec, sizeof spec, "unix:/%0*d", (int)max, 0); /* 108-character path */
    CHECK_RC(mcf_spec_parse(spec, strlen(spec), &sp, err, sizeof err), MCF_ERR_BAD_SPEC);
    CHECKF(strstr(err, "too long"), "message: %s", err);

    /* A weight does not count toward the path. */
    memset(spec, 0, sizeof spec);
    spec[0] = '/';
    memset(spec + 1, 'p', max - 1);
    strcat(spec, ":9");
    CHECK_RC(mcf_spec_parse(spec, strlen(spec), &sp, err, sizeof err), 0);
    CHECK(sp.weight == 9 && strlen(sp.path) == max);
}

TEST(long_host_names)
{
    char spec[400], err[512];
    mcf_spec sp;

    memset(spec, 0, sizeof spec);
    memset(spec, 'h', 253);
    strcat(spec, ":65535:2");
    CHECK_RC(mcf_spec_parse(spec, strlen(spec), &sp, err, sizeof err), 0);
    CHECK(strlen(sp.host) == 253 && sp.port == 65535 && sp.weight == 2);
    CHECK(strlen(sp.text) == 253 + 6);

    memset(spec, 0, sizeof spec);
    memset(spec, 'h', 254);
    CHECK_RC(mcf_spec_parse(spec, strlen(spec), &sp, err, sizeof err), MCF_ERR_BAD_SPEC);
    CHECKF(strstr(err, "longer than"), "message: %s", err);
    /* The echo of a long spec is cut, not the whole thing. */
    CHECKF(strstr(err, "...") != NULL, "message: %s", err);
}

/* The parser takes (ptr, len): it must neither need nor read a NUL.  Each
 * buffer is allocated at its exact size so AddressSanitizer or valgrind
 * catches a read past the end. */
static int parse_exact(const char *s, size_t n, mcf_spec *sp, char *err, size_t errlen)
{
    char *b = malloc(n ? n : 1);
    int rc;
    if (!b)
        return -1;
    memcpy(b, s, n);
    rc = mcf_spec_parse(b, n, sp, err, errlen);
    free(b);
    return rc;
}

TEST(no_nul_terminator)
{
    mcf_spec sp;
    char err[256];
    size_t i;

    CHECK_RC(parse_exact("mc1:11212", 9, &sp, err, sizeof err), 0);
    CHECK(strcmp(sp.host, "mc1") == 0 && sp.port == 11212);
    CHECK_RC(parse_exact("[::1]:7:3", 9, &sp, err, sizeof err), 0);
    CHECK(strcmp(sp.host, "::1") == 0 && sp.port == 7 && sp.weight == 3);
    CHECK_RC(parse_exact("/tmp/s:4", 8, &sp, err, sizeof err), 0);
    CHECK(strcmp(sp.path, "/tmp/s") == 0 && sp.weight == 4);
    CHECK_RC(parse_exact("[::1", 4, &sp, err, sizeof err), MCF_ERR_BAD_SPEC);
    CHECK_RC(parse_exact("::1", 3, &sp, err, sizeof err), 0);
    /* len, not the NUL, ends the spec. */
    CHECK_RC(mcf_spec_parse("mc1:11212junk", 9, &sp, err, sizeof err), 0);
    CHECK(sp.port == 11212 && strcmp(sp.text, "mc1:11212") == 0);
    /* A NUL inside the spec is a control character, not an end. */
    CHECK_RC(mcf_spec_parse("mc1\0:1", 6, &sp, err, sizeof err), MCF_ERR_BAD_SPEC);
    CHECKF(strstr(err, "\\x00") != NULL, "message: %s", err);
    /* Every prefix of every good spec: no crash, no over-read. */
    for (i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t n, len = strlen(good[i].in);
        for (n = 0; n <= len; n++)
            (void)parse_exact(good[i].in, n, &sp, err, sizeof err);
    }
}

TEST(error_buffer_edge_cases)
{
    mcf_spec sp;
    char small[8];

    CHECK_RC(mcf_spec_parse("[::1", 4, &sp, NULL, 0), MCF_ERR_BAD_SPEC);
    CHECK_RC(mcf_spec_parse("[::1", 4, &sp, small, 0), MCF_ERR_BAD_SPEC);
    CHECK_RC(mcf_spec_parse("[::1", 4, &sp, small, sizeof small), MCF_ERR_BAD_SPEC);
    CHECK(strlen(small) == sizeof small - 1);
    CHECK_RC(mcf_spec_parse(NULL, 0, &sp, small, sizeof small), MCF_ERR_BAD_SPEC);
}

/* Random bytes and mutated good specs: a cheap stand-in for libFuzzer. */
TEST(random_input_never_crashes)
{
    static const char alphabet[] = "[]:%/,. 0123456789abcdefx:unix\t\0\xff";
    uint32_t seed = 12345;
    mcf_spec sp;
    char err[256], buf[160];
    int iter;

    for (iter = 0; iter < 200000; iter++) {
        size_t n, k;
        seed = seed * 1103515245u + 12345u;
        n = (seed >> 16) % sizeof buf;
        if (iter & 1) {
            const char *g = good[(seed >> 8) % (sizeof good / sizeof good[0])].in;
            size_t gl = strlen(g);
            memcpy(buf, g, gl);
            n = gl;
            for (k = 0; k < 3; k++) {
                seed = seed * 1103515245u + 12345u;
                buf[(seed >> 16) % gl] = alphabet[(seed >> 4) % (sizeof alphabet - 1)];
            }
        } else {
            for (k = 0; k < n; k++) {
                seed = seed * 1103515245u + 12345u;
                buf[k] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
            }
        }
        int rc = parse_exact(buf, n, &sp, err, sizeof err);
        if (rc != 0 && rc != MCF_ERR_BAD_SPEC) {
            CHECKF(0, "rc %d", rc);
            break;
        }
        if (rc == 0) {
            /* Whatever parses is internally consistent. */
            CHECK(sp.weight >= 1);
            if (sp.is_unix)
                CHECK(sp.path[0] == '/');
            else
                CHECK(sp.host[0] != '\0' && sp.port >= 1);
        }
    }
}

TEST(list_separators)
{
    static const struct {
        const char *in;
        size_t n;
    } ok[] = {
        {"a:1,b:2", 2},
        {"a:1 b:2\tc:3\n", 3},
        {"a:1, b:2 ,c:3", 3},
        {"  a  ", 1},
        {"[::1]:11212:2, /tmp/x.sock:3\nh:1:4 ::1,unix:/y", 5},
    };
    size_t i;

    for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        mcf_spec *v = NULL;
        size_t n = 0;
        char err[256] = "";
        int rc = mcf_spec_parse_list(ok[i].in, &v, &n, err, sizeof err);
        CHECKF(rc == 0 && n == ok[i].n, "'%s': rc %d n %zu: %s", ok[i].in, rc, n, err);
        free(v);
    }
}

TEST(list_contents)
{
    mcf_spec *v = NULL;
    size_t n = 0;
    char err[256] = "";

    CHECK_RC(mcf_spec_parse_list("[::1]:11212:2, /tmp/x.sock:3\nh:1:4 ::1,unix:/y", &v, &n,
                                 err, sizeof err),
             0);
    if (!v || n != 5) {
        CHECKF(0, "n = %zu", n);
        free(v);
        return;
    }
    CHECK(strcmp(v[0].host, "::1") == 0 && v[0].port == 11212 && v[0].weight == 2);
    CHECK(v[1].is_unix && strcmp(v[1].path, "/tmp/x.sock") == 0 && v[1].weight == 3);
    CHECK(strcmp(v[2].host, "h") == 0 && v[2].port == 1 && v[2].weight == 4);
    CHECK(strcmp(v[2].text, "h:1") == 0);
    CHECK(strcmp(v[3].host, "::1") == 0 && v[3].port == 11211 && !v[3].port_written);
    CHECK(v[4].is_unix && strcmp(v[4].path, "/y") == 0);
    free(v);
}

TEST(list_errors)
{
    static const struct {
        const char *in;
        const char *why;
    } badl[] = {
        {"", "empty list"},
        {"   \t\n", "empty list"},
        {",", "empty spec"},
        {"  , ", "empty spec"},
        {"a,,b", "empty spec"},
        {",a", "empty spec"},
        {"a,", "empty spec after the last ','"},
        {"a , ,b", "empty spec"},
        {"a:1,[::1", "'[::1': missing ']'"},
        {"a:1 host:99999", "'host:99999'"},
    };
    size_t i;

    for (i = 0; i < sizeof badl / sizeof badl[0]; i++) {
        mcf_spec *v = (mcf_spec *)&v; /* must be reset to NULL on error */
        size_t n = 99;
        char err[256] = "";
        int rc = mcf_spec_parse_list(badl[i].in, &v, &n, err, sizeof err);
        CHECKF(rc == MCF_ERR_BAD_SPEC, "'%s': rc %d", badl[i].in, rc);
        CHECKF(v == NULL && n == 0, "'%s': out not reset", badl[i].in);
        CHECKF(strstr(err, badl[i].why) != NULL, "'%s': message '%s' lacks '%s'", badl[i].in,
               err, badl[i].why);
    }
    {
        mcf_spec *v = NULL;
        size_t n = 0;
        CHECK_RC(mcf_spec_parse_list(NULL, &v, &n, NULL, 0), MCF_ERR_BAD_SPEC);
    }
}

int main(int argc, char **argv)
{
    return t_main(argc, argv);
}
