/* hash.c - owns the key hash functions of other clients (see hash.h): each
 * written from its algorithm's description, with the quirks of the client
 * that uses it noted where they differ from the textbook. */
#include "hash.h"

#include <string.h>
#include <zlib.h>

#include "mcfast.h"
#include "md5.h"

/* libhashkit and twemproxy widen a key byte through `char`, signed on x86:
 * bytes 0x80..0xff become 0xffffff80..0xffffffff. */
static inline uint32_t widen_signed(unsigned char b)
{
    return b < 0x80 ? b : (uint32_t)b | 0xffffff00u;
}

static inline uint32_t rotl32(uint32_t x, unsigned r)
{
    return (x << r) | (x >> (32 - r));
}

static inline uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---------------------------------------------------------------- */

uint32_t mcf_hash_one_at_a_time(const char *key, size_t len)
{
    const unsigned char *p = (const unsigned char *)key;
    uint32_t h = 0;
    for (size_t i = 0; i < len; i++) {
        h += widen_signed(p[i]);
        h += h << 10;
        h ^= h >> 6;
    }
    h += h << 3;
    h ^= h >> 11;
    h += h << 15;
    return h;
}

/* FNV parameters from the FNV spec (draft-eastlake-fnv, section 5). */
#define FNV32_BASIS 2166136261u
#define FNV32_PRIME 16777619u
#define FNV64_BASIS 0xcbf29ce484222325u
#define FNV64_PRIME 0x100000001b3u

uint32_t mcf_hash_fnv1_32(const char *key, size_t len)
{
    const unsigned char *p = (const unsigned char *)key;
    uint32_t h = FNV32_BASIS;
    for (size_t i = 0; i < len; i++) {
        h *= FNV32_PRIME;
        h ^= widen_signed(p[i]);
    }
    return h;
}

uint32_t mcf_hash_fnv1a_32(const char *key, size_t len)
{
    const unsigned char *p = (const unsigned char *)key;
    uint32_t h = FNV32_BASIS;
    for (size_t i = 0; i < len; i++) {
        h ^= widen_signed(p[i]);
        h *= FNV32_PRIME;
    }
    return h;
}

/* The low 32 bits of a product depend only on the low 32 bits of its
 * factors, and the clients keep only the low 32 bits of the 64-bit hash:
 * so 32-bit arithmetic with the truncated constants is exact.  The
 * sign-extended byte only reaches the low bits through its low 32 bits. */
uint32_t mcf_hash_fnv1_64(const char *key, size_t len)
{
    const unsigned char *p = (const unsigned char *)key;
    uint32_t h = (uint32_t)FNV64_BASIS;
    for (size_t i = 0; i < len; i++) {
        h *= (uint32_t)FNV64_PRIME;
        h ^= widen_signed(p[i]);
    }
    return h;
}

uint32_t mcf_hash_fnv1a_64(const char *key, size_t len)
{
    const unsigned char *p = (const unsigned char *)key;
    uint32_t h = (uint32_t)FNV64_BASIS;
    for (size_t i = 0; i < len; i++) {
        h ^= widen_signed(p[i]);
        h *= (uint32_t)FNV64_PRIME;
    }
    return h;
}

/* ---------------------------------------------------------------- */

uint32_t mcf_hash_crc32(const char *key, size_t len)
{
    return (uint32_t)crc32_z(0, (const Bytef *)key, len);
}

uint32_t mcf_hash_crc_15bit(const char *key, size_t len)
{
    return (mcf_hash_crc32(key, len) >> 16) & 0x7fff;
}

uint32_t mcf_hash_md5(const char *key, size_t len)
{
    unsigned char d[MCF_MD5_LEN];
    mcf_md5(key, len, d);
    return load_le32(d);
}

/* ---------------------------------------------------------------- */
/* lookup3 (Bob Jenkins, 2006): hashlittle(), read byte by byte, which
 * gives the same value as its word-reading paths on a little-endian
 * machine and never reads past the key. */

#define L3_MIX(a, b, c)                                                                            \
    do {                                                                                           \
        a -= c; a ^= rotl32(c, 4); c += b;                                                         \
        b -= a; b ^= rotl32(a, 6); a += c;                                                         \
        c -= b; c ^= rotl32(b, 8); b += a;                                                         \
        a -= c; a ^= rotl32(c, 16); c += b;                                                        \
        b -= a; b ^= rotl32(a, 19); a += c;                                                        \
        c -= b; c ^= rotl32(b, 4); b += a;                                                         \
    } while (0)

