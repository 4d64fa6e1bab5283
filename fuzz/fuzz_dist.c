/* fuzz_dist.c - libFuzzer target for key placement (src/dist.c) and the key
 * hashes (src/hash.c).
 *
 * The input is a key of any bytes and length (UTF-8 or not: pymemcache's
 * mode decodes it), on an exact-size heap copy, so a read past its end is
 * an ASan heap-buffer-overflow.  Every hash function hashes it; every
 * distribution, with every hash it takes, picks a server for it over a
 * fixed list of TCP and unix servers with weights (built once).
 * Invariants (abort() on violation): a pick is a server index < n; the
 * piecewise murmur3, fed byte by byte, equals the one-shot; the same key
 * picks the same server twice.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "hash.h"
#include "mcfast.h"
#include "spec.h"

#define REQUIRE(cond)                                                                     \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "fuzz_dist: invariant failed at %s:%d: %s\n", __FILE__,       \
                    __LINE__, #cond);                                                     \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

#define NSERVERS 5
#define NMODES (MCF_DIST_NUTCRACKER_MODULA + 1)
#define NHASHES (MCF_HASH_MURMUR3 + 1)

static mcf_dist dists[NMODES][NHASHES];
static int built[NMODES][NHASHES];

static void build_all(void)
{
    static const char *const text[NSERVERS] = {"10.0.0.1:11211", "[::1]:11300", "/tmp/mc.sock",
                                               "cache-b.example.com", "10.0.0.2:11212"};
    static const unsigned weight[NSERVERS] = {1, 3, 2, 1, 5};
    mcf_spec specs[NSERVERS];
    char err[256];
    for (int i = 0; i < NSERVERS; i++) {
        REQUIRE(mcf_spec_parse(text[i], strlen(text[i]), &specs[i], err, sizeof err) == 0);
        specs[i].weight = weight[i];
    }
    for (int m = 0; m < NMODES; m++)
        for (int h = 0; h < NHASHES; h++)
            built[m][h] = mcf_dist_build(&dists[m][h], m, h, specs, NSERVERS, 150) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        build_all();
        once = 1;
    }
    char *key = malloc(size ? size : 1);
    if (!key)
        return 0;
    memcpy(key, data, size);
    for (int h = 1; h < NHASHES; h++)
        (void)mcf_hash_function(h)(key, size);
    mcf_murmur3 m;
    mcf_murmur3_init(&m, 0);
    for (size_t i = 0; i < size; i++)
        mcf_murmur3_byte(&m, (unsigned char)key[i]);
    REQUIRE(mcf_murmur3_final(&m) == mcf_hash_murmur3_32(key, size, 0));
    for (int md = 0; md < NMODES; md++)
        for (int h = 0; h < NHASHES; h++) {
            if (!built[md][h])
                continue;
            uint32_t s = mcf_dist_pick(&dists[md][h], key, size);
            REQUIRE(s < NSERVERS);
            REQUIRE(mcf_dist_pick(&dists[md][h], key, size) == s);
        }
    free(key);
    return 0;
}
