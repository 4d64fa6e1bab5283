/* test_dist.c - unit tests for src/dist.c with hand-computed expectations.
 * Constants come from independent implementations (Perl's String::CRC32 and
 * Digest::MD5); t_dist_compat.sh checks against the real clients. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "harness.h"
#include "hash.h"
#include "mcfast.h"
#include "spec.h"

/* Counting allocations proves mcf_dist_pick allocation-free.  glibc lets
 * a program replace malloc; sanitizers need their own, so skip there. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define NO_MALLOC_COUNT 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
#define NO_MALLOC_COUNT 1
#endif
#ifndef NO_MALLOC_COUNT
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static unsigned long n_allocs;
void *malloc(size_t n)
{
    n_allocs++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    n_allocs++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    n_allocs++;
    return __libc_realloc(p, n);
}
#endif

static mcf_spec spec_of(const char *text, unsigned weight)
{
    mcf_spec s;
    char err[256];
    memset(&s, 0, sizeof s);
    if (mcf_spec_parse(text, strlen(text), &s, err, sizeof err) != 0)
        fprintf(stderr, "spec %s: %s\n", text, err);
    s.weight = weight;
    return s;
}

static uint32_t pick(const mcf_dist *d, const char *key)
{
    return mcf_dist_pick(d, key, strlen(key));
}

TEST(hashes)
{
    mcf_dist d;
    mcf_spec one = spec_of("10.0.0.1:11300", 1);
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_CMF, 0, &one, 1, 150), 0);
    /* The CRC-32 check value, and two more from String::CRC32. */
    CHECK(mcf_dist_hash(&d, "123456789", 9) == 0xcbf43926u);
    CHECK(mcf_dist_hash(&d, "a", 1) == 0xe8b7be43u);
    CHECK(mcf_dist_hash(&d, "", 0) == 0);
    mcf_dist_free(&d);

    CHECK_RC(mcf_dist_build(&d, MCF_DIST_MODULA, 0, &one, 1, 0), 0);
    /* (crc32 >> 16) & 0x7fff: 0xcbf4 & 0x7fff = 0x4bf4 */
    CHECK(mcf_dist_hash(&d, "123456789", 9) == 19444);
    CHECK(mcf_dist_hash(&d, "foo", 3) == 3187);
    CHECK(mcf_dist_hash(&d, "bar", 3) == 30463);
    mcf_dist_free(&d);

    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_LIBMEMCACHED, 0, &one, 1, 0), 0);
    /* MD5's first word, little-endian: md5("") = d41d8cd9... -> 0xd98c1dd4 */
    CHECK(mcf_dist_hash(&d, "", 0) == 0xd98c1dd4u);
    CHECK(mcf_dist_hash(&d, "foo", 3) == 3675831724u);
    CHECK(mcf_dist_hash(&d, "123456789", 9) == 2498230565u);
    mcf_dist_free(&d);
}

