/* addr.h - socket addresses: what a spec means without asking any resolver,
 * the list of addresses to try, and which families this host can use.
 *
 * IP literals (v4, v6, v6 with zone) are parsed here with inet_pton and
 * if_nametoindex, never handed to a resolver: glibc's getaddrinfo with
 * AI_ADDRCONFIG ignores loopback addresses and so drops 127.0.0.1 on a host
 * whose only IPv4 is loopback (seed scenario; Cache-Memcached-Fast#14).
 * "localhost" is answered here with ::1 and 127.0.0.1 (as curl does).
 * Names are resolved by src/resolve.c (c-ares, never AI_ADDRCONFIG); the
 * family rule applied to its answers is mcf_addr_keep() below.
 */
#ifndef MCF_ADDR_H
#define MCF_ADDR_H

#include <stddef.h>
#include <stdint.h>
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
    /* How the list was obtained, for `mcfast resolve` and error messages
     * (a static string): "literal", "localhost", "unix", or one of the
     * MCF_SOURCE_* strings of resolve.h. */
    const char *source;
} mcf_addrlist;

/* Answers spec when no resolver is needed: a unix path, an IP literal (a
 * zone by interface name or index), "localhost"/"localhost.".  Returns 0
 * with *need_lookup = 0 and out filled (source set), 0 with
 * *need_lookup = 1 and out empty when spec->host is a name, or
 * MCF_ERR_RESOLVE with err naming the spec (bad unix path, empty host,
 * unknown zone). */
int mcf_addr_local(const mcf_spec *spec, mcf_addrlist *out, int *need_lookup, char *err,
                   size_t errlen);

/* Appends an IPv4 or IPv6 socket address with its port replaced by port,
 * unless the list is full, the family is another one, or the address is
 * already there (resolvers repeat answers, e.g. a name listed twice in
 * /etc/hosts).  Returns 1 when appended, else 0. */
int mcf_addr_add(mcf_addrlist *l, const struct sockaddr *sa, socklen_t len, uint16_t port);

/* Families in mcf_host_families() masks. */
#define MCF_FAM_V4 1u
#define MCF_FAM_V6 2u

/* The families this host has at least one address of, loopback included
 * (getifaddrs).  Both when getifaddrs fails: then nothing is dropped. */
unsigned mcf_host_families(void);

/* The family rule for resolver answers (it replaces AI_ADDRCONFIG): keep an
 * address unless this host has no address at all of its family (as given
 * by mcf_host_families), and always keep a loopback address (127.0.0.0/8,
 * ::1).  Unlike glibc's AI_ADDRCONFIG, loopback addresses count: glibc
 * ignores 127.0.0.1 and ::1, so on the seed host (IPv4 only on loopback) it
 * hides every IPv4 answer, including a local memcached's 127.0.0.1.  What
 * this still drops is the truly unusable: AAAA answers on a host with IPv6
 * switched off entirely, A answers on one without any IPv4.  Returns 1 to
 * keep. */
int mcf_addr_keep(const struct sockaddr *sa, unsigned host_families);

/* Interleaves families in place (RFC 8305 §4), keeping order within a family. */
void mcf_addr_interleave(mcf_addrlist *l);

/* "127.0.0.1:11211", "[::1]:11211", "[fe80::1%eth0]:11211", "/path.sock". */
void mcf_addr_format(const mcf_addr *a, char *buf, size_t buflen);

/* "IPv4", "IPv6", "unix". */
const char *mcf_family_name(int family);

/* Resolves spec, blocking for at most MCF_RESOLVE_DEFAULT_TIMEOUT_MS.
 * Defined in resolve.c (a poll loop over the asynchronous resolver, one
 * layer above this file) and declared here only so that callers written
 * before resolve.h (connect.c) keep building; new code includes resolve.h
 * and uses mcf_lookup_start or mcf_resolve_timeout.  Returns 0, or
 * MCF_ERR_RESOLVE / MCF_ERR_NOMEM / MCF_ERR_RESOURCE with err naming the
 * spec. */
int mcf_resolve(const mcf_spec *spec, mcf_addrlist *out, char *err, size_t errlen);

#endif
