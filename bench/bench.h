/* bench.h - shared declarations of the mcfast-bench program (every bench/ source).
 *
 * The program starts its own memcached servers, fills them, and times the
 * same workloads through three clients: mcfast, libmemcached (tuned; the
 * fastest of several configurations is picked at warm-up) and a raw
 * blocking-socket loop that writes the same requests and reads the known
 * number of reply bytes without parsing them (the floor).
 *
 * Data (all keys 11 bytes, so every reply has a known size):
 *   bk:NNNNNNNN  100-byte values, stored on every server (get, get_multi*,
 *                async_get256*)
 *   bs:NNNNNNNN  100-byte values written by set / set_multi100
 *   bm:NNNNNNNN  never stored (get_miss_multi100)
 *   bb:NNNNNNNN  65536-byte values (get_64k)
 *   SS:NNNNNNNN  100-byte values of the get_multi1000_SSsrv scaling workload
 *                (SS = its server count, two digits): each key is stored only
 *                on the server libmemcached's weighted ketama picks for it, so
 *                a client that routes a key anywhere else gets a miss and the
 *                bench fails instead of reporting a rate
 * A value starts with its own key, so a client that hands back the wrong
 * value (or none) fails the check in the bench instead of looking fast. */
#ifndef MCF_BENCH_H
#define MCF_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "bench_common.h"
#include "mcserver.h"

#define KLEN BENCH_KLEN
#define VLEN 100
#define BIGLEN 65536
#define NBIG 8
#define BATCH 100
#define NSRV 4         /* servers of the get_multi100_4srv workload (each holds every bk key) */
#define SCALE_BATCH 1000 /* keys per call of the scaling workloads */
#define NSCALE 3         /* scaling workloads: get_multi1000 over 1, 8, 32 servers */
#define MAX_SRV 32       /* the most servers any workload uses */
#define ASYNC_WINDOW 256 /* async_get256*: independent single-key gets kept in flight */
/* A number macro as a string literal, for text built at compile time. */
#define BENCH_STR_(x) #x
#define BENCH_STR(x) BENCH_STR_(x)

typedef enum wl_id {
    W_GET,
    W_SET,
    W_GETM,
    W_GETM4,
    W_SETM,
    W_GET64K,
    W_MISSM,
    W_GETM_META, /* get_multi100 with mcfast on MCF_PROTO_META (others: text, as get_multi100) */
    W_ASYNC,     /* async_get256: ASYNC_WINDOW single-key gets in flight (mcfast's async API) */
    W_ASYNC4,    /* the same over NSRV servers, each holding every bk key */
    W_SCALE1,    /* get_multi1000 over 1, 8 and 32 servers, both clients on libmemcached's */
    W_SCALE8,    /* weighted ketama (mcfast: MCF_DIST_KETAMA_LIBMEMCACHED); the three must */
    W_SCALE32,   /* stay consecutive and last: scale_index() counts from W_SCALE1 */
    W_COUNT
} wl_id;

typedef struct workload {
    wl_id id;
    const char *name;
    unsigned keys_per_call; /* OPS counts keys */
    int nsrv;               /* servers used */
    double ratio_target;    /* mcfast / libmemcached; 0: none */
    double raw_target;      /* mcfast / raw; 0: none */
    int alloc_target_zero;  /* allocs/op must be 0 */
} workload;

extern const workload g_workloads[W_COUNT];

/* 0..NSCALE-1 for a scaling workload (its key set), -1 otherwise. */
static inline int scale_index(const workload *w)
{
    return w->id >= W_SCALE1 && w->id <= W_SCALE32 ? (int)(w->id - W_SCALE1) : -1;
}

/* The async_get256 workloads: a "call" is ASYNC_WINDOW keys. */
static inline int is_async(const workload *w)
{
    return w->id == W_ASYNC || w->id == W_ASYNC4;
}

/* ---- data.c ---- */
extern size_t g_nkeys;     /* keys per prefix (a multiple of BATCH) */
extern size_t g_nbatches;  /* g_nkeys / BATCH */
extern const char **g_kget, **g_kset, **g_kmiss, **g_kbig; /* key pointers (NUL-terminated) */
extern size_t *g_klens;    /* every entry KLEN; g_nkeys entries */
extern char *g_vget;       /* g_nkeys * VLEN: value of g_kget[i] at i*VLEN */
extern char *g_vset;       /* g_nkeys * VLEN: value written for g_kset[i] */
extern char *g_vbig;       /* NBIG * BIGLEN */
extern const char **g_kscale[NSCALE]; /* g_nkeys keys of each scaling workload */
extern char *g_vscale[NSCALE];        /* their values, g_nkeys * VLEN each */
extern unsigned char *g_owner[NSCALE]; /* the server index of each of those keys */
extern size_t g_nscale_batches;        /* g_nkeys / SCALE_BATCH */
extern mcserver g_srv[MAX_SRV];
extern int g_nsrv_started;