TEST(modula)
{
    mcf_dist d;
    mcf_spec s[4] = {spec_of("10.0.0.1:11300", 1), spec_of("10.0.0.2:11300", 1),
                     spec_of("10.0.0.3:11300", 1), spec_of("/tmp/x.sock", 1)};
    /* One server takes everything. */
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_MODULA, 0, s, 1, 0), 0);
    CHECK(pick(&d, "foo") == 0 && pick(&d, "bar") == 0);
    mcf_dist_free(&d);

    /* Three equal servers: hash % 3 (19444 % 3 = 1, 3187 % 3 = 1); four:
     * 19444 % 4 = 0, 3187 % 4 = 3, 30463 % 4 = 3, 13840 ("hello") % 4 = 0. */
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_MODULA, 0, s, 3, 0), 0);
    CHECK(d.nbuckets == 3);
    CHECK(pick(&d, "123456789") == 1 && pick(&d, "foo") == 1);
    mcf_dist_free(&d);
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_MODULA, 0, s, 4, 0), 0);
    CHECK(pick(&d, "123456789") == 0 && pick(&d, "foo") == 3);
    CHECK(pick(&d, "bar") == 3 && pick(&d, "hello") == 0);
    mcf_dist_free(&d);

    /* Weights 1,2,3,1: buckets [0,1,1,2,2,2,3]; 19444 % 7 = 5 -> 2,
     * 3187 % 7 = 2 -> 1, 30463 % 7 = 6 -> 3, 13840 % 7 = 1 -> 1. */
    s[0].weight = 1, s[1].weight = 2, s[2].weight = 3, s[3].weight = 1;
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_MODULA, 0, s, 4, 0), 0);
    CHECK(d.nbuckets == 7);
    static const uint32_t want[7] = {0, 1, 1, 2, 2, 2, 3};
    for (size_t v = 0; v < 7; v++)
        CHECKF(d.buckets[v] == want[v], "bucket %zu -> %u", v, (unsigned)d.buckets[v]);
    CHECK(pick(&d, "123456789") == 2 && pick(&d, "foo") == 1);
    CHECK(pick(&d, "bar") == 3 && pick(&d, "hello") == 1);
    mcf_dist_free(&d);
}

/* CMF's weight line must equal Cache::Memcached's expanded bucket list
 * for integer weights, including totals above the 15-bit hash range. */
TEST(modula_matches_expanded_list)
{
    static const unsigned sets[][6] = {
        {1, 1, 1, 1, 1, 1}, {3, 1, 4, 1, 5, 9},        {100, 1, 1, 1, 1, 250},
        {1000, 999, 7, 1, 2, 3}, {20000, 1, 30000, 7, 2, 1}, {1, 32768, 1, 1, 1, 40000},
    };
    for (size_t t = 0; t < sizeof sets / sizeof sets[0]; t++) {
        mcf_spec s[6];
        uint64_t total = 0;
        for (size_t i = 0; i < 6; i++) {
            char text[32];
            snprintf(text, sizeof text, "10.0.0.%zu:11300", i + 1);
            s[i] = spec_of(text, sets[t][i]);
            total += sets[t][i];
        }
        mcf_dist d;
        CHECK_RC(mcf_dist_build(&d, MCF_DIST_MODULA, 0, s, 6, 0), 0);
        CHECK(d.nbuckets == (total < 32768 ? total : 32768));
        size_t bad = 0;
        for (uint32_t v = 0; v < d.nbuckets; v++) {
            uint64_t cum = 0;
            uint32_t want = 0;
            for (uint32_t i = 0; i < 6; i++) {
                cum += sets[t][i];
                if (v < cum) {
                    want = i;
                    break;
                }
            }
            bad += d.buckets[v] != want;
        }
        CHECKF(bad == 0, "weight set %zu: %zu buckets differ from the expanded list", t, bad);
        mcf_dist_free(&d);
    }
}

