/* tool_libmemcached.c - the real libmemcached as the reference for MCF_DIST_KETAMA_LIBMEMCACHED,
 * for t_dist_compat.sh.
 *
 *   tool_libmemcached compare
 *       No servers needed: for many server lists (weights, unix sockets, port
 *       11211, IPv6, names, 1..60 servers) compares libmemcached's own
 *       memcached_generate_hash() with mcf_dist_pick for 20000 keys each, in
 *       weighted ketama, modula and unweighted ketama with several hashes;
 *       and each hash function with libmemcached's (random bytes, any
 *       length and alignment).  Prints one PASS:/FAIL: line per check.
 *   tool_libmemcached store [--ns PREFIX] KEYFILE ADDR[=WEIGHT]...
 *       Stores every key of KEYFILE through libmemcached; ADDR is
 *       "127.0.0.1:PORT" or "/path.sock".
 *
 * For MCF_DIST_KETAMA_LIBMEMCACHED libmemcached is configured with
 * MEMCACHED_BEHAVIOR_DISTRIBUTION = CONSISTENT_KETAMA, then
 * MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED = 1 (which also selects MD5 for keys;
 * in the opposite order setting the distribution would switch weighting
 * off again); for MCF_DIST_LIBMEMCACHED left at its defaults; for
 * MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED MEMCACHED_BEHAVIOR_KETAMA = 1.  A
 * hash is set before the servers are added (the continuum is built as they
 * are, with the hash then in force).
 */
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "hash.h"
#include "mcfast.h"
#include "spec.h"

/* mcfast's hashes and libmemcached's names for them. */
static const struct {
    int mcf;
    memcached_hash_t lmc;
    const char *name;
} hashes[] = {
    {MCF_HASH_ONE_AT_A_TIME, MEMCACHED_HASH_DEFAULT, "one_at_a_time"},
    {MCF_HASH_MD5, MEMCACHED_HASH_MD5, "md5"},
    {MCF_HASH_CRC, MEMCACHED_HASH_CRC, "crc"},
    {MCF_HASH_FNV1_64, MEMCACHED_HASH_FNV1_64, "fnv1_64"},
    {MCF_HASH_FNV1A_64, MEMCACHED_HASH_FNV1A_64, "fnv1a_64"},
    {MCF_HASH_FNV1_32, MEMCACHED_HASH_FNV1_32, "fnv1_32"},
    {MCF_HASH_FNV1A_32, MEMCACHED_HASH_FNV1A_32, "fnv1a_32"},
    {MCF_HASH_MURMUR, MEMCACHED_HASH_MURMUR, "murmur"},
    {MCF_HASH_JENKINS, MEMCACHED_HASH_JENKINS, "jenkins"},
    {MCF_HASH_MURMUR3, MEMCACHED_HASH_MURMUR3, "murmur3"},
};

static memcached_hash_t lmc_hash_of(int mcf)
{
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        if (hashes[i].mcf == mcf)
            return hashes[i].lmc;
    return MEMCACHED_HASH_DEFAULT;
}

/* A libmemcached configured as mcfast's mode (and hash, if not default). */
static memcached_st *lmc_new_mode(int mode, int hash)
{
    memcached_st *m = memcached_create(NULL);
    if (!m)
        return NULL;
    int ok = 1;
    if (mode == MCF_DIST_KETAMA_LIBMEMCACHED)
        ok = memcached_behavior_set(m, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                                    MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA) ==
                 MEMCACHED_SUCCESS &&
             memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1) == MEMCACHED_SUCCESS;
    else if (mode == MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED)
        ok = memcached_behavior_set(m, MEMCACHED_BEHAVIOR_KETAMA, 1) == MEMCACHED_SUCCESS;
    if (ok && hash != MCF_HASH_DEFAULT)
        ok = memcached_behavior_set(m, MEMCACHED_BEHAVIOR_HASH, lmc_hash_of(hash)) ==
             MEMCACHED_SUCCESS;
    if (!ok) {
        memcached_free(m);
        return NULL;
    }
    return m;
}

