/* discovery.h - the server list from an ElastiCache configuration endpoint
 * (mcfast.h's mcf_set_discovery; the reply's format: discovery_parse.h).
 * A poll connects to the endpoint (conn.c's non-blocking steps, on a
 * hidden mcf_server that is not in c->servers) and asks for the cluster's
 * configuration, beside the caller's traffic and without blocking, as
 * heal.c's probes do: the blocking driver steps it at the start of each
 * call, the async driver from its timer and the poll's socket.  A newer
 * list is kept pending and installed (through client.c's install, given
 * at mcf_discovery_set) only when no async request is in flight: the
 * drivers call mcf_discovery_apply at such moments.  Not installed. */
#ifndef MCF_DISCOVERY_H
#define MCF_DISCOVERY_H

#include <poll.h>
#include <stdint.h>

#include "internal.h"

/* Installs a parsed list (takes the array): client.c's install_servers. */
typedef int (*mcf_install_fn)(mcf_client *c, mcf_spec *specs, size_t n);

/* Turns discovery on (or, endpoint NULL, off), the first poll due at
 * once.  Errors set the client's message. */
int mcf_discovery_set(mcf_client *c, const char *endpoint, int interval_ms,
                      mcf_install_fn install);
void mcf_discovery_free(mcf_client *c);
/* Closes the endpoint's connection (mcf_disconnect_all); a poll running
 * is given up without counting as a failure, and begun again at the next
 * step. */
void mcf_discovery_disconnect(mcf_client *c);

/* Starts a poll when one is due and steps the one running, without
 * blocking.  Cheap when discovery is off or nothing is due. */
void mcf_discovery_tick(mcf_client *c, int64_t now_us);
/* The blocking driver's step before a call is routed: the fork check,
 * the poll stepped, a pending list installed.  With no server list at all
 * yet, a poll due or running is waited for (the call has nowhere to go
 * without one). */
void mcf_discovery_before_call(mcf_client *c);
/* Installs a pending list when no async request is in flight.  The
 * drivers call it where no server pointer is held: the start of a
 * blocking call, an async entry point's return, a submit at the top. */
void mcf_discovery_apply(mcf_client *c);
/* The poll's sockets and when to step it anyway (the next poll when
 * none runs; INT64_MAX when discovery is off). */
size_t mcf_discovery_pollset(const mcf_client *c, struct pollfd *out, size_t cap,
                             int64_t *wake_us);
/* 1 when s is the endpoint's hidden server (an async socket's owner). */
int mcf_discovery_owns(const mcf_client *c, const mcf_server *s);

/* mcf_discover_now and mcf_discovery_info_get (mcfast.h). */
int mcf_discovery_now(mcf_client *c);
int mcf_discovery_get_info(mcf_client *c, mcf_discovery_info *info);

#endif
