/* dist.h - key distribution: which server a key belongs to.  Pure: no sockets.
 *
 * Every mode reproduces another client's choice for the same server list:
 *   MCF_DIST_MODULA              Cache::Memcached / Cache::Memcached::Fast default
 *   MCF_DIST_KETAMA_CMF          Cache::Memcached::Fast ketama_points (nginx memcached_hash)
 *   MCF_DIST_KETAMA_LIBMEMCACHED libmemcached weighted ketama (MD5)
 */
#ifndef MCF_DIST_H
#define MCF_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "spec.h"

typedef struct mcf_point {
    uint32_t point;
    uint32_t server;
} mcf_point;

typedef struct mcf_dist {
    int mode;             /* an mcf_distribution */
    size_t nservers;
    /* modula: the weight-expanded bucket table, or a CMF-style line. */
    uint32_t *buckets;
    size_t nbuckets;
    /* ketama modes: sorted continuum */
    mcf_point *points;
    size_t npoints;
} mcf_dist;

/* Builds the distribution for servers[0..n).  ketama_points is used by
 * MCF_DIST_KETAMA_CMF.  Returns 0, MCF_ERR_ARG or MCF_ERR_NOMEM. */
int mcf_dist_build(mcf_dist *d, int mode, const mcf_spec *servers, size_t n,
                   unsigned ketama_points);
void mcf_dist_free(mcf_dist *d);

/* The server index for a key (key = namespace+key when namespaces are hashed). */
uint32_t mcf_dist_pick(const mcf_dist *d, const char *key, size_t len);

/* The hash of key as the mode computes it (for tests and failover). */
uint32_t mcf_dist_hash(const mcf_dist *d, const char *key, size_t len);

#endif