static memcached_st *lmc_new(void)
{
    return lmc_new_mode(MCF_DIST_KETAMA_LIBMEMCACHED, MCF_HASH_DEFAULT);
}

/* "addr[=weight]" -> an mcfast spec (library parser) and the same server in libmemcached. */
static int add_server(memcached_st *m, const char *arg, mcf_spec *spec)
{
    char addr[200], err[256];
    unsigned weight = 1;
    const char *eq = strrchr(arg, '=');
    size_t alen = eq ? (size_t)(eq - arg) : strlen(arg);
    if (alen >= sizeof addr)
        return -1;
    memcpy(addr, arg, alen);
    addr[alen] = 0;
    if (eq)
        weight = (unsigned)strtoul(eq + 1, NULL, 10);
    if (mcf_spec_parse(addr, alen, spec, err, sizeof err) != 0) {
        fprintf(stderr, "bad address %s: %s\n", addr, err);
        return -1;
    }
    spec->weight = weight;
    memcached_return_t rc =
        spec->is_unix ? memcached_server_add_unix_socket_with_weight(m, spec->path, weight)
                      : memcached_server_add_with_weight(m, spec->host, spec->port, weight);
    if (rc != MEMCACHED_SUCCESS) {
        fprintf(stderr, "libmemcached rejects %s: %s\n", arg, memcached_strerror(m, rc));
        return -1;
    }
    return 0;
}

/* Keys of varied shapes, all valid memcached keys. */
static size_t make_key(size_t i, char *buf, size_t cap)
{
    uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15u + 1;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 32;
    if (i % 3 == 0)
        return (size_t)snprintf(buf, cap, "key%zu", i);
    size_t len = 1 + (size_t)(x % (i % 3 == 1 ? 20 : 240));
    if (len > cap - 16)
        len = cap - 16;
    for (size_t j = 0; j < len; j++) {
        x = x * 6364136223846793005u + 1442695040888963407u;
        buf[j] = (char)(0x21 + (int)((x >> 33) % 94));
    }
    return len + (size_t)snprintf(buf + len, cap - len, "~%zu", i);
}

/* An unweighted ketama list is given weight 1 everywhere: a weight > 1
 * turns libmemcached's weighting on (as the weighted mode covers). */
static int compare_mode(const char *name, int mode, int hash, const char *const *addrs, size_t n)
{
    memcached_st *m = lmc_new_mode(mode, hash);
    mcf_spec *specs = calloc(n, sizeof *specs);
    if (!m || !specs) {
        printf("FAIL: %s: out of memory\n", name);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char a[200];
        snprintf(a, sizeof a, "%s", addrs[i]);
        if (mode == MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED && strrchr(a, '='))
            *strrchr(a, '=') = 0;
        if (add_server(m, a, &specs[i]) != 0) {
            printf("FAIL: %s: cannot add %s\n", name, addrs[i]);
            return 1;
        }
    }
    mcf_dist d;
    int rc = mcf_dist_build(&d, mode, hash, specs, n, 0);
    if (rc != 0) {
        printf("FAIL: %s: mcf_dist_build: %s\n", name, mcf_strerror(rc));
        return 1;
    }
    size_t bad = 0, keys = 20000;
    char key[256];
    for (size_t i = 0; i < keys; i++) {
        size_t len = make_key(i, key, sizeof key);
        uint32_t want = memcached_generate_hash(m, key, len);
        uint32_t got = mcf_dist_pick(&d, key, len);
        if (want != got && bad++ < 3)
            fprintf(stderr, "%s: key %.*s: libmemcached %u, mcfast %u\n", name, (int)len, key,
                    (unsigned)want, (unsigned)got);
    }
    mcf_dist_free(&d);
    memcached_free(m);
    free(specs);
    if (bad)
        printf("FAIL: %s: %zu of %zu keys picked differently from libmemcached\n", name, bad,
               keys);
    else
        printf("PASS: %s (%zu keys, %zu servers)\n", name, keys, n);
    return bad ? 1 : 0;
}

