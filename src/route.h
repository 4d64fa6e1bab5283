/* route.h - which server each item of a call goes to.  Not installed. */
#ifndef MCF_ROUTE_H
#define MCF_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"

/* The server a key goes to (mcf_server_for_key): MCF_OK, or an error with
 * the client's message set. */
int mcf_route_key(mcf_client *c, const char *key, size_t len, size_t *server);

/* Validates and routes every item of a call, then groups them per server:
 * server k's items are c->order[first .. first + count).  An item that
 * cannot be sent (bad key, value too large, server down) is finished with
 * its error here.  MCF_OK, or an error for the whole call (message set,
 * every item finished when there are no servers). */
int mcf_route_call(mcf_client *c, mcf_call *call, int64_t now);

#endif
