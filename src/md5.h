/* md5.h - MD5 (RFC 1321) as one pure function: no allocation, no state.
 *
 * Only for libmemcached-compatible ketama (dist.c), where MD5 is a
 * distribution hash fixed by the other client, not a security measure. */
#ifndef MCF_MD5_H
#define MCF_MD5_H

#include <stddef.h>

#define MCF_MD5_LEN 16 /* digest bytes */

/* The MD5 digest of p[0..n) into out.  Hashes on the stack; tuned for
 * short inputs (a key or a ketama point name: one or two blocks). */
void mcf_md5(const void *p, size_t n, unsigned char out[MCF_MD5_LEN]);

#endif