TEST(ketama_cmf)
{
    mcf_dist d;
    /* Seeds crc32("10.0.0.1\0" "11211") and crc32("10.0.0.2\0"); chained
     * points (String::CRC32):
     *   A: 1016082558, 3442865372, 2772144616
     *   B: 1684376814, 3904856738, 98081299 */
    mcf_spec s[2] = {spec_of("10.0.0.1:11211", 1), spec_of("10.0.0.2", 1)};
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_CMF, 0, s, 2, 3), 0);
    static const mcf_point want[6] = {{98081299u, 1},   {1016082558u, 0}, {1684376814u, 1},
                                      {2772144616u, 0}, {3442865372u, 0}, {3904856738u, 1}};
    CHECK(d.npoints == 6);
    for (size_t i = 0; i < 6 && i < d.npoints; i++)
        CHECKF(d.points[i].point == want[i].point && d.points[i].server == want[i].server,
               "point %zu = %u/%u", i, (unsigned)d.points[i].point,
               (unsigned)d.points[i].server);
    /* First point >= crc32(key), wrapping. */
    CHECK(pick(&d, "k0") == 1);        /* 3775500351 -> 3904856738 */
    CHECK(pick(&d, "k8") == 1);        /* 4023523341 -> wraps to 98081299 */
    CHECK(pick(&d, "k2") == 0);        /* 252178707 -> 1016082558 */
    CHECK(pick(&d, "k10") == 1);       /* 1531431629 -> 1684376814 */
    CHECK(pick(&d, "123456789") == 0); /* 3421780262 -> 3442865372 */
    mcf_dist_free(&d);

    /* round(N * weight) points each. */
    s[1].weight = 3;
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_CMF, 0, s, 2, 150), 0);
    CHECK(d.npoints == 600);
    mcf_dist_free(&d);

    /* ketama_points => 0 is CMF's modula mode. */
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_CMF, 0, s, 2, 0), 0);
    CHECK(d.mode == MCF_DIST_MODULA && d.nbuckets == 4 && d.npoints == 0);
    mcf_dist_free(&d);
}

static size_t has_word(const mcf_dist *d, uint32_t server, uint32_t w)
{
    for (size_t i = 0; i < d->npoints; i++)
        if (d->points[i].point == w && d->points[i].server == server)
            return 1;
    return 0;
}

static size_t points_of(const mcf_dist *d, uint32_t server)
{
    size_t n = 0;
    for (size_t i = 0; i < d->npoints; i++)
        n += d->points[i].server == server;
    return n;
}

TEST(ketama_libmemcached)
{
    mcf_dist d;
    mcf_spec s[5] = {spec_of("10.0.0.1:11300", 1), spec_of("10.0.0.1", 1),
                     spec_of("/tmp/a.sock", 1)};
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_LIBMEMCACHED, 0, s, 3, 0), 0);
    /* Equal weights: 160 points each, 4 per digest, the words of
     * md5("10.0.0.1:11300-0"), md5("10.0.0.1-0") (port 11211 left out)
     * and md5("/tmp/a.sock:0-0") (unix: port 0) among them. */
    CHECK(d.npoints == 480);
    CHECK(points_of(&d, 0) == 160 && points_of(&d, 1) == 160 && points_of(&d, 2) == 160);
    CHECK(has_word(&d, 0, 650157684u) && has_word(&d, 0, 2186402646u) &&
          has_word(&d, 0, 11964029u) && has_word(&d, 0, 1834478015u));
    CHECK(has_word(&d, 1, 563378236u) && has_word(&d, 1, 1084864719u));
    CHECK(has_word(&d, 2, 826954515u) && has_word(&d, 2, 741806440u));
    for (size_t i = 1; i < d.npoints; i++)
        CHECK(d.points[i - 1].point <= d.points[i].point);
    mcf_dist_free(&d);

    /* Weights 1,2,3,1: floor(w/7 * 40 * 4) digests = 22,45,68,22 -> 628 points. */
    s[0] = spec_of("10.0.0.1:11300", 1), s[1] = spec_of("10.0.0.2:11300", 2);
    s[2] = spec_of("10.0.0.3:11300", 3), s[3] = spec_of("10.0.0.4:11300", 1);
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_LIBMEMCACHED, 0, s, 4, 0), 0);
    CHECK(d.npoints == 628 && points_of(&d, 0) == 88 && points_of(&d, 2) == 272);
    mcf_dist_free(&d);

    /* Weights 1,4,5,7,8 (total 25): in float 1/25*160/4*5 = 7.9999995, so
     * 7 digests (28 points) where exact arithmetic would give 8. */
    static const unsigned w5[5] = {1, 4, 5, 7, 8};
    for (size_t i = 0; i < 5; i++) {
        char text[32];
        snprintf(text, sizeof text, "10.0.0.%zu:11300", i + 1);
        s[i] = spec_of(text, w5[i]);
    }
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_LIBMEMCACHED, 0, s, 5, 0), 0);
    CHECK(points_of(&d, 0) == 28 && points_of(&d, 1) == 124 && points_of(&d, 2) == 160 &&
          points_of(&d, 3) == 224 && points_of(&d, 4) == 252);
    mcf_dist_free(&d);
}

