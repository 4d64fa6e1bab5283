/*
 * mcfx_gzip.c - memGzip's bytes and memGunzip's acceptance, in C.
 *
 * Facts from Compress::Zlib 2.105 (perl's Compress/Zlib.pm), which
 * Cache::Memcached::Fast's default compress_methods call:
 *   memGzip   = the minimal gzip header (RFC 1952 section 2.3: ID1 ID2,
 *               CM 8, FLG 0, MTIME 0, XFL 0, OS 255), a raw deflate stream
 *               (windowBits -15, level Z_BEST_COMPRESSION, memLevel 9,
 *               Z_DEFAULT_STRATEGY) fed by one deflate(Z_NO_FLUSH) over the
 *               whole input, then deflate(Z_FINISH), and the trailer
 *               CRC-32, ISIZE (little-endian).
 *   memGunzip = the header checked (magic, CM 8, no reserved FLG bits;
 *               FEXTRA, FNAME, FCOMMENT and FHCRC skipped, not verified),
 *               raw inflate that must reach the end of the stream, then,
 *               only when at least 8 bytes follow it, CRC-32 and length
 *               checked against the output; bytes after that are ignored.
 * Both use the system zlib here (Debian's Compress::Raw::Zlib links
 * libz.so), so the same zlib gives the same deflate output; t/07-gzip.t
 * checks it byte for byte against memGzip.
 */
