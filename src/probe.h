/* probe.h - what a connection's server speaks: the protocol probe of
 * MCF_PROTO_AUTO and the version gating of the meta calls.  Not installed. */
#ifndef MCF_PROBE_H
#define MCF_PROBE_H

#include <poll.h>
#include <stdint.h>

#include "call.h"

/* Settles s->proto for a connection that does not know it yet
 * (PROTO_UNKNOWN): from
 * MCF_OPT_PROTOCOL, or, with MCF_PROTO_AUTO, by asking the server
 * ("version" + "mn" in one round trip, blocking under the I/O timeout).
 * MCF_OK, or an error after closing the connection and counting a
 * failure. */
int mcf_probe_protocol(mcf_client *c, mcf_server *s);

/* The same probe without waiting, for drivers that connect many servers
 * at once: begin sends the question (with_mn: "version" + "mn", else
 * "version" alone), step reads what has arrived and settles the answer
 * when it is whole.  Each returns MCF_IN_PROGRESS (s->probing set), MCF_OK
 * (s->version_known, and s->proto with with_mn, set), or an error after
 * closing the connection and counting a failure.  The probe has the I/O
 * timeout from its beginning. */
int mcf_probe_begin(mcf_client *c, mcf_server *s, int with_mn, int64_t now_us);
int mcf_probe_step(mcf_client *c, mcf_server *s, int64_t now_us);
/* What mcf_probe_step returns when the server closed the connection on
 * "mn" with nothing answered: the connection is closed, and the caller
 * connects again, whose probe asks "version" alone (s->meta_refused). */
#define MCF_PROBE_RECONNECT (-2)
/* The socket to watch while probing (POLLIN) and the probe's deadline. */
size_t mcf_probe_pollset(const mcf_server *s, struct pollfd *out, size_t cap, int64_t *wake_us);

/* An _ex call's slice: MCF_OK when its server speaks meta and its version
 * has every flag the call would send (asking the version once per
 * connection, blocking, when a flag depends on it); otherwise the error,
 * nothing sent. */
int mcf_probe_check_meta(mcf_client *c, mcf_slice *sl);
/* 1 when the check above would have to ask the version first (drivers
 * that must not block begin the probe themselves). */
int mcf_probe_needs_version(const mcf_slice *sl);

#endif
