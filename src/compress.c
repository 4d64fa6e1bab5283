/* compress.c - compression of values, flagged with MCF_FLAG_COMPRESSED (0x2)
 * as Cache::Memcached and Cache::Memcached::Fast do.  Both write the gzip
 * format (Compress::Zlib::memGzip, magic 1f 8b), so mcfast writes gzip too;
 * reading accepts gzip and the zlib format (inflateInit2 with 15 + 32). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (!p)
        return -1;
    *buf = p;
    *cap = n;
    return 0;
}

int mcf_compress(mcf_client *c, const void *src, size_t len, size_t *off, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* windowBits 15 + 16: a gzip header and trailer, as memGzip writes. */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return MCF_ERR_NOMEM;
    size_t bound = deflateBound(&zs, (uLong)len);
    if (grow(&c->zbuf, &c->zcap, c->zused + bound) < 0) {
        deflateEnd(&zs);
        return MCF_ERR_NOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)c->zbuf + c->zused;
    zs.avail_out = (uInt)bound;
    int zrc = deflate(&zs, Z_FINISH);
    size_t dlen = bound - zs.avail_out;
    deflateEnd(&zs);
    if (zrc != Z_STREAM_END)
        return MCF_ERR_COMPRESS;
    /* Keep it only if it saves enough: compressed <= ratio% of the original. */
    if ((uint64_t)dlen * 100 > (uint64_t)len * (uint64_t)c->compress_ratio)
        return 0;
    *off = c->zused;
    *out_len = dlen;
    c->zused += dlen;
    return 1;
}

int mcf_inflate(mcf_client *c, const char *src, size_t len, const char **out, size_t *out_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* 15 + 32: detect gzip or zlib from the header. */
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        return MCF_ERR_NOMEM;
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)len;
    size_t produced = 0;
    int zrc;
    for (;;) {
        size_t want = produced + (len * 4 > 4096 ? len * 4 : 4096);
        if (want > c->max_inflate_size + 1)
            want = c->max_inflate_size + 1;
        if (grow(&c->ibuf, &c->icap, want) < 0) {
            inflateEnd(&zs);
            return MCF_ERR_NOMEM;
        }
        zs.next_out = (Bytef *)c->ibuf + produced;
        zs.avail_out = (uInt)(c->icap - produced);
        zrc = inflate(&zs, Z_NO_FLUSH);
        produced = c->icap - zs.avail_out;
        if (zrc == Z_STREAM_END)
            break;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            inflateEnd(&zs);
            return MCF_ERR_COMPRESS;
        }
        if (produced > c->max_inflate_size) {
            inflateEnd(&zs);
            return MCF_ERR_TOO_LARGE;
        }
        if (zs.avail_in == 0 && zs.avail_out != 0) { /* truncated stream */
            inflateEnd(&zs);
            return MCF_ERR_COMPRESS;
        }
    }
    inflateEnd(&zs);
    if (produced > c->max_inflate_size)
        return MCF_ERR_TOO_LARGE;
    *out = c->ibuf;
    *out_len = produced;
    return MCF_OK;
}
