/* probe.h - what a connection's server speaks: the protocol probe of
 * MCF_PROTO_AUTO and the version gating of the meta calls.  Not installed. */
#ifndef MCF_PROBE_H
#define MCF_PROBE_H

#include "call.h"

/* Settles s->proto for a connection that does not know it yet
 * (PROTO_UNKNOWN): from
 * MCF_OPT_PROTOCOL, or, with MCF_PROTO_AUTO, by asking the server
 * ("version" + "mn" in one round trip, blocking under the I/O timeout).
 * MCF_OK, or an error after closing the connection and counting a
 * failure. */
int mcf_probe_protocol(mcf_client *c, mcf_server *s);

/* An _ex call on server s: MCF_OK when s speaks meta and its version has
 * every flag the call would send (asking the version once per connection
 * when a flag depends on it); otherwise the error, nothing sent. */
int mcf_probe_check_meta(mcf_client *c, mcf_call *call, mcf_server *s);

#endif
