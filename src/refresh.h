/* refresh.h - following DNS changes without a restart: the name of a live
 * connection is looked up again when the answer it was made from expires
 * (MCF_OPT_DNS_TTL_MS), beside the caller's traffic and without blocking.
 * While the connected address is still among the answers the connection
 * stays; once it is not, the connection is stale and is closed (gracefully;
 * the blocking driver synchronises noreply traffic first) as soon as nothing
 * is in flight on it, so the next request connects to the new address.  A lookup that fails
 * (timeout, SERVFAIL, no such name) keeps the connection and is tried
 * again later: a DNS outage never costs a working connection.  No request
 * of the caller's waits for a lookup or fails because of one: the blocking
 * driver ticks at the start of each call (one comparison when nothing is
 * due, c->dns_next_us), the async core from its timer and the resolver's
 * sockets.  Not installed. */
#ifndef MCF_REFRESH_H
#define MCF_REFRESH_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* MCF_OPT_DNS_TTL_MS's default: the DNS answer's TTL, within the bounds
 * below. */
#define MCF_DNS_TTL_FROM_DNS (-1)
/* A TTL of 0 or 1 s must not become a query per call: at most one lookup
 * per server per second is noise to any DNS server, and a second is well
 * inside the time a moved server's old address keeps answering (its
 * memcached is stopped after the record changes, not before). */
#define MCF_DNS_TTL_FLOOR_MS 1000
/* A record with a TTL of a day must not keep a client on a server's old
 * address for a day: five minutes bounds how stale a connection gets, at
 * the cost of one query per server per five minutes. */
#define MCF_DNS_TTL_CEILING_MS (5 * 60 * 1000)
/* /etc/hosts entries have no TTL: the file is read again this often (a
 * local read, no network; edits to it are rare). */
#define MCF_DNS_HOSTS_TTL_MS (60 * 1000)
/* After a failed lookup the connection stays and the name is asked again
 * this much later (the floor: a DNS server that came back is noticed
 * soon, one that is down is not flooded). */
#define MCF_DNS_RETRY_MS MCF_DNS_TTL_FLOOR_MS

/* How a stale connection is closed (mcf_refresh_retire): the blocking
 * driver first waits for its noreply commands to be processed, as
 * mcf_disconnect_all does; an event loop must not wait, and the graceful
 * close alone already delivers them (memcached executes every complete
 * command it has read before it sees the end of the stream). */
enum { MCF_RETIRE_NOWAIT = 0, MCF_RETIRE_SYNC = 1 };

/* Schedules new connections, steps pending lookups, starts the ones due
 * and closes idle stale connections (how: MCF_RETIRE_*); never waits for
 * a lookup.  Then sets c->dns_next_us.  Callers test now >= c->dns_next_us
 * first. */
void mcf_refresh_tick(mcf_client *c, int64_t now_us, int how);
/* For an event loop: the resolver's sockets while a lookup of ours is
 * pending (at most cap), and when to tick next (*wake_us, INT64_MAX none). */
size_t mcf_refresh_pollset(mcf_client *c, struct pollfd *out, size_t cap, int64_t *wake_us);
/* s is stale and has nothing in flight: closes it gracefully (noreply
 * synchronised first with MCF_RETIRE_SYNC) so that its next request
 * connects to the new address. */
void mcf_refresh_retire(mcf_client *c, mcf_server *s, int how);
/* Gives up s's pending lookup (s is freed or moves: the resolver holds a
 * pointer into it). */
void mcf_refresh_cancel(mcf_client *c, mcf_server *s);
/* Every connection is scheduled again (MCF_OPT_DNS_TTL_MS changed). */
void mcf_refresh_reschedule(mcf_client *c);
/* Milliseconds until s's name is looked up again: 0 due or pending, -1
 * never (not connected, a literal, MCF_OPT_DNS_TTL_MS 0). */
int64_t mcf_refresh_expires_in_ms(const mcf_client *c, const mcf_server *s, int64_t now_us);

#endif