TEST(build_errors)
{
    mcf_dist d;
    mcf_spec s[2] = {spec_of("10.0.0.1:11300", 1), spec_of("10.0.0.2:11300", 1)};
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_MODULA, 0, s, 0, 0), MCF_ERR_ARG);
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_MODULA, 0, NULL, 2, 0), MCF_ERR_ARG);
    CHECK_RC(mcf_dist_build(NULL, MCF_DIST_MODULA, 0, s, 2, 0), MCF_ERR_ARG);
    CHECK_RC(mcf_dist_build(&d, 99, 0, s, 2, 0), MCF_ERR_ARG);
    CHECK(d.buckets == NULL && d.points == NULL && d.nservers == 0);
    s[1].weight = 0;
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_LIBMEMCACHED, 0, s, 2, 0), MCF_ERR_ARG);
    /* A continuum beyond 2^26 points is refused, not attempted. */
    s[1].weight = 1000000;
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_CMF, 0, s, 2, 1000), MCF_ERR_ARG);
    s[1].weight = 1;
    /* More than 65536 servers is refused (n is checked before s is read). */
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_MODULA, 0, s, 65537, 0), MCF_ERR_ARG);
    /* free is idempotent and accepts an empty dist. */
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_CMF, 0, s, 2, 150), 0);
    mcf_dist_free(&d);
    mcf_dist_free(&d);
    mcf_dist_free(NULL);
}

/* libmemcached's modula: hash % n, weights ignored, one-at-a-time unless
 * told otherwise. */
TEST(libmemcached_modula)
{
    mcf_dist d;
    mcf_spec s[3] = {spec_of("10.0.0.1:11300", 1), spec_of("10.0.0.2:11300", 7),
                     spec_of("/tmp/b.sock", 1)};
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_LIBMEMCACHED, 0, s, 3, 0), 0);
    char key[32];
    for (int i = 0; i < 500; i++) {
        int len = snprintf(key, sizeof key, "k%d", i);
        CHECK(mcf_dist_pick(&d, key, (size_t)len) == mcf_hash_one_at_a_time(key, (size_t)len) % 3);
    }
    mcf_dist_free(&d);
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_LIBMEMCACHED, MCF_HASH_FNV1A_32, s, 3, 0), 0);
    CHECK(pick(&d, "foobar") == 0xbf9cf968u % 3);
    CHECK(mcf_dist_hash(&d, "foobar", 6) == 0xbf9cf968u);
    mcf_dist_free(&d);
}

/* Unweighted libmemcached ketama: 100 points per server, weights ignored,
 * each point the key hash of "name-i". */
TEST(libmemcached_unweighted_ketama)
{
    mcf_dist d;
    mcf_spec s[2] = {spec_of("10.0.0.1:11211", 5), spec_of("/tmp/b.sock", 1)};
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED, 0, s, 2, 0), 0);
    CHECK(d.npoints == 200);
    size_t found = 0;
    for (size_t i = 0; i < d.npoints; i++) {
        if (d.points[i].point == mcf_hash_one_at_a_time("10.0.0.1-0", 10))
            found += d.points[i].server == 0;
        if (d.points[i].point == mcf_hash_one_at_a_time("/tmp/b.sock:0-99", 16))
            found += d.points[i].server == 1;
    }
    CHECK(found == 2);
    mcf_dist_free(&d);
}

/* nutcracker numbers its servers sorted by name, shorter names first, so
 * its modula maps hash % 2 == 0 to the shorter name whatever the order. */
