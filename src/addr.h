/* addr.h - turning a spec into the ordered list of socket addresses to try.
 *
 * IP literals (v4, v6, v6 with zone) are parsed here with inet_pton and
 * if_nametoindex, never handed to getaddrinfo with AI_ADDRCONFIG: glibc's
 * AI_ADDRCONFIG ignores loopback addresses and so drops 127.0.0.1 on a host
 * whose only IPv4 is loopback (seed scenario; Cache-Memcached-Fast#14).
 * "localhost" is answered locally with ::1 and 127.0.0.1 (as curl does).
 * Other names go to getaddrinfo(AF_UNSPEC) with AI_ADDRCONFIG, retried
 * without it on EAI_ADDRFAMILY, EAI_NONAME, EAI_NODATA or an empty answer,
 * and, when a family has only loopback addresses here (so AI_ADDRCONFIG
 * narrowed the query), also on other errors and one-family answers.
 */
#ifndef MCF_ADDR_H
#define MCF_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "spec.h"

#define MCF_MAX_ADDRS 16
#define MCF_ADDRSTR_MAX (MCF_SPEC_TEXT_MAX + 64)

typedef struct mcf_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    int family; /* AF_INET, AF_INET6, AF_UNIX */
} mcf_addr;

typedef struct mcf_addrlist {
    mcf_addr addr[MCF_MAX_ADDRS];
    size_t n;
    /* How the list was obtained, for `mcfast resolve` and error messages:
     * "literal", "localhost", "getaddrinfo", "getaddrinfo without AI_ADDRCONFIG", "unix". */
    const char *source;
} mcf_addrlist;

/* Resolves spec into addresses ordered for Happy Eyeballs (RFC 8305 §4:
 * families interleaved, starting with the family of the first answer).
 * Returns 0, or MCF_ERR_RESOLVE with err naming the spec and the
 * getaddrinfo error. */
int mcf_resolve(const mcf_spec *spec, mcf_addrlist *out, char *err, size_t errlen);

/* Interleaves families in place (RFC 8305 §4), keeping order within a family. */
void mcf_addr_interleave(mcf_addrlist *l);

/* "127.0.0.1:11211", "[::1]:11211", "[fe80::1%eth0]:11211", "/path.sock". */
void mcf_addr_format(const mcf_addr *a, char *buf, size_t buflen);

/* "IPv4", "IPv6", "unix". */
const char *mcf_family_name(int family);

#endif