#define LIST(...) (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

static int compare_one(const char *name, const char *const *addrs, size_t n)
{
    return compare_mode(name, MCF_DIST_KETAMA_LIBMEMCACHED, MCF_HASH_DEFAULT, addrs, n);
}

/* Each hash against libmemcached's own (memcached_generate_hash_value):
 * random bytes (high ones too: libhashkit reads them as signed char),
 * lengths 0..300, odd addresses. */
static int compare_hashes(void)
{
    int fails = 0;
    static char buf[512];
    for (size_t h = 0; h < sizeof hashes / sizeof hashes[0]; h++) {
        uint64_t x = 0x243f6a8885a308d3u + h;
        size_t bad = 0, n = 100000;
        mcf_hash_fn fn = mcf_hash_function(hashes[h].mcf);
        for (size_t i = 0; i < n; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            size_t len = (size_t)(x >> 33) % 301, at = (size_t)(x >> 20) % 8;
            for (size_t j = 0; j < len; j++) {
                x = x * 6364136223846793005u + 1442695040888963407u;
                buf[at + j] = (char)(x >> 56);
            }
            if (memcached_generate_hash_value(buf + at, len, hashes[h].lmc) != fn(buf + at, len))
                bad++;
        }
        if (bad)
            printf("FAIL: lmc-hash %s: %zu of %zu keys hashed differently from libmemcached\n",
                   hashes[h].name, bad, n);
        else
            printf("PASS: lmc-hash %s (%zu random keys, bytes 0..255)\n", hashes[h].name, n);
        fails += bad != 0;
    }
    return fails;
}

static int cmd_compare(void)
{
    int fails = compare_hashes();
    fails += compare_one("lmc-pure single server", LIST("10.0.0.1:11300=3"));
    fails += compare_one("lmc-pure 4 servers unweighted",
                         LIST("127.0.0.1:11212", "127.0.0.1:11213", "127.0.0.1:11214",
                              "127.0.0.1:11215"));
    fails += compare_one("lmc-pure 4 servers weights 1,2,3,1",
                         LIST("127.0.0.1:11212=1", "127.0.0.1:11213=2", "127.0.0.1:11214=3",
                              "127.0.0.1:11215=1"));
    fails += compare_one("lmc-pure 3 servers unweighted",
                         LIST("10.0.0.1:11300", "10.0.0.2:11300", "10.0.0.3:11300"));
    /* libmemcached's float formula gives the weight-1 server 7 digests, not 8. */
    fails += compare_one("lmc-pure weights 1,4,5,7,8 (float floors)",
                         LIST("10.0.0.1:11300=1", "10.0.0.2:11300=4", "10.0.0.3:11300=5",
                              "10.0.0.4:11300=7", "10.0.0.5:11300=8"));
    /* Port 11211 is left out of the continuum key ("host-N"). */
    fails += compare_one("lmc-pure port 11211 and spec without port",
                         LIST("10.0.0.1:11211", "10.0.0.2", "10.0.0.3:22122=2"));
    fails += compare_one("lmc-pure unix sockets and TCP",
                         LIST("/tmp/mc-a.sock", "/var/run/memcached/b.sock=2", "10.1.1.1:11300",
                              "unix:/tmp/mc-c.sock=3"));
    fails += compare_one("lmc-pure IPv6 literals and names",
                         LIST("[::1]:11300", "[2001:db8::7]:11211=2", "cache-a.example.com:11400",
                              "cache-b.example.com=5"));
    fails += compare_one("lmc-pure tiny weight gets no points",
                         LIST("10.0.0.1:11300=1", "10.0.0.2:11300=1000", "10.0.0.3:11300=7"));
    {
        static char names[60][48];
        const char *many[60];
        for (int i = 0; i < 60; i++) {
            snprintf(names[i], sizeof names[i], "10.2.%d.%d:%d=%d", i / 7, i, 11300 + i,
                     1 + (i * 37) % 11);
            many[i] = names[i];
        }
        fails += compare_one("lmc-pure 60 servers mixed weights", many, 60);
        /* libmemcached's modula and unweighted ketama, every hash, lists
         * of 1 to 60 servers of every shape. */
        static const char *const shapes[] = {"127.0.0.1:11212", "10.0.0.2:11211", "/tmp/mc-a.sock",
                                             "[::1]:11300", "cache-b.example.com=5",
                                             "unix:/tmp/mc-c.sock=3", "10.0.0.3"};
        const size_t nshapes = sizeof shapes / sizeof shapes[0];
        for (size_t h = 0; h < sizeof hashes / sizeof hashes[0]; h++) {
            int hash = hashes[h].mcf == MCF_HASH_ONE_AT_A_TIME ? MCF_HASH_DEFAULT : hashes[h].mcf;
            char name[128];
            snprintf(name, sizeof name, "lmc-pure modula, hash %s, %zu shapes", hashes[h].name,
                     nshapes);
            fails += compare_mode(name, MCF_DIST_LIBMEMCACHED, hash, shapes, nshapes);
            snprintf(name, sizeof name, "lmc-pure unweighted ketama, hash %s, %zu shapes",
                     hashes[h].name, nshapes);
            fails += compare_mode(name, MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED, hash, shapes,
                                  nshapes);
            snprintf(name, sizeof name, "lmc-pure weighted ketama, hash %s, 60 servers",
                     hashes[h].name);
            fails += compare_mode(name, MCF_DIST_KETAMA_LIBMEMCACHED, hashes[h].mcf, many, 60);
        }
        fails += compare_mode("lmc-pure modula, 60 servers mixed weights", MCF_DIST_LIBMEMCACHED,
                              MCF_HASH_DEFAULT, many, 60);
        fails += compare_mode("lmc-pure unweighted ketama, 60 servers",
                              MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED, MCF_HASH_DEFAULT, many, 60);
        fails += compare_mode("lmc-pure modula, 1 server", MCF_DIST_LIBMEMCACHED, MCF_HASH_DEFAULT,
                              shapes, 1);
        fails += compare_mode("lmc-pure unweighted ketama, 1 server",
                              MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED, MCF_HASH_DEFAULT, shapes, 1);
    }
    return fails ? 1 : 0;
}