TEST(nutcracker_order)
{
    mcf_dist d;
    mcf_spec s[3] = {spec_of("10.0.0.10:11300", 1), spec_of("10.0.0.9:11300", 1),
                     spec_of("10.0.0.1:11300", 1)};
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_NUTCRACKER_MODULA, 0, s, 3, 0), 0);
    /* ranks: 10.0.0.1:11300, 10.0.0.9:11300, 10.0.0.10:11300 */
    static const uint32_t by_rank[3] = {2, 1, 0};
    char key[32];
    for (int i = 0; i < 300; i++) {
        int len = snprintf(key, sizeof key, "k%d", i);
        uint32_t h = mcf_hash_fnv1a_64(key, (size_t)len);
        CHECK(mcf_dist_pick(&d, key, (size_t)len) == by_rank[h % 3]);
    }
    mcf_dist_free(&d);
    /* Weights expand in rank order: 10.0.0.1 takes entries 0..2. */
    s[2].weight = 3;
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_NUTCRACKER_MODULA, 0, s, 3, 0), 0);
    for (int i = 0; i < 300; i++) {
        int len = snprintf(key, sizeof key, "k%d", i);
        uint32_t r = mcf_hash_fnv1a_64(key, (size_t)len) % 5;
        CHECK(mcf_dist_pick(&d, key, (size_t)len) == (r < 3 ? 2u : r == 3 ? 1u : 0u));
    }
    mcf_dist_free(&d);
}

/* pymemcache: the highest murmur3_32("host:port-key") wins; a str key's
 * characters are hashed as ord(c) & 0xff. */
static uint32_t py_score(const char *name, const char *key, size_t klen)
{
    char buf[600];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s-", name);
    memcpy(buf + n, key, klen);
    return mcf_hash_murmur3_32(buf, n + klen, 0);
}

TEST(pymemcache_rendezvous)
{
    mcf_dist d;
    mcf_spec s[3] = {spec_of("10.0.0.1", 4), spec_of("[::1]:11300", 1),
                     spec_of("unix:/tmp/c.sock", 1)};
    static const char *const names[3] = {"10.0.0.1:11211", "::1:11300", "/tmp/c.sock"};
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_PYMEMCACHE, 0, s, 3, 0), 0);
    char key[32];
    for (int i = 0; i < 300; i++) {
        int len = snprintf(key, sizeof key, "k%d", i);
        uint32_t best = 0, sc0 = py_score(names[0], key, (size_t)len);
        for (uint32_t j = 1; j < 3; j++) {
            uint32_t sc = py_score(names[j], key, (size_t)len);
            if (sc > sc0) {
                sc0 = sc;
                best = j;
            }
        }
        CHECK(mcf_dist_pick(&d, key, (size_t)len) == best);
    }
    /* "é~1" as Python hashes the str: 0xe9, '~', '1' (3 characters). */
    uint32_t best = 0, top = py_score(names[0], "\xe9~1", 3);
    for (uint32_t j = 1; j < 3; j++)
        if (py_score(names[j], "\xe9~1", 3) > top) {
            top = py_score(names[j], "\xe9~1", 3);
            best = j;
        }
    CHECK(mcf_dist_pick(&d, "\xc3\xa9~1", 4) == best);
    /* Bytes that are not UTF-8 are hashed as they are. */
    best = 0, top = py_score(names[0], "\xff\xfe", 2);
    for (uint32_t j = 1; j < 3; j++)
        if (py_score(names[j], "\xff\xfe", 2) > top) {
            top = py_score(names[j], "\xff\xfe", 2);
            best = j;
        }
    CHECK(mcf_dist_pick(&d, "\xff\xfe", 2) == best);
    mcf_dist_free(&d);
    /* Two servers of one name: the first keeps every key (a tie goes to
     * the greater name, and the names are equal). */
    mcf_spec twice[2] = {spec_of("10.0.0.1:11300", 1), spec_of("10.0.0.1:11300", 1)};
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_PYMEMCACHE, 0, twice, 2, 0), 0);
    for (int i = 0; i < 100; i++) {
        int len = snprintf(key, sizeof key, "k%d", i);
        CHECK(mcf_dist_pick(&d, key, (size_t)len) == 0);
    }
    mcf_dist_free(&d);
}

