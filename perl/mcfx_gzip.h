/*
 * mcfx_gzip.h - Cache::Memcached::Fast's default value compression, in C.
 *
 * Cache::Memcached::Fast compresses with Compress::Zlib::memGzip and
 * inflates with memGunzip unless the user gives compress_methods.  These
 * functions write the same bytes as memGzip (so either module reads what
 * the other stored, and both leave identical items on the server) and
 * accept exactly what memGunzip accepts.  No Perl API here: the binding
 * (Mcfast.xs) owns the scalars.
 */
#ifndef MCFX_GZIP_H
#define MCFX_GZIP_H

#include <stddef.h>
#include <zlib.h>

typedef struct mcfx_gz {
    z_stream def;      /* deflate state, kept and reset between values */
    int def_ready;
    z_stream inf;      /* inflate state, likewise */
    int inf_ready;
    unsigned char *out; /* inflated bytes of the last mcfx_gunzip */
    size_t out_cap;
} mcfx_gz;

/* Bytes that always hold mcfx_gzip's output for len input bytes. */
size_t mcfx_gzip_bound(mcfx_gz *gz, size_t len);

/* Compresses len bytes of src into dst (mcfx_gzip_bound(len) bytes) as
 * memGzip does: a 10-byte gzip header with mtime 0 and OS 255, a raw
 * deflate stream at Z_BEST_COMPRESSION, the CRC-32 and the length.
 * Returns the output length, or 0 when zlib failed (memGzip's undef). */
size_t mcfx_gzip(mcfx_gz *gz, const void *src, size_t len, unsigned char *dst);

/* Inflates as memGunzip does: 1 and (*out, *out_len) (valid until the next
 * call on gz) on success, 0 where memGunzip returns undef, -1 when memory
 * ran out. */
int mcfx_gunzip(mcfx_gz *gz, const void *src, size_t len, const unsigned char **out,
                size_t *out_len);

void mcfx_gz_free(mcfx_gz *gz);

#endif
