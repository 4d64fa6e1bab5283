/* async.h - what the client object needs of the async driver (async.c):
 * ending every request in flight, and freeing the driver's state.  Not
 * installed; the API is include/mcfast_async.h. */
#ifndef MCF_ASYNC_H
#define MCF_ASYNC_H

#include "internal.h"

/* Ends every async request in flight with MCF_ERR_CANCELLED (their done
 * callbacks run) and resets the connections that carried them: for
 * mcf_free, mcf_disconnect_all and a new server list. */
void mcf_async_cancel_all(mcf_client *c);
/* The server whose connection is fd now lives at s (a new server list kept
 * it): the loop's events for fd go there. */
void mcf_async_server_moved(mcf_client *c, int fd, mcf_server *s);
/* Lets go of the attached loop (every watch stopped first) and frees the
 * request pool. */
void mcf_async_free(mcf_client *c);

#endif