TEST(hash_option_pairs)
{
    mcf_dist d;
    mcf_spec s[2] = {spec_of("10.0.0.1:11300", 1), spec_of("10.0.0.2:11300", 1)};
    /* Fixed-hash modes refuse a hash; the others take every one. */
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_MODULA, MCF_HASH_MD5, s, 2, 0), MCF_ERR_ARG);
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_KETAMA_CMF, MCF_HASH_MD5, s, 2, 150), MCF_ERR_ARG);
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_PYMEMCACHE, MCF_HASH_MURMUR3, s, 2, 0), MCF_ERR_ARG);
    CHECK_RC(mcf_dist_build(&d, MCF_DIST_NUTCRACKER_KETAMA, 99, s, 2, 0), MCF_ERR_ARG);
    CHECK(mcf_dist_why(MCF_DIST_PYMEMCACHE, MCF_HASH_MD5) != NULL);
    CHECK(mcf_dist_why(MCF_DIST_MODULA, MCF_HASH_DEFAULT) == NULL);
    static const int open_modes[] = {MCF_DIST_KETAMA_LIBMEMCACHED, MCF_DIST_LIBMEMCACHED,
                                     MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED,
                                     MCF_DIST_NUTCRACKER_KETAMA, MCF_DIST_NUTCRACKER_MODULA};
    for (size_t m = 0; m < sizeof open_modes / sizeof open_modes[0]; m++)
        for (int h = MCF_HASH_DEFAULT; h <= MCF_HASH_MURMUR3; h++) {
            CHECKF(mcf_dist_build(&d, open_modes[m], h, s, 2, 0) == 0, "mode %d hash %d",
                   open_modes[m], h);
            mcf_dist_free(&d);
        }
    /* The names the CLI takes. */
    for (int m = MCF_DIST_MODULA; m <= MCF_DIST_NUTCRACKER_MODULA; m++)
        CHECKF(mcf_dist_name(m) && mcf_dist_by_name(mcf_dist_name(m)) == m, "mode %d", m);
    CHECK(mcf_dist_by_name("nutcracker-ketama") == MCF_DIST_NUTCRACKER_KETAMA);
    CHECK(mcf_dist_by_name("random") == -1);
}

/* Through the client: options in any order, the refusal said by the next
 * call, with the reason. */
