/* test_hash.c - src/hash.c against published test vectors, and the quirks
 * of the clients it copies, pinned with the values their libraries give.
 * tool_libmemcached compare (t_dist_compat.sh) also checks every hash
 * against libmemcached's own on random bytes; t_compat_nutcracker.sh checks
 * hsieh (which Debian's libmemcached lacks) against nutcracker. */
#include <stdint.h>
#include <string.h>

#include "hash.h"
#include "harness.h"
#include "mcfast.h"

#define S(x) (x), strlen(x)

/* The FNV spec's test suite (draft-eastlake-fnv, "FNV test vectors"):
 * the empty string gives the offset basis; the _64 ones are the low 32
 * bits of the 64-bit values. */
TEST(fnv_vectors)
{
    CHECK(mcf_hash_fnv1_32(S("")) == 0x811c9dc5u);
    CHECK(mcf_hash_fnv1a_32(S("")) == 0x811c9dc5u);
    CHECK(mcf_hash_fnv1_32(S("a")) == 0x050c5d7eu);
    CHECK(mcf_hash_fnv1a_32(S("a")) == 0xe40c292cu);
    CHECK(mcf_hash_fnv1_32(S("foobar")) == 0x31f0b262u);
    CHECK(mcf_hash_fnv1a_32(S("foobar")) == 0xbf9cf968u);
    CHECK(mcf_hash_fnv1_64(S("")) == 0x84222325u);   /* 0xcbf29ce484222325 */
    CHECK(mcf_hash_fnv1_64(S("a")) == 0x8601b7beu);  /* 0xaf63bd4c8601b7be */
    CHECK(mcf_hash_fnv1a_64(S("a")) == 0x8601ec8cu); /* 0xaf63dc4c8601ec8c */
    CHECK(mcf_hash_fnv1_64(S("foobar")) == 0xa4dda9c2u);  /* 0x340d8765a4dda9c2 */
    CHECK(mcf_hash_fnv1a_64(S("foobar")) == 0xf73967e8u); /* 0x85944171f73967e8 */
}

/* Bob Jenkins' one-at-a-time: the values of the reference code (and of
 * the algorithm's Wikipedia article). */
TEST(one_at_a_time_vectors)
{
    CHECK(mcf_hash_one_at_a_time(S("")) == 0);
    CHECK(mcf_hash_one_at_a_time(S("a")) == 0xca2e9442u);
    CHECK(mcf_hash_one_at_a_time(S("The quick brown fox jumps over the lazy dog")) ==
          0x519e91f5u);
}

/* lookup3.c's own driver5() values for hashlittle(). */
TEST(lookup3_vectors)
{
    CHECK(mcf_hash_lookup3("", 0, 0) == 0xdeadbeefu);
    CHECK(mcf_hash_lookup3("", 0, 0xdeadbeefu) == 0xbd5b7ddeu);
    CHECK(mcf_hash_lookup3(S("Four score and seven years ago"), 0) == 0x17770551u);
    CHECK(mcf_hash_lookup3(S("Four score and seven years ago"), 1) == 0xcd628161u);
    /* libmemcached's "jenkins" is initval 13. */
    CHECK(mcf_hash_jenkins(S("Four score and seven years ago")) ==
          mcf_hash_lookup3(S("Four score and seven years ago"), 13));
}

/* SMHasher's VerificationTest: hash keys {}, {0}, {0,1}, ... {0..254} with
 * seed 256 - len, then the 256 hashes (little-endian) with seed 0. */
static uint32_t smhasher_verification(uint32_t (*h)(const void *, size_t, uint32_t))
{
    unsigned char key[256], hashes[256 * 4];
    for (int i = 0; i < 256; i++) {
        key[i] = (unsigned char)i;
        uint32_t v = h(key, (size_t)i, 256u - (uint32_t)i);
        for (int b = 0; b < 4; b++)
            hashes[4 * i + b] = (unsigned char)(v >> (8 * b));
    }
    return h(hashes, sizeof hashes, 0);
}

