/* sync.h - the blocking driver: runs a call to its end.  Not installed. */
#ifndef MCF_SYNC_H
#define MCF_SYNC_H

#include "call.h"

/* Runs one call: every server under one I/O deadline, waiting in poll (or,
 * for a single server, in recv).  Returns the call's first error, or
 * MCF_OK; each item's own result went out through the call. */
int mcf_run(mcf_client *c, mcf_call *call);

#endif