TEST(client_hash_option)
{
    mcf_client *c = mcf_new();
    CHECK(c != NULL);
    CHECK_RC(mcf_set_servers(c, "127.0.0.1:1,127.0.0.1:2"), MCF_OK);
    CHECK_RC(mcf_set_option(c, MCF_OPT_HASH, 99), MCF_ERR_ARG);
    CHECK_RC(mcf_set_option(c, MCF_OPT_DISTRIBUTION, 8), MCF_ERR_ARG);
    CHECK_RC(mcf_set_option(c, MCF_OPT_HASH, MCF_HASH_FNV1A_32), MCF_OK);
    CHECK(mcf_get_option(c, MCF_OPT_HASH) == MCF_HASH_FNV1A_32);
    size_t srv;
    CHECK_RC(mcf_server_for_key(c, "foobar", 6, &srv), MCF_ERR_ARG); /* modula: fixed hash */
    CHECKF(strstr(mcf_last_error(c), "fixed hash") != NULL, "%s", mcf_last_error(c));
    CHECK_RC(mcf_set_option(c, MCF_OPT_DISTRIBUTION, MCF_DIST_LIBMEMCACHED), MCF_OK);
    CHECK_RC(mcf_server_for_key(c, "foobar", 6, &srv), MCF_OK);
    CHECK(srv == 0xbf9cf968u % 2);
    CHECK_RC(mcf_set_option(c, MCF_OPT_HASH, MCF_HASH_DEFAULT), MCF_OK);
    CHECK_RC(mcf_server_for_key(c, "foobar", 6, &srv), MCF_OK);
    CHECK(srv == mcf_hash_one_at_a_time("foobar", 6) % 2);
    /* A get that cannot be routed fails with the reason, nothing sent. */
    CHECK_RC(mcf_set_option(c, MCF_OPT_DISTRIBUTION, MCF_DIST_PYMEMCACHE), MCF_OK);
    CHECK_RC(mcf_set_option(c, MCF_OPT_HASH, MCF_HASH_MD5), MCF_OK);
    CHECK(mcf_server_for_key(c, "foobar", 6, &srv) == MCF_ERR_ARG);
    CHECKF(strstr(mcf_last_error(c), "pymemcache") != NULL, "%s", mcf_last_error(c));
    mcf_free(c);
    /* A get is refused before any connect (loopback ports nothing listens
     * on, so a connect would fail with another error). */
    c = mcf_new();
    CHECK(c != NULL);
    CHECK_RC(mcf_set_servers(c, "127.0.0.1:1,127.0.0.1:2"), MCF_OK);
    CHECK_RC(mcf_set_option(c, MCF_OPT_DISTRIBUTION, MCF_DIST_PYMEMCACHE), MCF_OK);
    CHECK_RC(mcf_set_option(c, MCF_OPT_HASH, MCF_HASH_MD5), MCF_OK);
    mcf_value v;
    CHECK_RC(mcf_get(c, "foobar", 6, &v), MCF_ERR_ARG);
    CHECKF(strstr(mcf_last_error(c), "pymemcache") != NULL, "%s", mcf_last_error(c));
    mcf_free(c);
}

/* Fractional weights (mcf_add_server_weight), Cache::Memcached::Fast's
 * rule (dispatch_key.c): weights 1.5 and 1 give a line of total 2.5 with
 * server 0's border at (unsigned)(0xffffffff * (1 - 1 / 2.5)); buckets are
 * hash % (unsigned)(2.5 + 0.5) = 3, bucket v maps to v / 2.5 * 0xffffffff,
 * so buckets 0 and 1 go to server 0 and bucket 2 to server 1.  perl/t/
 * 11-frac-weights.t checks 10,000 keys against the real module. */