#include "mcfx_gzip.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    GZ_HEADER = 10,   /* RFC 1952 fixed header */
    GZ_TRAILER = 8,   /* CRC32 + ISIZE */
    GZ_ID1 = 0x1f,
    GZ_ID2 = 0x8b,
    GZ_CM_DEFLATE = 8,
    GZ_OS_UNKNOWN = 0xff, /* what memGzip writes (IO::Compress::Gzip's GZIP_OS_DEFAULT) */
    GZ_FHCRC = 0x02,
    GZ_FEXTRA = 0x04,
    GZ_FNAME = 0x08,
    GZ_FCOMMENT = 0x10,
    GZ_FRESERVED = 0xe0,
    GZ_MEM_LEVEL = 9, /* MAX_MEM_LEVEL, as memGzip asks */
    GZ_RAW_WBITS = -15,
    GZ_MIN_OUT = 4096 /* first inflate buffer */
};

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int def_ready(mcfx_gz *gz)
{
    if (gz->def_ready)
        return deflateReset(&gz->def) == Z_OK;
    memset(&gz->def, 0, sizeof gz->def);
    if (deflateInit2(&gz->def, Z_BEST_COMPRESSION, Z_DEFLATED, GZ_RAW_WBITS, GZ_MEM_LEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    gz->def_ready = 1;
    return 1;
}

size_t mcfx_gzip_bound(mcfx_gz *gz, size_t len)
{
    if (len > UINT_MAX || !def_ready(gz))
        return GZ_HEADER + GZ_TRAILER;
    return GZ_HEADER + (size_t)deflateBound(&gz->def, (uLong)len) + GZ_TRAILER;
}

size_t mcfx_gzip(mcfx_gz *gz, const void *src, size_t len, unsigned char *dst)
{
    if (len > UINT_MAX || !def_ready(gz))
        return 0;
    size_t room = (size_t)deflateBound(&gz->def, (uLong)len);
    static const unsigned char header[GZ_HEADER] = {GZ_ID1, GZ_ID2, GZ_CM_DEFLATE, 0, 0, 0,
                                                    0,      0,      0,             GZ_OS_UNKNOWN};
    memcpy(dst, header, GZ_HEADER);
    z_stream *z = &gz->def;
    z->next_in = (Bytef *)(uintptr_t)src;
    z->avail_in = (uInt)len;
    z->next_out = dst + GZ_HEADER;
    z->avail_out = (uInt)room;
    /* Compress::Raw::Zlib's deflate() only calls zlib while input is left. */
    if (len && deflate(z, Z_NO_FLUSH) != Z_OK)
        return 0;
    if (deflate(z, Z_FINISH) != Z_STREAM_END)
        return 0;
    size_t out = GZ_HEADER + (room - z->avail_out);
    put_le32(dst + out, (uint32_t)crc32_z(0L, (const Bytef *)src, len));
    put_le32(dst + out + 4, (uint32_t)len);
    return out + GZ_TRAILER;
}

/* The offset of the deflate stream after memGunzip's header checks, or 0. */
static size_t skip_header(const unsigned char *p, size_t len)
{
    if (len < GZ_HEADER || p[0] != GZ_ID1 || p[1] != GZ_ID2 || p[2] != GZ_CM_DEFLATE ||
        (p[3] & GZ_FRESERVED))
        return 0;
    unsigned flg = p[3];
    size_t at = GZ_HEADER;
    if (flg & GZ_FEXTRA) {
        if (len - at < 2)
            return 0;
        size_t xlen = (size_t)p[at] | (size_t)p[at + 1] << 8;
        if (len - at < xlen + 2)
            return 0;
        at += xlen + 2;
    }
    for (unsigned bit = GZ_FNAME; bit <= GZ_FCOMMENT; bit <<= 1) {
        if (!(flg & bit))
            continue;
        const unsigned char *nul = memchr(p + at, 0, len - at);
        if (!nul)
            return 0;
        at = (size_t)(nul - p) + 1;
    }
    if (flg & GZ_FHCRC) {
        if (len - at < 2)
            return 0;
        at += 2;
    }
    return at;
}

static int grow_out(mcfx_gz *gz, size_t need)
{
    if (need <= gz->out_cap)
        return 1;
    size_t cap = gz->out_cap ? gz->out_cap : GZ_MIN_OUT;
    while (cap < need)
        cap *= 2;
    unsigned char *p = realloc(gz->out, cap);
    if (!p)
        return 0;
    gz->out = p;
    gz->out_cap = cap;
    return 1;
}

int mcfx_gunzip(mcfx_gz *gz, const void *src, size_t len, const unsigned char **out,
                size_t *out_len)
{
    const unsigned char *p = src;
    size_t at = skip_header(p, len);
    if (!at || len - at > UINT_MAX)
        return 0;
    z_stream *z = &gz->inf;
    if (gz->inf_ready) {
        if (inflateReset(z) != Z_OK)
            return 0;
    } else {
        memset(z, 0, sizeof *z);
        if (inflateInit2(z, GZ_RAW_WBITS) != Z_OK)
            return -1;
        gz->inf_ready = 1;
    }
    /* memGunzip's first buffer is the input's size, at least 4096. */
    if (!grow_out(gz, len > GZ_MIN_OUT ? len : GZ_MIN_OUT))
        return -1;
    z->next_in = (Bytef *)(uintptr_t)(p + at);
    z->avail_in = (uInt)(len - at);
    size_t have = 0;
    for (;;) {
        if (have == gz->out_cap && !grow_out(gz, gz->out_cap * 2))
            return -1;
        size_t room = gz->out_cap - have;
        if (room > UINT_MAX)
            room = UINT_MAX;
        z->next_out = gz->out + have;
        z->avail_out = (uInt)room;
        int zrc = inflate(z, Z_SYNC_FLUSH);
        have += room - z->avail_out;
        if (zrc == Z_STREAM_END)
            break;
        /* Input used up before the end (memGunzip: Z_OK, "incomplete"), or
         * a data error: undef either way. */
        if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return zrc == Z_MEM_ERROR ? -1 : 0;
        if (z->avail_out != 0)
            return 0;
    }
    size_t rest = z->avail_in;
    if (rest >= GZ_TRAILER) {
        const unsigned char *t = z->next_in;
        if ((uint64_t)get_le32(t + 4) != (uint64_t)have ||
            get_le32(t) != (uint32_t)crc32_z(0L, gz->out, have))
            return 0;
    }
    *out = gz->out;
    *out_len = have;
    return 1;
}

void mcfx_gz_free(mcfx_gz *gz)
{
    if (gz->def_ready)
        deflateEnd(&gz->def);
    if (gz->inf_ready)
        inflateEnd(&gz->inf);
    free(gz->out);
    memset(gz, 0, sizeof *gz);
}
