/* dist.h - key distribution: which server a key belongs to.  Pure: no sockets.
 *
 * Every mode reproduces another client's choice for the same server list:
 *   MCF_DIST_MODULA              Cache::Memcached / Cache::Memcached::Fast default
 *   MCF_DIST_KETAMA_CMF          Cache::Memcached::Fast ketama_points (nginx memcached_hash)
 *   MCF_DIST_KETAMA_LIBMEMCACHED libmemcached weighted ketama (MD5)
 *   MCF_DIST_LIBMEMCACHED        libmemcached modula (pylibmc, php-memcached default)
 *   MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED  libmemcached ketama, unweighted
 *   MCF_DIST_PYMEMCACHE          pymemcache HashClient (rendezvous, murmur3)
 *   MCF_DIST_NUTCRACKER_KETAMA / _MODULA     twemproxy
 * The key hash functions are hash.c's.
 */
#ifndef MCF_DIST_H
#define MCF_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "spec.h"

typedef struct mcf_point {
    uint32_t point;
    uint32_t server;
} mcf_point;

typedef struct mcf_dist {
    int mode;             /* an mcf_distribution */
    mcf_hash_fn hash;     /* the key hash (NULL for pymemcache's own) */
    size_t nservers;
    /* modula: the weight-expanded bucket table, or a CMF-style line. */
    uint32_t *buckets;
    size_t nbuckets;
    /* nutcracker modula: servers by rank (order[r] = index; nutcracker
     * numbers them sorted by name), cum[r] = weights of ranks 0..r */
    uint32_t *order;
    uint64_t *cum;
    /* ketama modes: sorted continuum */
    mcf_point *points;
    size_t npoints;
    /* pymemcache: per server, murmur3 over "name-" so far, and the names
     * (for ties) at names + name_off[i] */
    mcf_murmur3 *node_state;
    char *names;
    size_t *name_off;
} mcf_dist;

/* Builds the distribution for servers[0..n).  hash is an mcf_hash
 * (MCF_HASH_DEFAULT: the mode's own); ketama_points is used by
 * MCF_DIST_KETAMA_CMF.  Returns 0, MCF_ERR_ARG (also for a hash the mode
 * does not take: see mcf_dist_why) or MCF_ERR_NOMEM. */
int mcf_dist_build(mcf_dist *d, int mode, int hash, const mcf_spec *servers, size_t n,
                   unsigned ketama_points);

/* Why mcf_dist_build(mode, hash, ...) would refuse the pair, or NULL if it
 * takes it: for error messages. */
const char *mcf_dist_why(int mode, int hash);
/* 1 when mode can place keys on servers with fractional weights
 * (mcf_spec.frac_weight): Cache::Memcached::Fast's modes, which define
 * them; mcf_dist_build refuses them in the others. */
int mcf_dist_takes_fractional_weights(int mode);
void mcf_dist_free(mcf_dist *d);

/* The server index for a key (key = namespace+key when namespaces are hashed). */
uint32_t mcf_dist_pick(const mcf_dist *d, const char *key, size_t len);

/* The hash of key as the mode computes it (for tests and failover). */
uint32_t mcf_dist_hash(const mcf_dist *d, const char *key, size_t len);

/* The mcf_distribution of a CLI name ("modula", "ketama",
 * "ketama-libmemcached", "libmemcached", "ketama-libmemcached-unweighted",
 * "pymemcache", "nutcracker", "nutcracker-modula"), or -1; and the name of
 * a distribution (NULL if none). */
int mcf_dist_by_name(const char *name);
const char *mcf_dist_name(int mode);

#endif