int data_init(size_t nkeys);
void data_free(void);
/* Starts n memcached servers (-t 1) on 127.0.0.1. */
int servers_start(int n);
/* Stops every started server. */
void servers_stop(void);
/* Stores the bk and bb keys on the first nbase started servers (and bs
 * keys, so set verification has a known starting point). */
int servers_fill(int nbase, int with_big);
/* Stores the keys of scaling workload w, each only on its owner among the
 * first w->nsrv servers (owners from lmc_owners). */
int scale_fill(const workload *w);
/* Stamps every set value with marker byte m (position KLEN). */
void data_stamp_set(char m);
/* Checks that server 0 holds the current set value for the n keys
 * g_kset[first], g_kset[first+1], ... (wrapping). */
int verify_set_keys(size_t first, size_t n, char *why, size_t whylen);
/* Host and port of a started server. */
const char *srv_spec(int i);

/* ---- alloc.c: counts malloc/calloc/realloc while enabled ---- */
void alloc_count_start(void);
uint64_t alloc_count_stop(void); /* allocations since start */
uint64_t syscall_count(void);    /* socket syscalls (send*, recv*, poll) in the same window */
const char *alloc_method(void);

/* ---- runners: one client doing one workload ---- */
typedef struct runner runner;
struct runner {
    const char *client;  /* "mcfast", "libmemcached", "raw" */
    char label[48];      /* short name of the configuration, e.g. "text/mget+fetch_result" */
    char config[400];    /* how the client is configured, for config: lines */
    int not_equivalent;  /* libmemcached: does less than the workload asks (measured, never compared) */
    const workload *w;
    /* Runs `calls` calls (each keys_per_call keys).  0 ok, -1 on a failure
     * with the reason in err. */
    int (*run)(runner *r, uint64_t calls);
    /* Optional: drains anything pending at the end of a timed round (inside
     * the timing); 0 ok. */
    int (*sync)(runner *r);
    void (*destroy)(runner *r);
    void *state;
    uint64_t cursor; /* next batch */
    char err[512];
};

/* Each returns NULL (with a message on stderr) if it cannot be built. */
runner *mcfast_runner(const workload *w);
/* Every libmemcached configuration worth trying for w; returns the count
 * (0: libmemcached cannot do w; *why says why). */
int lmc_runners(const workload *w, runner **out, int max, const char **why);
runner *raw_runner(const workload *w);
/* c_libmc.c: the server (0..nsrv-1 of g_srv) libmemcached's weighted ketama
 * picks for each of n keys, by memcached_generate_hash.  0 ok, -1 failure. */
int lmc_owners(int nsrv, const char *const *keys, size_t n, unsigned char *owner);
extern int g_raw_mode; /* c_raw.c: 0 plain (the floor), 1 poll, 2 poll+SO_RCVLOWAT */
/* Ends a runner of any client (its destroy, then the runner). */
static inline void runner_free(runner *r)
{
    if (!r)
        return;
    if (r->destroy)
        r->destroy(r);
    free(r);
}

/* Batch helper: index of the first key of the next batch, advancing. */
static inline size_t next_batch(runner *r)
{
    size_t b = (size_t)(r->cursor++ % g_nbatches);
    return b * BATCH;
}

/* The same for the SCALE_BATCH-key calls of the scaling workloads. */
static inline size_t next_scale_batch(runner *r)
{
    size_t b = (size_t)(r->cursor++ % g_nscale_batches);
    return b * SCALE_BATCH;
}

/* The same for the ASYNC_WINDOW-key batches of the async workloads'
 * multi-get floor and libmemcached's mget reference (needs g_nkeys >=
 * ASYNC_WINDOW; the runners refuse fewer keys). */
static inline size_t next_window(runner *r)
{
    size_t b = (size_t)(r->cursor++ % (g_nkeys / ASYNC_WINDOW));
    return b * ASYNC_WINDOW;
}

/* The function callgrind collects (--toggle-collect=bench_cg_loop). */
int bench_cg_loop(runner *r, uint64_t calls);

#endif