TEST(murmur_vectors)
{
    /* The verification values SMHasher lists for MurmurHash2 and
     * MurmurHash3_x86_32. */
    CHECK(smhasher_verification(mcf_hash_murmur2) == 0x27864c1eu);
    CHECK(smhasher_verification(mcf_hash_murmur3_32) == 0xb0f57ee3u);
    CHECK(mcf_hash_murmur3_32("", 0, 0) == 0);
    CHECK(mcf_hash_murmur3_32("", 0, 1) == 0x514e28b7u);
    /* pymemcache's murmur3_32 gives the same (its doctest-style values). */
    CHECK(mcf_hash_murmur3_32(S("hello"), 0) == 0x248bfa47u);
    CHECK(mcf_hash_murmur3_32(S("Hello, world!"), 1234) == 0xfaf6cdb3u);
    CHECK(mcf_hash_murmur3_32(S("The quick brown fox jumps over the lazy dog"), 0) == 0x2e4ff723u);
    /* libmemcached seeds its murmur with 0xdeadbeef * length. */
    CHECK(mcf_hash_murmur(S("hello")) == mcf_hash_murmur2(S("hello"), 0xdeadbeefu * 5));
}

TEST(murmur3_piecewise)
{
    static const char text[] = "rendezvous hashing feeds the server name, then the key";
    size_t n = sizeof text - 1;
    uint32_t whole = mcf_hash_murmur3_32(text, n, 7);
    for (size_t cut1 = 0; cut1 <= n; cut1++)
        for (size_t cut2 = cut1; cut2 <= n; cut2 += 3) {
            mcf_murmur3 m;
            mcf_murmur3_init(&m, 7);
            mcf_murmur3_bytes(&m, text, cut1);
            for (size_t i = cut1; i < cut2; i++)
                mcf_murmur3_byte(&m, (unsigned char)text[i]);
            mcf_murmur3_bytes(&m, text + cut2, n - cut2);
            CHECKF(mcf_murmur3_final(&m) == whole, "cut at %zu and %zu", cut1, cut2);
        }
}

TEST(crc_md5_vectors)
{
    CHECK(mcf_hash_crc32(S("123456789")) == 0xcbf43926u); /* the CRC-32 check value */
    CHECK(mcf_hash_crc_15bit(S("123456789")) == 0x4bf4u);
    CHECK(mcf_hash_md5(S("")) == 0xd98c1dd4u); /* d41d8cd9... read little-endian */
}

/* libhashkit 1.1.4 (Debian's) and twemproxy widen bytes through signed
 * char; these are libhashkit's values for "é" (c3 a9). */
TEST(signed_char_quirk)
{
    CHECK(mcf_hash_fnv1a_64("\xc3\xa9", 2) == 3033280513u);
    CHECK(mcf_hash_one_at_a_time("\xc3\xa9", 2) == 26298542u);
    /* The textbook algorithm (unsigned bytes) would differ. */
    uint32_t h = 0x811c9dc5u;
    h = (h ^ 0xc3) * 16777619u;
    h = (h ^ 0xa9) * 16777619u;
    CHECK(mcf_hash_fnv1a_32("\xc3\xa9", 2) != h);
}

TEST(hsieh_edges)
{
    CHECK(mcf_hash_hsieh("", 0) == 0);
    /* Every tail length gives a distinct value (no tail case is dropped). */
    uint32_t v[8];
    for (size_t n = 1; n <= 8; n++) {
        v[n - 1] = mcf_hash_hsieh("abcdefgh", n);
        for (size_t k = 0; k + 1 < n; k++)
            CHECKF(v[k] != v[n - 1], "lengths %zu and %zu", k + 1, n);
    }
}

TEST(names)
{
    for (int h = MCF_HASH_DEFAULT; h <= MCF_HASH_MURMUR3; h++) {
        const char *name = mcf_hash_name(h);
        CHECKF(name && mcf_hash_by_name(name) == h, "hash %d", h);
        CHECKF(h == MCF_HASH_DEFAULT || mcf_hash_function(h), "hash %d has no function", h);
    }
    CHECK(mcf_hash_by_name("crc32") == MCF_HASH_CRC); /* twemproxy's name */
    CHECK(mcf_hash_by_name("crc32a") == MCF_HASH_CRC32);
    CHECK(mcf_hash_by_name("sha1") == -1);
    CHECK(mcf_hash_function(MCF_HASH_DEFAULT) == NULL);
    CHECK(mcf_hash_function(99) == NULL);
}

int main(int argc, char **argv)
{
    return t_main(argc, argv);
}
