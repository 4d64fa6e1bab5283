/* resolve.h - name resolution that never blocks: lookups on c-ares, driven
 * by the caller's poll loop, cancelled by the caller's deadline.
 *
 * What a spec resolves to:
 *   - unix paths, IP literals (inet_pton; a zone via if_nametoindex) and
 *     "localhost" (::1 and 127.0.0.1) are answered at once by addr.c, no
 *     lookup at all;
 *   - names go to c-ares (ares_getaddrinfo, AF_UNSPEC, no ADDRCONFIG flag).
 *     c-ares reads /etc/hosts first and then asks the DNS servers of
 *     /etc/resolv.conf ("lookup" order from resolv.conf or nsswitch.conf,
 *     "files dns" otherwise); both files are read from /etc, so the
 *     /etc/netns/NS/{hosts,resolv.conf} that `ip netns exec` bind-mounts
 *     over them are honoured too (tests/t_resolve_netns.sh).  A hosts-file
 *     name completes inside mcf_lookup_start, before any socket exists.
 *     Answers are in c-ares's RFC 6724 order, then interleaved by family
 *     (RFC 8305 §4, mcf_addr_interleave).
 *
 * Families: no AI_ADDRCONFIG and no second query.  glibc's AI_ADDRCONFIG
 * ignores loopback addresses, so on a host whose only IPv4 is 127.0.0.1 it
 * hides every IPv4 answer, a local memcached's 127.0.0.1 included
 * (/work/shared/mission/seed-scenario.md, Cache-Memcached-Fast#14); the old
 * fix, asking again without the flag, doubled the wait on a dead DNS server
 * (EAI_AGAIN).  Here one AF_UNSPEC query is made and mcf_addr_keep drops an
 * answer only when this host has no address at all of its family, loopback
 * counted, and never drops a loopback answer.  So there is never a retry,
 * on a timeout least of all.
 *
 * Caching: none.  Names are resolved at connect and reconnect time, and
 * again when the answer a live connection was made from expires
 * (refresh.c, MCF_OPT_DNS_TTL_MS): a cache here is what would make a
 * client keep connecting to a server's old address after its DNS record
 * moved.  The answer's TTL is reported (mcf_lookup.ttl_s) so the caller
 * knows when to ask again; hosts answers have no TTL (MCF_TTL_HOSTS).
 * Caching, where wanted, belongs to the host's stub resolver (nscd,
 * systemd-resolved, a local unbound).
 *
 * One mcf_resolver per client; like the client it is not thread-safe.  Its
 * c-ares channel is created on the first name lookup, and created anew:
 *   - after fork(): the child must not read replies meant for its parent on
 *     sockets they share.  ares_destroy only closes the child's copies of
 *     those descriptors (it sends nothing; close() of a copy leaves the
 *     parent's socket open), and lookups that were pending in the child are
 *     started again on the new channel;
 *   - when /etc/resolv.conf changed (another inode, size or mtime) and no
 *     lookup is in flight: c-ares 1.18 reads it only when a channel is
 *     made, and a long-lived client must follow a new DNS server as glibc
 *     does.
 *
 * ares_library_init: never called.  It is process-global (a reference
 * count and allocator hooks, not thread-safe), and in c-ares 1.18 on Linux
 * it does nothing a channel needs; a library must not take it from the
 * application, whose own calls are unaffected.
 *
 * Descriptors: c-ares's query sockets are opened by our socket functions
 * with SOCK_CLOEXEC | SOCK_NONBLOCK, and sent on with MSG_NOSIGNAL (c-ares
 * 1.18 itself would writev() on TCP: SIGPIPE).  c-ares still opens a few
 * descriptors we cannot reach, each closed before the call returns:
 * resolv.conf, nsswitch.conf, /dev/urandom (channel creation), /etc/hosts
 * (each lookup), and one UDP socket per answer for RFC 6724 source-address
 * selection (connect() on UDP sends nothing).
 */
#ifndef MCF_RESOLVE_H
#define MCF_RESOLVE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "spec.h"

/* The default bound of mcf_resolve: the default MCF_OPT_CONNECT_TIMEOUT_MS
 * (client.c), which covers resolution. */
#define MCF_RESOLVE_DEFAULT_TIMEOUT_MS 1000

/* mcf_resolver_pollset never returns more descriptors than this
 * (c-ares's ARES_GETSOCK_MAXNUM): a pollfd array this long is enough. */
#define MCF_RESOLVER_MAX_FDS 16

/* mcf_addrlist.source of a name's answer. */
#define MCF_SOURCE_CARES "c-ares"
#define MCF_SOURCE_CARES_NO_V4 "c-ares, IPv4 answers dropped: this host has no IPv4 address"
#define MCF_SOURCE_CARES_NO_V6 "c-ares, IPv6 answers dropped: this host has no IPv6 address"

/* mcf_lookup.ttl_s when the answer has no TTL: no lookup was made (IP
 * literals, "localhost", unix paths: they never change), or the name was
 * found in /etc/hosts (whose entries carry none). */
#define MCF_TTL_NONE (-1)
#define MCF_TTL_HOSTS (-2)

/* One per client; owns a c-ares channel, created lazily on the first name
 * lookup. */
typedef struct mcf_resolver mcf_resolver;

