/* tool_dist.c - helper for t_dist_compat.sh: runs servers, makes keys, and checks that
 * every key sits on the server mcf_dist_pick names, asking each server directly.
 *
 *   tool_dist serve NTCP NUNIX     start memcached servers, print one address per
 *                                  line then "READY"; keep them until stdin closes
 *   tool_dist keys N [--utf8]      print N varied test keys, one per line
 *                                  (--utf8: a third of them with UTF-8 characters)
 *   tool_dist flush ADDR...        flush_all on each server
 *   tool_dist store ADDR KEYFILE   set every key (value "1") through the one TCP
 *                                  server ADDR, e.g. a proxy in front of the others
 *   tool_dist check [--mode NAME] [--hash NAME] [--points N] [--ns PREFIX]
 *                   [--hash-ns 0|1] KEYFILE ADDR[=WEIGHT]...
 *       NAME as the CLI's --distribution and --hash take them.
 *       For each key (stored under PREFIX+key), computes the server with the
 *       mcfast distribution (hashing PREFIX+key when --hash-ns 1, else key) and
 *       fetches the key from every server over raw sockets.  Prints
 *       "keys=N ok=N wrong=N missing=N multiple=N" and exits 0 only if every
 *       key is on exactly the picked server.
 * ADDR is "127.0.0.1:PORT" or "/path.sock"; weights are given as "=W".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dist.h"
#include "mcfast.h"
#include "mcserver.h"
#include "spec.h"

#define BATCH 40

typedef struct keyset {
    char **keys;
    size_t n;
} keyset;

static int read_keys(const char *file, keyset *ks)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        perror(file);
        return -1;
    }
    size_t cap = 0;
    char line[1024];
    ks->keys = NULL;
    ks->n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        if (ks->n == cap) {
            cap = cap ? cap * 2 : 1024;
            char **k = realloc(ks->keys, cap * sizeof *k);
            if (!k) {
                fclose(f);
                return -1;
            }
            ks->keys = k;
        }
        ks->keys[ks->n] = strdup(line);
        if (!ks->keys[ks->n++]) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

/* "addr[=weight]" -> a spec via the library's parser, and a raw endpoint. */
static int parse_addr(const char *arg, mcf_spec *spec, mcserver *raw)
{
    char addr[200];
    unsigned weight = 1;
    const char *eq = strrchr(arg, '=');
    size_t alen = eq ? (size_t)(eq - arg) : strlen(arg);
    if (alen >= sizeof addr)
        return -1;
    memcpy(addr, arg, alen);
    addr[alen] = 0;
    if (eq)
        weight = (unsigned)strtoul(eq + 1, NULL, 10);
    char err[256];
    if (mcf_spec_parse(addr, alen, spec, err, sizeof err) != 0) {
        fprintf(stderr, "bad address %s: %s\n", addr, err);
        return -1;
    }
    spec->weight = weight;
    memset(raw, 0, sizeof *raw);
    const char *src = spec->is_unix ? spec->path : spec->host;
    char *dst = spec->is_unix ? raw->path : raw->host;
    size_t cap = spec->is_unix ? sizeof raw->path : sizeof raw->host;
    if (strlen(src) >= cap)
        return -1;
    memcpy(dst, src, strlen(src) + 1);
    if (!spec->is_unix)
        raw->port = spec->port;
    return 0;
}

