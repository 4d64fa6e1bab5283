/* bench_tls.h - shared declarations of the mcfast-bench-tls program (every
 * bench/tls/ source).
 *
 * The program makes the test certificates (tests/tls_certs.sh through
 * tests/tlsfix.c), starts one memcached -Z that listens on a TLS port and
 * on a plaintext one (-l 127.0.0.1 -p P1 -l notls:127.0.0.1:P2), so every
 * client reads the same data from the same process, and times the same
 * workloads through three clients in alternating rounds:
 *   mcfast-tls      mcfast over TLS (tls:127.0.0.1:P1, verified against
 *                   the test CA)
 *   mcfast-plain    mcfast over plaintext TCP (127.0.0.1:P2)
 *   pymemcache-tls  pymemcache 3.5 with an ssl.SSLContext verified against
 *                   the same CA (bench/tls_pymemcache.py, a child process
 *                   driven over a pipe), when python3-pymemcache is there
 * then the handshake times (full and resumed).
 *
 * Data (all keys 11 bytes):
 *   tk:NNNNNNNN  100-byte values, stored at start (tls_get, tls_get_multi100)
 *   ts:NNNNNNNN  100-byte values written by tls_set_multi100
 *   tb:NNNNNNNN  BIGLEN-byte values written by tls_set_500k
 * A value starts with its own key, then a pattern of the key's index
 * (value byte j = 'a' + (index + j) % 26); written values carry the round's
 * marker byte at position KLEN, so the read-back after each round proves
 * that round's writes reached the server.  bench/tls_pymemcache.py makes
 * the same bytes. */
#ifndef MCF_BENCH_TLS_H
#define MCF_BENCH_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "bench_common.h"
#include "mcserver.h"

#define KLEN BENCH_KLEN
#define VLEN 100
#define BATCH 100
#define BIGLEN 500000 /* tls_set_500k: large enough that the value goes out in many records */
#define NBIG 4        /* tb: keys, written round robin */
/* The clients' connect and I/O timeouts: other jobs on a shared 2-core
 * machine can stall a call past the default 1 s (seen at load average 8),
 * and a stall is slowness to measure, not a failure of the run. */
#define BENCH_TIMEOUT_MS 10000
/* A number macro as a string literal. */
#define BENCH_TLS_STR_(x) #x
#define BENCH_TLS_STR(x) BENCH_TLS_STR_(x)

typedef enum tw_id {
    TW_GET,     /* tls_get: one mcf_get of a 100-byte value per call */
    TW_GETM,    /* tls_get_multi100: mcf_get_multi of BATCH keys */
    TW_SETM,    /* tls_set_multi100: mcf_multi(MCF_OP_SET) of BATCH items */
    TW_SET500K, /* tls_set_500k: one mcf_set of a BIGLEN-byte value */
    TW_COUNT
} tw_id;

typedef struct tworkload {
    tw_id id;
    const char *name;
    unsigned keys_per_call; /* rates count keys */
    double plain_target;    /* mcfast-tls / mcfast-plain at least this; 0: none */
    double peer_target;     /* mcfast-tls / pymemcache-tls at least this; 0: none */
} tworkload;

extern const tworkload g_tworkloads[TW_COUNT];

static inline int tw_is_set(const tworkload *w)
{
    return w->id == TW_SETM || w->id == TW_SET500K;
}

/* ---- data.c: keys, values, the server ---- */
extern size_t g_nkeys;                        /* keys per prefix, a multiple of BATCH */
extern const char **g_kget, **g_kset, **g_kbig; /* NUL-terminated keys */
extern size_t *g_klens;                       /* every entry KLEN; g_nkeys entries */
extern char *g_vget;                          /* g_nkeys * VLEN: value of g_kget[i] at i*VLEN */
extern char *g_vset;                          /* g_nkeys * VLEN: value written for g_kset[i] */
extern char *g_vbig;                          /* NBIG * BIGLEN */

int data_init(size_t nkeys);
void data_free(void);
/* Stamps marker m at position KLEN of every value the set workloads write. */
void data_stamp(char m);
/* memcached -Z with both listeners; "tls:127.0.0.1:P1" and "127.0.0.1:P2".
 * 0, or -1 with the reason on stderr. */
int server_start(void);
void server_stop(void);
const char *tls_server_spec(void);
const char *plain_server_spec(void);
/* Stores the tk, ts and tb keys through the plaintext port. */
int server_fill(void);
/* Reads back, through the plaintext port, what `calls` calls of the set
 * workload w starting at call `first` wrote (at most every key once) and
 * compares it with the values stamped now.  0, or -1 with why. */
int verify_sets(const tworkload *w, uint64_t first, uint64_t calls, char *why, size_t whylen);
/* Index of the first key of call n of workload w (see bench_tls.h's top). */
size_t call_key(const tworkload *w, uint64_t n);

/* ---- runners: one client doing one workload ---- */
typedef struct round_result {
    uint64_t calls;
    double seconds;         /* wall time of the calls */
    double user_s, sys_s;   /* the client process's CPU time in them */
} round_result;

typedef struct trunner trunner;
struct trunner {
    const char *client; /* "mcfast-tls", "mcfast-plain", "pymemcache-tls" */
    char config[400];   /* how the client is configured, for config: lines */
    const tworkload *w;
    /* mcfast only: `calls` calls from r->cursor on, each result checked
     * (callgrind mode).  0, or -1 with r->err. */
    int (*run)(trunner *r, uint64_t calls);
    /* Calls from r->cursor on until `seconds` have passed (the last call
     * ends the round), advancing r->cursor.  0, or -1 with r->err. */
    int (*round)(trunner *r, double seconds, round_result *out);
    void (*destroy)(trunner *r);
    void *state;
    uint64_t cursor; /* calls made so far: the next call's keys (call_key) */
    char marker;     /* set workloads: the marker the values carry this round */
    char err[512];
};

/* c_mcfast.c: tls = 1 over TLS to tls_server_spec(), 0 plaintext.  NULL
 * with a message on stderr. */
trunner *mcfast_trunner(const tworkload *w, int tls);
/* c_pymemcache.c: the peer.  peer_start once (0, or -1 with *why: python3
 * or pymemcache missing, the script not found); then a runner per
 * workload; peer_stop at the end. */
int peer_start(const char *python, const char *script, char *why, size_t whylen);
const char *peer_version(void);
trunner *peer_trunner(const tworkload *w);
void peer_stop(void);
void trunner_free(trunner *r);

/* handshake.c: n connects of each kind, medians in ms.  0, or -1 with why
 * (a reconnect that did not resume is a failure). */
typedef struct hs_result {
    int n;
    double plain_ms, full_ms, resumed_ms;        /* medians */
    double full_min, full_max, res_min, res_max; /* spread */
    char version[32], cipher[64];
} hs_result;
int handshake_measure(int n, hs_result *out, char *why, size_t whylen);

#endif
