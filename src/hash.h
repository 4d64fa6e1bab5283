/* hash.h - the key hash functions of other memcached clients and proxies.
 * Pure: no allocation, no state, any bytes (fuzz-safe: keys may hold
 * anything, of any length).
 *
 * Each function returns the 32-bit value the named client computes, not
 * necessarily the textbook value: libmemcached's libhashkit and
 * twemproxy (nutcracker) read key bytes as plain `char`, which is signed
 * on x86, so for bytes >= 0x80 their one-at-a-time and FNV hashes see
 * 0xffffff80.. where the algorithms' authors add 0x80..  We do the same on
 * every machine (the x86 behaviour, which is what fleets run), so the
 * placement of such keys does not depend on where mcfast runs.
 */
#ifndef MCF_HASH_H
#define MCF_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Bob Jenkins' one-at-a-time hash (Dr. Dobb's Journal, September 1997,
 * "Hash Functions"), bytes sign-extended: libmemcached's default hash. */
uint32_t mcf_hash_one_at_a_time(const char *key, size_t len);

/* Fowler/Noll/Vo hashes (the FNV spec: draft-eastlake-fnv, offset basis
 * and prime from there).  The _64 ones are libhashkit's and twemproxy's:
 * the low 32 bits of the 64-bit hash, bytes sign-extended. */
uint32_t mcf_hash_fnv1_32(const char *key, size_t len);
uint32_t mcf_hash_fnv1a_32(const char *key, size_t len);
uint32_t mcf_hash_fnv1_64(const char *key, size_t len);
uint32_t mcf_hash_fnv1a_64(const char *key, size_t len);

/* The CRC-32 of ISO 3309 / ITU-T V.42 (zlib's crc32). */
uint32_t mcf_hash_crc32(const char *key, size_t len);
/* libmemcached's "crc" (and twemproxy's "crc32"): bits 16..30 of the CRC-32,
 * the hash Cache::Memcached uses too. */
uint32_t mcf_hash_crc_15bit(const char *key, size_t len);

/* The first 32-bit word of the MD5 digest (RFC 1321), little-endian, as
 * libmemcached's and twemproxy's md5 hash read it. */
uint32_t mcf_hash_md5(const char *key, size_t len);

/* Bob Jenkins' lookup3 hashlittle() (burtleburtle.net/bob/c/lookup3.c,
 * 2006) with an initial value; libmemcached's "jenkins" is initval 13. */
uint32_t mcf_hash_lookup3(const void *key, size_t len, uint32_t initval);
uint32_t mcf_hash_jenkins(const char *key, size_t len);

/* MurmurHash2 by Austin Appleby (32-bit, m = 0x5bd1e995, r = 24) with a
 * seed; libmemcached's and twemproxy's "murmur" seed it with
 * 0xdeadbeef * len. */
uint32_t mcf_hash_murmur2(const void *key, size_t len, uint32_t seed);
uint32_t mcf_hash_murmur(const char *key, size_t len);

/* MurmurHash3_x86_32 by Austin Appleby (SMHasher), with a seed. */
uint32_t mcf_hash_murmur3_32(const void *key, size_t len, uint32_t seed);

/* MurmurHash3_x86_32 fed piecewise: the same value as one call over the
 * concatenated input.  pymemcache hashes "node-key" per server; the
 * state after "node-" is kept per server. */
typedef struct mcf_murmur3 {
    uint32_t h;
    uint32_t tail;   /* bytes not yet making up a 4-byte block, little-endian */
    uint32_t ntail;  /* how many (0..3) */
    uint32_t len;    /* bytes fed in all, mod 2^32 as the algorithm takes it */
} mcf_murmur3;
void mcf_murmur3_init(mcf_murmur3 *m, uint32_t seed);
void mcf_murmur3_byte(mcf_murmur3 *m, unsigned char b);
void mcf_murmur3_bytes(mcf_murmur3 *m, const void *p, size_t n);
uint32_t mcf_murmur3_final(const mcf_murmur3 *m);

/* Paul Hsieh's SuperFastHash (azillionmonkeys.com/qed/hash.html) as
 * twemproxy computes it: started from 0 rather than the length, the last
 * byte of a 3-byte tail sign-extended, a 1-byte tail not. */
uint32_t mcf_hash_hsieh(const char *key, size_t len);

/* One of the public mcf_hash values (not MCF_HASH_DEFAULT): the function. */
typedef uint32_t (*mcf_hash_fn)(const char *key, size_t len);
mcf_hash_fn mcf_hash_function(int hash);

/* The mcf_hash of a name ("fnv1a_64", "one_at_a_time", ..., "default";
 * also twemproxy's "crc32" for crc and "crc32a" for the whole CRC-32), or
 * -1; and the name of an mcf_hash (NULL if none). */
int mcf_hash_by_name(const char *name);
const char *mcf_hash_name(int hash);

#endif
