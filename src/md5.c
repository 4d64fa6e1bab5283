/* md5.c - MD5 per RFC 1321 (see md5.h).  Section numbers below are the
 * RFC's.  The whole message is hashed in one call, so there is no
 * context: whole blocks are read straight from the input, and only the
 * tail (with its padding and length) is copied, into one or two blocks on
 * the stack. */
#include "md5.h"

#include <stdint.h>
#include <string.h>

#define BLOCK 64     /* bytes per block (3.4: sixteen 32-bit words) */
#define LEN_FIELD 8  /* the message length in bits, 64-bit little-endian (3.2) */
#define PAD_BYTE 0x80 /* padding: one 1 bit, then 0 bits (3.1) */

/* 3.4: the four auxiliary functions, F and G in the equivalent forms with
 * one operation fewer (z ^ (x & (y ^ z)) selects y where x is set, z where
 * not, as XY v not(X) Z does). */
#define F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define H(x, y, z) ((x) ^ (y) ^ (z))
#define I(x, y, z) ((y) ^ ((x) | ~(z)))

/* 3.4: a = b + ((a + f(b,c,d) + X[k] + T[i]) <<< s).  Shifts are 4..23,
 * never 0 or 32, so the rotation is defined. */
#define STEP(f, a, b, c, d, xk, t, s)                                                  \
    do {                                                                               \
        (a) += f((b), (c), (d)) + (xk) + (uint32_t)(t);                                \
        (a) = ((a) << (s) | (a) >> (32 - (s))) + (b);                                  \
    } while (0)

/* 3.4: words are read low-order byte first.  Compilers make this one
 * load on little-endian machines. */
static inline uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* 3.4: one 16-word block into the state.  T[i] is the integer part of
 * 4294967296 * abs(sin(i)), i in radians, as the RFC tabulates; the
 * word order and shifts per round are the RFC's. */