TEST(fractional_weights)
{
    mcf_client *c = mcf_new();
    CHECK(c != NULL);
    CHECK_RC(mcf_add_server_weight(c, "127.0.0.1:1", 0), MCF_ERR_ARG);
    CHECK_RC(mcf_add_server_weight(c, "127.0.0.1:1", -1.5), MCF_ERR_ARG);
    CHECK_RC(mcf_add_server_weight(c, "127.0.0.1:1", NAN), MCF_ERR_ARG);
    CHECK_RC(mcf_add_server_weight(c, "127.0.0.1:1", 2e6), MCF_ERR_ARG);
    CHECK_RC(mcf_add_server_weight(c, "127.0.0.1:1", 1.5), MCF_OK);
    CHECK_RC(mcf_add_server_weight(c, "127.0.0.1:2", 1.0), MCF_OK);
    char key[32];
    for (int i = 0; i < 200; i++) {
        int len = snprintf(key, sizeof key, "frac:%d", i);
        size_t srv;
        CHECK_RC(mcf_server_for_key(c, key, (size_t)len, &srv), MCF_OK);
        size_t want = mcf_hash_crc_15bit(key, (size_t)len) % 3 == 2 ? 1 : 0;
        CHECKF(srv == want, "%s: server %zu, want %zu", key, srv, want);
    }
    /* ketama (CMF): round(points * 1.5) points for server 0. */
    CHECK_RC(mcf_set_option(c, MCF_OPT_DISTRIBUTION, MCF_DIST_KETAMA_CMF), MCF_OK);
    size_t srv;
    CHECK_RC(mcf_server_for_key(c, "foobar", 6, &srv), MCF_OK);
    /* Other modes cannot honour it: refused, naming the server. */
    CHECK_RC(mcf_set_option(c, MCF_OPT_DISTRIBUTION, MCF_DIST_KETAMA_LIBMEMCACHED), MCF_OK);
    CHECK_RC(mcf_server_for_key(c, "foobar", 6, &srv), MCF_ERR_ARG);
    CHECKF(strstr(mcf_last_error(c), "fractional weight 1.5") != NULL &&
               strstr(mcf_last_error(c), "127.0.0.1:1") != NULL,
           "%s", mcf_last_error(c));
    mcf_free(c);

    /* An integral weight is mcf_add_server's, in every mode. */
    mcf_client *a = mcf_new(), *b = mcf_new();
    CHECK(a != NULL && b != NULL);
    CHECK_RC(mcf_add_server_weight(a, "127.0.0.1:1", 2.0), MCF_OK);
    CHECK_RC(mcf_add_server_weight(a, "127.0.0.1:2", 3.0), MCF_OK);
    CHECK_RC(mcf_add_server(b, "127.0.0.1:1", 2), MCF_OK);
    CHECK_RC(mcf_add_server(b, "127.0.0.1:2", 3), MCF_OK);
    for (int mode = MCF_DIST_MODULA; mode <= MCF_DIST_KETAMA_LIBMEMCACHED; mode++) {
        CHECK_RC(mcf_set_option(a, MCF_OPT_DISTRIBUTION, mode), MCF_OK);
        CHECK_RC(mcf_set_option(b, MCF_OPT_DISTRIBUTION, mode), MCF_OK);
        for (int i = 0; i < 200; i++) {
            int len = snprintf(key, sizeof key, "int:%d", i);
            size_t sa, sb;
            CHECK_RC(mcf_server_for_key(a, key, (size_t)len, &sa), MCF_OK);
            CHECK_RC(mcf_server_for_key(b, key, (size_t)len, &sb), MCF_OK);
            CHECKF(sa == sb, "mode %d %s: %zu vs %zu", mode, key, sa, sb);
        }
    }
    mcf_free(a);
    mcf_free(b);
}

TEST(pick_does_not_allocate)
{
#ifdef NO_MALLOC_COUNT
    t_skip_case("allocation counting needs glibc without sanitizers");
#else
    static const int modes[] = {MCF_DIST_MODULA,
                                MCF_DIST_KETAMA_CMF,
                                MCF_DIST_KETAMA_LIBMEMCACHED,
                                MCF_DIST_LIBMEMCACHED,
                                MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED,
                                MCF_DIST_PYMEMCACHE,
                                MCF_DIST_NUTCRACKER_KETAMA,
                                MCF_DIST_NUTCRACKER_MODULA};
    mcf_spec s[3] = {spec_of("10.0.0.1:11300", 1), spec_of("10.0.0.2:11300", 2),
                     spec_of("/tmp/b.sock", 3)};
    char key[32];
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        mcf_dist d;
        CHECK_RC(mcf_dist_build(&d, modes[m], 0, s, 3, 150), 0);
        unsigned long before = n_allocs;
        uint32_t sum = 0;
        for (int i = 0; i < 1000; i++) {
            int len = snprintf(key, sizeof key, "key:%d", i);
            sum += mcf_dist_pick(&d, key, (size_t)len);
        }
        CHECKF(n_allocs == before, "mode %d: %lu allocations in 1000 picks", modes[m],
               n_allocs - before);
        CHECK(sum > 0);
        mcf_dist_free(&d);
    }
#endif
}

int main(int argc, char **argv)
{
    return t_main(argc, argv);
}