/* NULL on ENOMEM.  Creates no socket and reads no file. */
mcf_resolver *mcf_resolver_new(void);

/* Cancels pending lookups: their callbacks never run and their mcf_lookup
 * is never written after this returns.  Closes c-ares's sockets.  NULL is
 * fine. */
void mcf_resolver_free(mcf_resolver *r);

/* DNS servers to use instead of resolv.conf's, in c-ares's
 * ares_set_servers_ports_csv syntax ("127.0.0.1:5353,[::1]:53"); NULL
 * goes back to resolv.conf.  Kept for every channel this resolver makes
 * (after fork too).  Takes effect for lookups started afterwards; call it
 * with no lookup pending.  Returns MCF_OK, MCF_ERR_ARG for a list c-ares
 * rejects, MCF_ERR_NOMEM. */
int mcf_resolver_set_servers(mcf_resolver *r, const char *csv);

/* closing(arg, fd) is called before c-ares closes one of its sockets (an
 * event loop may be watching it); NULL: nothing to tell. */
void mcf_resolver_on_close(mcf_resolver *r, void (*closing)(void *arg, int fd), void *arg);

struct mcf_lookup_task; /* resolve.c */

typedef struct mcf_lookup { /* caller-owned; its address must stay stable while pending */
    int done;          /* 1 when finished (rc, list, err valid) */
    int rc;            /* MCF_OK, MCF_ERR_RESOLVE, MCF_ERR_NOMEM, MCF_ERR_RESOURCE */
    mcf_addrlist list; /* ordered for Happy Eyeballs (mcf_addr_interleave) */
    /* "resolve SPEC: why", e.g. "resolve mc1.example:11211: DNS server did
     * not answer (c-ares: Timeout while contacting DNS servers)", or "no
     * such name (c-ares: Domain name not found)". */
    char err[256];
    /* Seconds the answer may be kept: the smallest TTL of the DNS records
     * kept in list (RFC 1035 §3.2.1; c-ares's ai_ttl), or MCF_TTL_NONE,
     * MCF_TTL_HOSTS.  Set when done with MCF_OK. */
    int ttl_s;
    /* private */
    struct mcf_lookup_task *task; /* non-NULL while pending */
} mcf_lookup;

/* Starts resolving spec.  IP literals, "localhost" and unix paths are
 * answered at once without any lookup (done = 1 on return); so are names
 * found in /etc/hosts and lookups that fail before anything is sent.
 * Other names stay pending until mcf_resolver_step completes them.
 * Returns MCF_OK when pending or answered, else q->rc (done = 1).
 * q must not already be pending. */
int mcf_lookup_start(mcf_resolver *r, const mcf_spec *spec, mcf_lookup *q);

/* Abandons a pending lookup (deadline passed): it will never complete or
 * be written to.  When no other lookup is pending, c-ares's queries are
 * cancelled too (no more retransmissions, sockets idle).  A lookup that is
 * done or was never started is left alone. */
void mcf_lookup_cancel(mcf_resolver *r, mcf_lookup *q);

/* The sockets c-ares wants watched (fd + POLLIN/POLLOUT), at most cap;
 * returns the count.  *timer_us: the absolute mcf_now_us() time by which
 * mcf_resolver_step must be called again even without events (INT64_MAX
 * when nothing is pending). */
size_t mcf_resolver_pollset(mcf_resolver *r, struct pollfd *out, size_t cap, int64_t *timer_us);

/* Processes the revents of fds from mcf_resolver_pollset (n may be 0:
 * timers only) and completes lookups (sets done/rc/list/err).  Entries
 * for descriptors c-ares does not own are ignored. */
void mcf_resolver_step(mcf_resolver *r, const struct pollfd *fds, size_t n);
/* Reads what r's sockets hold and runs its timers, without waiting (a
 * zero-timeout poll of them): for a loop owner that only says "something
 * happened". */
void mcf_resolver_poll_now(mcf_resolver *r);

/* Nonzero when lookups are pending (started, not done, not cancelled). */
int mcf_resolver_busy(const mcf_resolver *r);

/* Drives r (poll on mcf_resolver_pollset, then mcf_resolver_step) until q
 * is done or timeout_ms has passed; then q is cancelled and completed with
 * MCF_ERR_RESOLVE, "resolve SPEC: DNS server did not answer within N ms".
 * Other lookups of r make progress meanwhile.  Returns q->rc; MCF_ERR_ARG
 * for a q that was never started. */
int mcf_lookup_wait(mcf_resolver *r, mcf_lookup *q, int timeout_ms);

/* Resolves spec with a private resolver, blocking for at most timeout_ms
 * (poll on mcf_resolver_pollset).  Returns 0 with out filled, or
 * MCF_ERR_RESOLVE ("resolve SPEC: DNS server did not answer within N ms"
 * when the time ran out), MCF_ERR_NOMEM, MCF_ERR_RESOURCE with err. */
int mcf_resolve_timeout(const mcf_spec *spec, mcf_addrlist *out, int timeout_ms, char *err,
                        size_t errlen);

/* mcf_resolve (declared in addr.h) is mcf_resolve_timeout with
 * MCF_RESOLVE_DEFAULT_TIMEOUT_MS. */

#endif