static void block(uint32_t st[4], const unsigned char *p)
{
    uint32_t x[16];
    for (int i = 0; i < 16; i++)
        x[i] = load_le32(p + 4 * i);
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];

    /* Round 1 */
    STEP(F, a, b, c, d, x[ 0], 0xd76aa478,  7);
    STEP(F, d, a, b, c, x[ 1], 0xe8c7b756, 12);
    STEP(F, c, d, a, b, x[ 2], 0x242070db, 17);
    STEP(F, b, c, d, a, x[ 3], 0xc1bdceee, 22);
    STEP(F, a, b, c, d, x[ 4], 0xf57c0faf,  7);
    STEP(F, d, a, b, c, x[ 5], 0x4787c62a, 12);
    STEP(F, c, d, a, b, x[ 6], 0xa8304613, 17);
    STEP(F, b, c, d, a, x[ 7], 0xfd469501, 22);
    STEP(F, a, b, c, d, x[ 8], 0x698098d8,  7);
    STEP(F, d, a, b, c, x[ 9], 0x8b44f7af, 12);
    STEP(F, c, d, a, b, x[10], 0xffff5bb1, 17);
    STEP(F, b, c, d, a, x[11], 0x895cd7be, 22);
    STEP(F, a, b, c, d, x[12], 0x6b901122,  7);
    STEP(F, d, a, b, c, x[13], 0xfd987193, 12);
    STEP(F, c, d, a, b, x[14], 0xa679438e, 17);
    STEP(F, b, c, d, a, x[15], 0x49b40821, 22);
    /* Round 2 */
    STEP(G, a, b, c, d, x[ 1], 0xf61e2562,  5);
    STEP(G, d, a, b, c, x[ 6], 0xc040b340,  9);
    STEP(G, c, d, a, b, x[11], 0x265e5a51, 14);
    STEP(G, b, c, d, a, x[ 0], 0xe9b6c7aa, 20);
    STEP(G, a, b, c, d, x[ 5], 0xd62f105d,  5);
    STEP(G, d, a, b, c, x[10], 0x02441453,  9);
    STEP(G, c, d, a, b, x[15], 0xd8a1e681, 14);
    STEP(G, b, c, d, a, x[ 4], 0xe7d3fbc8, 20);
    STEP(G, a, b, c, d, x[ 9], 0x21e1cde6,  5);
    STEP(G, d, a, b, c, x[14], 0xc33707d6,  9);
    STEP(G, c, d, a, b, x[ 3], 0xf4d50d87, 14);
    STEP(G, b, c, d, a, x[ 8], 0x455a14ed, 20);
    STEP(G, a, b, c, d, x[13], 0xa9e3e905,  5);
    STEP(G, d, a, b, c, x[ 2], 0xfcefa3f8,  9);
    STEP(G, c, d, a, b, x[ 7], 0x676f02d9, 14);
    STEP(G, b, c, d, a, x[12], 0x8d2a4c8a, 20);
    /* Round 3 */
    STEP(H, a, b, c, d, x[ 5], 0xfffa3942,  4);
    STEP(H, d, a, b, c, x[ 8], 0x8771f681, 11);
    STEP(H, c, d, a, b, x[11], 0x6d9d6122, 16);
    STEP(H, b, c, d, a, x[14], 0xfde5380c, 23);
    STEP(H, a, b, c, d, x[ 1], 0xa4beea44,  4);
    STEP(H, d, a, b, c, x[ 4], 0x4bdecfa9, 11);
    STEP(H, c, d, a, b, x[ 7], 0xf6bb4b60, 16);
    STEP(H, b, c, d, a, x[10], 0xbebfbc70, 23);
    STEP(H, a, b, c, d, x[13], 0x289b7ec6,  4);
    STEP(H, d, a, b, c, x[ 0], 0xeaa127fa, 11);
    STEP(H, c, d, a, b, x[ 3], 0xd4ef3085, 16);
    STEP(H, b, c, d, a, x[ 6], 0x04881d05, 23);
    STEP(H, a, b, c, d, x[ 9], 0xd9d4d039,  4);
    STEP(H, d, a, b, c, x[12], 0xe6db99e5, 11);
    STEP(H, c, d, a, b, x[15], 0x1fa27cf8, 16);
    STEP(H, b, c, d, a, x[ 2], 0xc4ac5665, 23);
    /* Round 4 */
    STEP(I, a, b, c, d, x[ 0], 0xf4292244,  6);
    STEP(I, d, a, b, c, x[ 7], 0x432aff97, 10);
    STEP(I, c, d, a, b, x[14], 0xab9423a7, 15);
    STEP(I, b, c, d, a, x[ 5], 0xfc93a039, 21);
    STEP(I, a, b, c, d, x[12], 0x655b59c3,  6);
    STEP(I, d, a, b, c, x[ 3], 0x8f0ccc92, 10);
    STEP(I, c, d, a, b, x[10], 0xffeff47d, 15);
    STEP(I, b, c, d, a, x[ 1], 0x85845dd1, 21);
    STEP(I, a, b, c, d, x[ 8], 0x6fa87e4f,  6);
    STEP(I, d, a, b, c, x[15], 0xfe2ce6e0, 10);
    STEP(I, c, d, a, b, x[ 6], 0xa3014314, 15);
    STEP(I, b, c, d, a, x[13], 0x4e0811a1, 21);
    STEP(I, a, b, c, d, x[ 4], 0xf7537e82,  6);
    STEP(I, d, a, b, c, x[11], 0xbd3af235, 10);
    STEP(I, c, d, a, b, x[ 2], 0x2ad7d2bb, 15);
    STEP(I, b, c, d, a, x[ 9], 0xeb86d391, 21);

    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

void mcf_md5(const void *p, size_t n, unsigned char out[MCF_MD5_LEN])
{
    /* 3.3: the initial state, words A B C D. */
    uint32_t st[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    const unsigned char *in = p;
    size_t whole = n - n % BLOCK;
    for (size_t off = 0; off < whole; off += BLOCK)
        block(st, in + off);

    /* 3.1, 3.2: the rest, the pad byte, zeros up to 56 mod 64 and the bit
     * length (mod 2^64): one block when the rest leaves room for the pad
     * byte and the length (up to 55 bytes), else two. */
    unsigned char tail[2 * BLOCK];
    size_t rest = n - whole;
    size_t end = rest + 1 + LEN_FIELD <= BLOCK ? BLOCK : 2 * BLOCK;
    if (rest)
        memcpy(tail, in + whole, rest);
    tail[rest] = PAD_BYTE;
    memset(tail + rest + 1, 0, end - LEN_FIELD - rest - 1);
    uint64_t bits = (uint64_t)n << 3;
    store_le32(tail + end - LEN_FIELD, (uint32_t)bits);
    store_le32(tail + end - LEN_FIELD + 4, (uint32_t)(bits >> 32));
    block(st, tail);
    if (end > BLOCK)
        block(st, tail + BLOCK);

    /* 3.5: the digest is A B C D, each low-order byte first. */
    for (int i = 0; i < 4; i++)
        store_le32(out + 4 * i, st[i]);
}