#define L3_FINAL(a, b, c)                                                                          \
    do {                                                                                           \
        c ^= b; c -= rotl32(b, 14);                                                                \
        a ^= c; a -= rotl32(c, 11);                                                                \
        b ^= a; b -= rotl32(a, 25);                                                                \
        c ^= b; c -= rotl32(b, 16);                                                                \
        a ^= c; a -= rotl32(c, 4);                                                                 \
        b ^= a; b -= rotl32(a, 14);                                                                \
        c ^= b; c -= rotl32(b, 24);                                                                \
    } while (0)

/* lookup3's own starting value, added to the length and initval. */
#define L3_START 0xdeadbeefu
/* libhashkit's JENKINS_INITVAL. */
#define JENKINS_INITVAL 13u

/* Bytes [0, n) of a block (n <= 4) as a little-endian word. */
static uint32_t le_partial(const unsigned char *p, size_t n)
{
    uint32_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint32_t)p[i] << (8 * i);
    return w;
}

uint32_t mcf_hash_lookup3(const void *key, size_t len, uint32_t initval)
{
    const unsigned char *k = key;
    uint32_t a, b, c;
    a = b = c = L3_START + (uint32_t)len + initval;
    while (len > 12) {
        a += load_le32(k);
        b += load_le32(k + 4);
        c += load_le32(k + 8);
        L3_MIX(a, b, c);
        len -= 12;
        k += 12;
    }
    if (len == 0)
        return c; /* lookup3: a zero-length tail takes no final mix */
    a += le_partial(k, len < 4 ? len : 4);
    if (len > 4)
        b += le_partial(k + 4, len < 8 ? len - 4 : 4);
    if (len > 8)
        c += le_partial(k + 8, len - 8);
    L3_FINAL(a, b, c);
    return c;
}

uint32_t mcf_hash_jenkins(const char *key, size_t len)
{
    return mcf_hash_lookup3(key, len, JENKINS_INITVAL);
}

/* ---------------------------------------------------------------- */
/* MurmurHash2 and MurmurHash3 (Austin Appleby, public domain; SMHasher). */

#define M2_M 0x5bd1e995u
#define M2_R 24
/* libhashkit's and twemproxy's seed factor. */
#define MURMUR_SEED_FACTOR 0xdeadbeefu

uint32_t mcf_hash_murmur2(const void *key, size_t len, uint32_t seed)
{
    const unsigned char *p = key;
    uint32_t h = seed ^ (uint32_t)len;
    while (len >= 4) {
        uint32_t k = load_le32(p);
        k *= M2_M;
        k ^= k >> M2_R;
        k *= M2_M;
        h *= M2_M;
        h ^= k;
        p += 4;
        len -= 4;
    }
    if (len) {
        h ^= le_partial(p, len);
        h *= M2_M;
    }
    h ^= h >> 13;
    h *= M2_M;
    h ^= h >> 15;
    return h;
}

uint32_t mcf_hash_murmur(const char *key, size_t len)
{
    return mcf_hash_murmur2(key, len, MURMUR_SEED_FACTOR * (uint32_t)len);
}

#define M3_C1 0xcc9e2d51u
#define M3_C2 0x1b873593u

static inline uint32_t m3_scramble(uint32_t k)
{
    k *= M3_C1;
    k = rotl32(k, 15);
    return k * M3_C2;
}

static inline uint32_t m3_block(uint32_t h, uint32_t k)
{
    h ^= m3_scramble(k);
    h = rotl32(h, 13);
    return h * 5 + 0xe6546b64u;
}

static inline uint32_t m3_fmix(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

void mcf_murmur3_init(mcf_murmur3 *m, uint32_t seed)
{
    m->h = seed;
    m->tail = m->ntail = m->len = 0;
}

void mcf_murmur3_byte(mcf_murmur3 *m, unsigned char b)
{
    m->tail |= (uint32_t)b << (8 * m->ntail);
    m->len++;
    if (++m->ntail == 4) {
        m->h = m3_block(m->h, m->tail);
        m->tail = m->ntail = 0;
    }
}

void mcf_murmur3_bytes(mcf_murmur3 *m, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n && m->ntail) {
        mcf_murmur3_byte(m, *p++);
        n--;
    }
    for (; n >= 4; p += 4, n -= 4) {
        m->h = m3_block(m->h, load_le32(p));
        m->len += 4;
    }
    while (n--)
        mcf_murmur3_byte(m, *p++);
}