static int cmd_store(int argc, char **argv)
{
    const char *ns = NULL;
    int i = 0;
    if (argc >= 2 && !strcmp(argv[0], "--ns")) {
        ns = argv[1];
        i = 2;
    }
    if (argc - i < 2) {
        fprintf(stderr, "store: KEYFILE and servers needed\n");
        return 2;
    }
    const char *keyfile = argv[i++];
    memcached_st *m = lmc_new();
    if (!m)
        return 2;
    for (; i < argc; i++) {
        mcf_spec spec;
        if (add_server(m, argv[i], &spec) != 0)
            return 2;
    }
    if (ns && memcached_callback_set(m, MEMCACHED_CALLBACK_NAMESPACE, ns) != MEMCACHED_SUCCESS) {
        fprintf(stderr, "cannot set namespace\n");
        return 2;
    }
    FILE *f = fopen(keyfile, "r");
    if (!f) {
        perror(keyfile);
        return 2;
    }
    char line[1024];
    size_t n = 0, failed = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        n++;
        memcached_return_t rc = memcached_set(m, line, strlen(line), "1", 1, 0, 0);
        if (rc != MEMCACHED_SUCCESS && failed++ < 3)
            fprintf(stderr, "set %s: %s\n", line, memcached_strerror(m, rc));
    }
    fclose(f);
    memcached_free(m);
    if (failed) {
        fprintf(stderr, "libmemcached: %zu of %zu sets failed\n", failed, n);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "compare"))
        return cmd_compare();
    if (argc >= 2 && !strcmp(argv[1], "store"))
        return cmd_store(argc - 2, argv + 2);
    fprintf(stderr, "usage: see tests/tool_libmemcached.c\n");
    return 2;
}