/* Marks found[i] for every key of the batch the server returned. */
static int fetch_batch(const mcserver *s, const char *ns, char **keys, size_t n,
                       unsigned char *found)
{
    static char req[BATCH * 520 + 16], buf[BATCH * 600 + 1024];
    size_t off = (size_t)snprintf(req, sizeof req, "get");
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(req + off, sizeof req - off, " %s%s", ns, keys[i]);
    snprintf(req + off, sizeof req - off, "\r\n");
    int got = mcserver_raw(s, req, "END\r\n", buf, sizeof buf);
    if (got < 5 || strcmp(buf + got - 5, "END\r\n") != 0)
        return -1;
    size_t nslen = strlen(ns);
    for (char *p = buf; (p = strstr(p, "VALUE ")) != NULL;) {
        p += 6;
        char *sp = strchr(p, ' ');
        if (!sp)
            return -1;
        *sp = 0;
        for (size_t i = 0; i < n; i++)
            if (strncmp(p, ns, nslen) == 0 && strcmp(p + nslen, keys[i]) == 0)
                found[i] = 1;
        p = sp + 1;
    }
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    int mode = MCF_DIST_MODULA, hash = MCF_HASH_DEFAULT, hash_ns = 0, i = 0;
    unsigned points = 150;
    const char *ns = "";
    while (i < argc && strncmp(argv[i], "--", 2) == 0 && i + 1 < argc) {
        if (!strcmp(argv[i], "--mode")) {
            mode = mcf_dist_by_name(argv[i + 1]);
            if (mode < 0) {
                fprintf(stderr, "unknown mode %s\n", argv[i + 1]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--hash")) {
            hash = mcf_hash_by_name(argv[i + 1]);
            if (hash < 0) {
                fprintf(stderr, "unknown hash %s\n", argv[i + 1]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--points")) {
            points = (unsigned)atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--ns")) {
            ns = argv[i + 1];
        } else if (!strcmp(argv[i], "--hash-ns")) {
            hash_ns = atoi(argv[i + 1]);
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
        i += 2;
    }
    if (argc - i < 2) {
        fprintf(stderr, "check: KEYFILE and at least one server needed\n");
        return 2;
    }
    keyset ks;
    if (read_keys(argv[i], &ks) != 0)
        return 2;
    i++;
    size_t ns_count = (size_t)(argc - i);
    mcf_spec *specs = calloc(ns_count, sizeof *specs);
    mcserver *raw = calloc(ns_count, sizeof *raw);
    unsigned char *found = calloc(ns_count * ks.n, 1);
    if (!specs || !raw || !found)
        return 2;
    for (size_t s = 0; s < ns_count; s++)
        if (parse_addr(argv[i + (int)s], &specs[s], &raw[s]) != 0)
            return 2;

    mcf_dist d;
    int rc = mcf_dist_build(&d, mode, hash, specs, ns_count, points);
    if (rc != 0) {
        fprintf(stderr, "mcf_dist_build: %s\n", mcf_strerror(rc));
        return 2;
    }
    for (size_t s = 0; s < ns_count; s++)
        for (size_t k = 0; k < ks.n; k += BATCH) {
            size_t m = ks.n - k < BATCH ? ks.n - k : BATCH;
            if (fetch_batch(&raw[s], ns, ks.keys + k, m, found + s * ks.n + k) != 0) {
                fprintf(stderr, "raw get from %s failed\n", argv[i + (int)s]);
                return 2;
            }
        }

    size_t ok = 0, wrong = 0, missing = 0, multiple = 0;
    size_t per_server[64] = {0};
    char hk[600];
    for (size_t k = 0; k < ks.n; k++) {
        int hl = snprintf(hk, sizeof hk, "%s%s", hash_ns ? ns : "", ks.keys[k]);
        uint32_t pick = mcf_dist_pick(&d, hk, (size_t)hl);
        size_t where = 0, count = 0;
        for (size_t s = 0; s < ns_count; s++)
            if (found[s * ks.n + k]) {
                where = s;
                count++;
            }
        if (count == 0)
            missing++;
        else if (count > 1)
            multiple++;
        else if (where != pick) {
            if (wrong < 3)
                fprintf(stderr, "key %s: on server %zu, mcfast picks %u\n", ks.keys[k], where,
                        (unsigned)pick);
            wrong++;
        } else
            ok++;
        if (count == 1 && where < 64)
            per_server[where]++;
    }
    printf("keys=%zu ok=%zu wrong=%zu missing=%zu multiple=%zu per-server=", ks.n, ok, wrong,
           missing, multiple);
    for (size_t s = 0; s < ns_count && s < 64; s++)
        printf("%s%zu", s ? "," : "", per_server[s]);
    printf("\n");
    mcf_dist_free(&d);
    int rc_out = ok == ks.n && ks.n > 0 ? 0 : 1;
    for (size_t k = 0; k < ks.n; k++)
        free(ks.keys[k]);
    free(ks.keys);
    free(specs);
    free(raw);
    free(found);
    return rc_out;
}

static int cmd_flush(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        mcf_spec spec;
        mcserver raw;
        char buf[256];
        if (parse_addr(argv[i], &spec, &raw) != 0 ||
            mcserver_raw(&raw, "flush_all\r\n", "\r\n", buf, sizeof buf) < 0 ||
            strcmp(buf, "OK\r\n") != 0) {
            fprintf(stderr, "flush_all on %s failed\n", argv[i]);
            return 1;
        }
    }
    return 0;
}

/* Sets every key through one TCP server, pipelined STORE_BATCH at a time
 * (one write, then the replies in order). */
#define STORE_BATCH 100

static int cmd_store(const char *addr, const char *keyfile)
{
    mcf_spec spec;
    mcserver raw;
    keyset ks;
    if (parse_addr(addr, &spec, &raw) != 0 || spec.is_unix || read_keys(keyfile, &ks) != 0)
        return 2;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(spec.port)};
    if (fd < 0 || inet_pton(AF_INET, spec.host, &sin.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
        perror(addr);
        return 2;
    }
    static char req[STORE_BATCH * 600], rep[STORE_BATCH * 64];
    size_t failed = 0;
    for (size_t k = 0; k < ks.n; k += STORE_BATCH) {
        size_t m = ks.n - k < STORE_BATCH ? ks.n - k : STORE_BATCH, off = 0;
        for (size_t i = 0; i < m; i++)
            off += (size_t)snprintf(req + off, sizeof req - off, "set %s 0 0 1\r\n1\r\n",
                                    ks.keys[k + i]);
        if (write(fd, req, off) != (ssize_t)off) {
            perror("write");
            return 2;
        }
        size_t got = 0, lines = 0;
        while (lines < m) {
            ssize_t r = read(fd, rep + got, sizeof rep - 1 - got);
            if (r <= 0) {
                fprintf(stderr, "%s closed the connection\n", addr);
                return 2;
            }
            for (ssize_t j = 0; j < r; j++)
                lines += rep[got + (size_t)j] == '\n';
            got += (size_t)r;
        }
        rep[got] = 0;
        size_t line = 0;
        for (char *p = rep; line < m; line++) {
            char *nl = strchr(p, '\n');
            if (strncmp(p, "STORED\r\n", 8) != 0 && failed++ < 3)
                fprintf(stderr, "set %s through %s: %.*s\n", ks.keys[k + line], addr,
                        (int)(nl - p), p);
            p = nl + 1;
        }
    }
    close(fd);
    if (failed)
        fprintf(stderr, "%zu of %zu sets failed\n", failed, ks.n);
    size_t n = ks.n;
    for (size_t k = 0; k < ks.n; k++)
        free(ks.keys[k]);
    free(ks.keys);
    return failed || n == 0 ? 1 : 0;
}

/* Characters of 2, 3 and 4 bytes in UTF-8 (é, 中, ✓, 😀), and one
 * whose code point ends in 0xff (ÿ) to catch a hash of low bytes. */
static const char *const utf8_chars[] = {"\xc3\xa9", "\xe4\xb8\xad", "\xe2\x9c\x93",
                                         "\xf0\x9f\x98\x80", "\xc3\xbf"};

/* Keys of many shapes: short, numeric, punctuated and long (up to 240
 * bytes), all valid memcached keys (0x21..0x7e; with utf8, every third
 * key also has UTF-8 characters, bytes 0x80..0xf4). */
static int cmd_keys(long n, int utf8)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        switch (i % 4) {
        case 0:
            printf("key%ld\n", i);
            break;
        case 1:
            printf("user:%ld:profile/%llx\n", i, (unsigned long long)(x & 0xffffff));
            break;
        default: {
            size_t len = 1 + (size_t)(x % (i % 4 == 2 ? 24 : 240));
            uint64_t y = x;
            for (size_t j = 0; j < len; j++) {
                y = y * 6364136223846793005u + 1442695040888963407u;
                putchar(0x21 + (int)((y >> 33) % 94));
            }
            if (utf8 && i % 3 == 0 && len <= 200)
                for (int j = 0; j < 1 + (int)(y % 5); j++)
                    fputs(utf8_chars[(y >> (3 * j)) % 5], stdout);
            printf("~%ld\n", i); /* unique suffix */
        }
        }
    }
    return 0;
}

static int cmd_serve(int ntcp, int nunix)
{
    static mcserver servers[16];
    if (!mcserver_binary()) {
        printf("NO-MEMCACHED\n");
        return 0;
    }
    if (ntcp + nunix > 16)
        return 2;
    for (int i = 0; i < ntcp + nunix; i++) {
        int rc = i < ntcp ? mcserver_start_tcp(&servers[i], "127.0.0.1", NULL)
                          : mcserver_start_unix(&servers[i], NULL);
        if (rc != 0) {
            printf("FAILED\n");
            return 1;
        }
        printf("%s\n", servers[i].spec);
    }
    printf("READY\n");
    fflush(stdout);
    char buf[64];
    while (fgets(buf, sizeof buf, stdin))
        ;
    for (int i = 0; i < ntcp + nunix; i++)
        mcserver_stop(&servers[i]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "serve"))
        return cmd_serve(atoi(argv[2]), atoi(argv[3]));
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "keys"))
        return cmd_keys(atol(argv[2]), argc == 4 && !strcmp(argv[3], "--utf8"));
    if (argc >= 3 && !strcmp(argv[1], "flush"))
        return cmd_flush(argc - 2, argv + 2);
    if (argc == 4 && !strcmp(argv[1], "store"))
        return cmd_store(argv[2], argv[3]);
    if (argc >= 2 && !strcmp(argv[1], "check"))
        return cmd_check(argc - 2, argv + 2);
    fprintf(stderr, "usage: see tests/tool_dist.c\n");
    return 2;
}