uint32_t mcf_murmur3_final(const mcf_murmur3 *m)
{
    uint32_t h = m->h;
    if (m->ntail)
        h ^= m3_scramble(m->tail);
    h ^= m->len;
    return m3_fmix(h);
}

uint32_t mcf_hash_murmur3_32(const void *key, size_t len, uint32_t seed)
{
    mcf_murmur3 m;
    mcf_murmur3_init(&m, seed);
    mcf_murmur3_bytes(&m, key, len);
    return mcf_murmur3_final(&m);
}

/* ---------------------------------------------------------------- */

/* libhashkit's murmur3 is seeded as its murmur: 0xdeadbeef * len. */
static uint32_t murmur3_lmc(const char *key, size_t len)
{
    return mcf_hash_murmur3_32(key, len, MURMUR_SEED_FACTOR * (uint32_t)len);
}

static inline uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

uint32_t mcf_hash_hsieh(const char *key, size_t len)
{
    const unsigned char *p = (const unsigned char *)key;
    uint32_t h = 0;
    if (len == 0)
        return 0;
    size_t rem = len & 3;
    for (size_t blocks = len >> 2; blocks > 0; blocks--, p += 4) {
        h += le16(p);
        uint32_t tmp = (le16(p + 2) << 11) ^ h;
        h = (h << 16) ^ tmp;
        h += h >> 11;
    }
    switch (rem) {
    case 3:
        h += le16(p);
        h ^= h << 16;
        h ^= widen_signed(p[2]) << 18;
        h += h >> 11;
        break;
    case 2:
        h += le16(p);
        h ^= h << 11;
        h += h >> 17;
        break;
    case 1:
        h += p[0];
        h ^= h << 10;
        h += h >> 1;
        break;
    default:
        break;
    }
    /* the final avalanche */
    h ^= h << 3;
    h += h >> 5;
    h ^= h << 4;
    h += h >> 17;
    h ^= h << 25;
    h += h >> 6;
    return h;
}

mcf_hash_fn mcf_hash_function(int hash)
{
    switch (hash) {
    case MCF_HASH_ONE_AT_A_TIME: return mcf_hash_one_at_a_time;
    case MCF_HASH_MD5: return mcf_hash_md5;
    case MCF_HASH_CRC: return mcf_hash_crc_15bit;
    case MCF_HASH_FNV1_64: return mcf_hash_fnv1_64;
    case MCF_HASH_FNV1A_64: return mcf_hash_fnv1a_64;
    case MCF_HASH_FNV1_32: return mcf_hash_fnv1_32;
    case MCF_HASH_FNV1A_32: return mcf_hash_fnv1a_32;
    case MCF_HASH_HSIEH: return mcf_hash_hsieh;
    case MCF_HASH_MURMUR: return mcf_hash_murmur;
    case MCF_HASH_JENKINS: return mcf_hash_jenkins;
    case MCF_HASH_CRC32: return mcf_hash_crc32;
    case MCF_HASH_MURMUR3: return murmur3_lmc;
    default: return NULL;
    }
}

/* Names as pylibmc and twemproxy spell them.  twemproxy's "crc32" is the
 * 15-bit one (libmemcached's "crc"); its whole CRC-32 is "crc32a". */
static const struct {
    const char *name;
    int hash;
} hash_names[] = {
    {"default", MCF_HASH_DEFAULT},   {"one_at_a_time", MCF_HASH_ONE_AT_A_TIME},
    {"md5", MCF_HASH_MD5},           {"crc", MCF_HASH_CRC},
    {"fnv1_64", MCF_HASH_FNV1_64},   {"fnv1a_64", MCF_HASH_FNV1A_64},
    {"fnv1_32", MCF_HASH_FNV1_32},   {"fnv1a_32", MCF_HASH_FNV1A_32},
    {"hsieh", MCF_HASH_HSIEH},       {"murmur", MCF_HASH_MURMUR},
    {"jenkins", MCF_HASH_JENKINS},   {"crc32a", MCF_HASH_CRC32},
    {"murmur3", MCF_HASH_MURMUR3},   {"crc32", MCF_HASH_CRC},
};

int mcf_hash_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof hash_names / sizeof hash_names[0]; i++)
        if (strcmp(name, hash_names[i].name) == 0)
            return hash_names[i].hash;
    return -1;
}

const char *mcf_hash_name(int hash)
{
    for (size_t i = 0; i < sizeof hash_names / sizeof hash_names[0]; i++)
        if (hash_names[i].hash == hash)
            return hash_names[i].name;
    return NULL;
}
