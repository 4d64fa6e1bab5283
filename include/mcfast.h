/*
 * mcfast.h - the whole public API of libmcfast, a memcached client.
 *
 * Conventions
 *   - Every function that can fail returns an mcf_rc.  MCF_OK (0) is
 *     success; values below MCF_ERR_FIRST are protocol outcomes (a miss,
 *     "NOT_STORED", ...), values from MCF_ERR_FIRST on are errors.
 *     mcf_strerror() names any code; mcf_last_error() returns the message
 *     of the last error on a client, which names the server, the address
 *     and the cause.
 *   - Keys are (pointer, length) pairs; a length of 0 with a non-NULL
 *     pointer is an empty key (and is rejected).  Keys are checked before
 *     anything is sent: 1..250 bytes including the namespace, no byte
 *     <= 0x20 and no 0x7f (no space, CR, LF, NUL or control character).
 *   - Pointers into data returned by the library (values, messages) stay
 *     valid only until the next call on the same client unless stated.
 *   - Thread safety: a client is not thread-safe.  Use one client per
 *     thread, or serialise calls on a client with your own lock.  The
 *     library has no global state; distinct clients never interact.
 *   - The library never raises SIGPIPE (it sends with MSG_NOSIGNAL) and
 *     every socket it opens has FD_CLOEXEC.
 *   - fork(): a client may go on being used in both processes.  Every call
 *     notices when it runs in another process than the one that opened the
 *     connections (one getpid() per call) and first closes the inherited
 *     connections without sending a byte on them or changing them: they
 *     stay the parent's, and the child opens its own on demand.  So
 *     mcf_free(), mcf_disconnect_all() or exit() in the child never
 *     disturb the parent, and nothing needs calling after fork().  (A
 *     fork() inside a callback is not supported: the child would be in the
 *     middle of the parent's call.)
 *   - When a call gives up on a connection (I/O timeout, protocol error,
 *     connection lost), it is closed with a reset, so request bytes still
 *     queued on our side are dropped rather than delivered later.  The
 *     outcome of a write that failed or timed out is still unknown: bytes
 *     the server's kernel already received may be executed.  Check with a
 *     read, or use cas or idempotent writes where it matters.
 */
#ifndef MCFAST_H
#define MCFAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && defined(MCF_BUILDING_LIBRARY)
#define MCF_API __attribute__((visibility("default")))
#else
#define MCF_API
#endif

/* The library's version.  The file VERSION at the top of the source tree is
 * the one place it is set: the build passes it to src/version.c, which
 * refuses to compile when these lines disagree with it.  MCF_VERSION_NUMBER
 * orders versions (MAJOR * 10000 + MINOR * 100 + PATCH) for #if tests; the
 * functions give the version of the library actually loaded, which may be
 * newer than the header a program was built with. */
#define MCF_VERSION_MAJOR 0
#define MCF_VERSION_MINOR 1
#define MCF_VERSION_PATCH 0
#define MCF_VERSION_STRING "0.1.0"
#define MCF_VERSION_NUMBER (MCF_VERSION_MAJOR * 10000 + MCF_VERSION_MINOR * 100 + MCF_VERSION_PATCH)
#define MCF_MAX_KEY_LEN 250 /* memcached's limit, namespace included */

/* ------------------------------------------------------------------ */
/* Result codes                                                        */
/* ------------------------------------------------------------------ */
typedef enum mcf_rc {
    MCF_OK = 0,          /* hit, stored, deleted, touched, applied */
    MCF_MISS = 1,        /* retrieval: the key is not on the server */
    MCF_NOT_STORED = 2,  /* add/replace/append/prepend condition failed */
    MCF_EXISTS = 3,      /* cas: the item changed since it was fetched */
    MCF_NOT_FOUND = 4,   /* delete/incr/decr/touch/cas: no such key */

    MCF_ERR_FIRST = 16,
    MCF_ERR_ARG = 16,         /* invalid argument (NULL pointer, bad option) */
    MCF_ERR_BAD_KEY = 17,     /* key empty, too long or has forbidden bytes */
    MCF_ERR_TOO_LARGE = 18,   /* value larger than MCF_OPT_MAX_VALUE_SIZE */
    MCF_ERR_BAD_SPEC = 19,    /* malformed server specification */
    MCF_ERR_NO_SERVERS = 20,  /* the client has no server */
    MCF_ERR_RESOLVE = 21,     /* the host name did not resolve */
    MCF_ERR_CONNECT = 22,     /* every address refused or was unreachable */
    MCF_ERR_TIMEOUT = 23,     /* connect or I/O deadline passed */
    MCF_ERR_IO = 24,          /* connection reset/closed, send/recv failed */
    MCF_ERR_PROTOCOL = 25,    /* the server's reply made no sense */
    MCF_ERR_SERVER = 26,      /* the server said SERVER_ERROR or ERROR */
    MCF_ERR_CLIENT = 27,      /* the server said CLIENT_ERROR */
    MCF_ERR_SERVER_DOWN = 28, /* skipped: failed too often recently */
    MCF_ERR_NOMEM = 29,       /* out of memory (also ENOMEM, ENOBUFS from a socket) */
    MCF_ERR_COMPRESS = 30,    /* zlib failed (corrupt compressed value) */
    MCF_ERR_NOT_SUPPORTED = 31, /* the server or the client's protocol lacks the feature */
    MCF_ERR_RESOURCE = 32,    /* out of file descriptors (EMFILE, ENFILE) opening a socket */
    MCF_ERR_CANCELLED = 33,   /* async: the client was freed or disconnected first */
    MCF_ERR_TLS = 34,         /* TLS: handshake failed, certificate not verified, TLS
                                 configuration refused, or the library was built without TLS */
    MCF_ERR_LAST = 34
} mcf_rc;

/* A static English name of a code ("connection refused or unreachable"). */
MCF_API const char *mcf_strerror(int rc);

/* The loaded library's version: "MAJOR.MINOR.PATCH" (static), and as
 * MCF_VERSION_NUMBER computes it.  (mcf_version() is the memcached
 * "version" command, below.) */
MCF_API const char *mcf_lib_version(void);
MCF_API int mcf_lib_version_number(void);

/* Nonzero when rc is an error (not a hit/miss/stored-style outcome). */
static inline int mcf_is_error(int rc) { return rc >= MCF_ERR_FIRST; }

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */
typedef struct mcf_client mcf_client;

/* A new client with no servers and default options; NULL if out of memory. */
MCF_API mcf_client *mcf_new(void);

/* Closes every connection and frees the client.  Before closing, a
 * connection that carried noreply commands is synchronised (a request
 * with a reply is sent and awaited, bounded by the I/O timeout) so the
 * last noreply command is not lost; not one inherited across fork(),
 * which is only closed.  NULL is accepted. */
MCF_API void mcf_free(mcf_client *c);

/* The message of the last error on this client ("" if none).  Valid until
 * the next call on the client.  Example:
 *   connect mc-dual:11211: [2001:db8::99]:11211 timed out after 250 ms;
 *   127.0.0.1:11211 connection refused */
MCF_API const char *mcf_last_error(const mcf_client *c);

/* Server list.  `list` holds specs separated by commas and/or whitespace:
 *   host            port 11211          host:port
 *   1.2.3.4:port    [v6]:port           [fe80::1%eth0]:port (zone by name or number)
 *   ::1             (a bare IPv6 literal: port 11211)
 *   /abs/path.sock  unix:/path          (unix socket; must fit sun_path)
 *   tls:host:port   tls:[v6]:port       (TLS to this server: see "TLS" below;
 *                                        not on unix sockets)
 * and optionally a weight as a last field, libmemcached's form:
 *   host:port:weight   [v6]:port:weight   /path.sock:weight
 * Replaces any previous list: a server in both lists (the same host and
 * port, or path, and TLS or not; its weight may change) keeps its
 * connection and state, the others are closed.  Nothing is
 * resolved here: names are resolved at connect time, and looked up again
 * while connected when the answer expires (MCF_OPT_DNS_TTL_MS: by default
 * its DNS TTL, 1 s to 5 min; /etc/hosts answers every 60 s; IP literals
 * never).  A connection whose address is no longer among the answers is
 * closed gracefully once nothing is in flight on it (blocking calls
 * synchronise noreply traffic first), and the next request connects to the new address; a lookup that
 * fails (timeout, SERVFAIL) keeps the connection and is retried 1 s
 * later.  No request waits for these lookups or fails because of them.
 * On a malformed spec returns MCF_ERR_BAD_SPEC and
 * leaves the previous list in place. */
MCF_API int mcf_set_servers(mcf_client *c, const char *list);

/* Adds one server with an explicit weight (>= 1); `spec` must not carry a
 * weight of its own. */
MCF_API int mcf_add_server(mcf_client *c, const char *spec, unsigned weight);

/* As mcf_add_server with a weight that may be fractional (0 < weight <=
 * 1e6), as Cache::Memcached::Fast allows: its modes (MCF_DIST_MODULA and
 * MCF_DIST_KETAMA_CMF) place keys as it does with such weights.  The
 * other modes cannot honour a fractional weight: a key operation then
 * fails with MCF_ERR_ARG and an error naming the server.  An integral
 * weight behaves exactly as with mcf_add_server. */
MCF_API int mcf_add_server_weight(mcf_client *c, const char *spec, double weight);

/* ---- Discovery: the server list from an ElastiCache configuration endpoint ----
 * (docs/discovery.md)  The endpoint (a server spec, e.g.
 * "mycluster.cfg.use1.cache.amazonaws.com:11211", "tls:" allowed) is asked
 * "config get cluster" every interval_ms (AWS's Auto Discovery, engines >=
 * 1.4.14; one that answers ERROR is asked "get AmazonElastiCache:cluster"
 * instead, the older engines' form).  Its reply carries a version number
 * and the nodes; a version newer than the one applied becomes the server
 * list ("ip:port", or "host:port" when the ip is empty), installed as
 * mcf_set_servers does: servers that stay keep their connections.  The
 * same or an older version changes nothing.
 *
 * The poll never blocks a call: it is stepped without waiting at the start
 * of each blocking call and by the async driver's timer and sockets, on a
 * connection of its own (the endpoint is not one of the key servers).
 * A new list waits (pending) while async requests are in flight: requests
 * finish on the list they were routed with, and the new one is installed
 * at the first moment none is in flight (the next blocking call, the async
 * driver's return once the last completes, or the next submit).  A failed
 * poll (endpoint down, a reply not in AWS's format, 0 nodes) keeps the
 * last list, fails no call, and is told by mcf_discovery_info.
 *
 * mcf_set_discovery does not wait.  While the client has no server list
 * at all, a blocking call waits for the poll that is due (at most the
 * connect timeout plus the I/O timeout, once per interval: with no list
 * the call could only fail MCF_ERR_NO_SERVERS); with a list (an earlier
 * poll's, or mcf_set_servers'), never.  Call mcf_discover_now to wait for
 * the first list at start-up and hear why it failed.  NULL endpoint turns discovery off (the
 * list stays).  interval_ms >= 1 (0: the default, 60000, what AWS's own
 * cluster client polls at).  MCF_OK, MCF_ERR_BAD_SPEC, MCF_ERR_ARG. */
MCF_API int mcf_set_discovery(mcf_client *c, const char *endpoint, int interval_ms);
/* Polls the endpoint now and waits for the answer (at most the connect
 * timeout plus the I/O timeout), installing a newer list at once when no
 * async request is in flight.  MCF_OK (the reply parsed; the list is the
 * endpoint's if it was newer), or the poll's error (MCF_ERR_CONNECT,
 * MCF_ERR_TIMEOUT, MCF_ERR_PROTOCOL, ...), message in mcf_last_error. */
MCF_API int mcf_discover_now(mcf_client *c);

typedef struct mcf_discovery_info {
    int enabled;
    const char *endpoint;      /* as given; "" when off */
    int interval_ms;
    int have_version;          /* a list from the endpoint was applied */
    uint64_t version;          /* the version number of the list applied */
    int pending;               /* a newer list waits for the in-flight requests */
    uint64_t pending_version;
    size_t nodes;              /* nodes of the list applied */
    uint64_t polls, failures;  /* polls ended, and those that failed */
    int64_t last_poll_ago_ms;  /* since the last poll ended (-1: none yet) */
    int legacy;                /* the endpoint is asked get AmazonElastiCache:cluster */
    int last_rc;               /* MCF_OK or the last poll's error */
    const char *last_error;    /* why the last poll failed; "" when it did not */
} mcf_discovery_info;
/* Strings are the client's, valid until the next call on it.  MCF_OK (also
 * when discovery is off: enabled 0), MCF_ERR_ARG. */
MCF_API int mcf_discovery_info_get(mcf_client *c, mcf_discovery_info *info);

/* How keys are spread over servers.  Each mode picks, for every key, the
 * same server as the named client does with the same server list (in the
 * same order, with the same weights).  README.md has a table of which mode
 * matches which client and setting; `mcfast server-for` and `mcfast ring`
 * show the placement. */
typedef enum mcf_distribution {
    /* Cache::Memcached and Cache::Memcached::Fast's default:
     * ((crc32(key) >> 16) & 0x7fff) over the weight-expanded list. */
    MCF_DIST_MODULA = 0,
    /* Cache::Memcached::Fast with ketama_points => N (and nginx's
     * memcached_hash): CRC-32 continuum, round(N * weight) points each.
     * Set N with MCF_OPT_KETAMA_POINTS (default 150). */
    MCF_DIST_KETAMA_CMF = 1,
    /* libmemcached MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (pylibmc
     * {"ketama_weighted": True}, php-memcached OPT_LIBKETAMA_COMPATIBLE):
     * MD5 continuum of 160 points per server scaled by weight; keys hashed
     * with MD5 unless MCF_OPT_HASH says otherwise. */
    MCF_DIST_KETAMA_LIBMEMCACHED = 2,
    /* libmemcached's default, and so pylibmc's and php-memcached's:
     * hash(key) % number of servers, weights ignored (libmemcached ignores
     * them); the hash is one-at-a-time unless MCF_OPT_HASH says otherwise. */
    MCF_DIST_LIBMEMCACHED = 3,
    /* libmemcached MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA without
     * weighting (pylibmc {"ketama": True} with every weight 1, php-memcached
     * OPT_DISTRIBUTION = DISTRIBUTION_CONSISTENT): 100 points per server,
     * weights ignored; points and keys hashed with one-at-a-time unless
     * MCF_OPT_HASH says otherwise.  libmemcached turns weighting on when a
     * server of weight > 1 is added to a consistent distribution (pylibmc
     * does that; php-memcached when the option comes before addServers):
     * that is MCF_DIST_KETAMA_LIBMEMCACHED with MCF_HASH_ONE_AT_A_TIME. */
    MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED = 4,
    /* pymemcache's HashClient: rendezvous (highest random weight) hashing,
     * the server with the highest murmur3_32("host:port-key") wins; weights
     * ignored (pymemcache has none).  MCF_OPT_HASH does not apply. */
    MCF_DIST_PYMEMCACHE = 5,
    /* twemproxy (nutcracker) "distribution: ketama", its default: the MD5
     * continuum of MCF_DIST_KETAMA_LIBMEMCACHED (servers named "host" on
     * port 11211, else "host:port"), keys hashed with fnv1a_64, nutcracker's
     * default "hash", unless MCF_OPT_HASH says otherwise. */
    MCF_DIST_NUTCRACKER_KETAMA = 6,
    /* twemproxy "distribution: modula": hash(key) % total weight over the
     * weight-expanded list; fnv1a_64 unless MCF_OPT_HASH says otherwise. */
    MCF_DIST_NUTCRACKER_MODULA = 7
} mcf_distribution;

/* The key hash (MCF_OPT_HASH), with pylibmc's / twemproxy's names.  It
 * combines with MCF_DIST_LIBMEMCACHED, the two libmemcached ketama modes
 * and the two nutcracker modes; the other modes have a fixed hash and
 * refuse any but MCF_HASH_DEFAULT (MCF_ERR_ARG from the next call).  For
 * bytes >= 0x80 each hash gives what libmemcached and nutcracker give on
 * x86 (they read keys as signed char). */
typedef enum mcf_hash {
    MCF_HASH_DEFAULT = 0,       /* the distribution's own (see above) */
    MCF_HASH_ONE_AT_A_TIME = 1, /* pylibmc "default", twemproxy one_at_a_time */
    MCF_HASH_MD5 = 2,           /* "md5" */
    MCF_HASH_CRC = 3,           /* pylibmc "crc", twemproxy crc32: 15 bits of CRC-32 */
    MCF_HASH_FNV1_64 = 4,       /* "fnv1_64" */
    MCF_HASH_FNV1A_64 = 5,      /* "fnv1a_64" */
    MCF_HASH_FNV1_32 = 6,       /* "fnv1_32" */
    MCF_HASH_FNV1A_32 = 7,      /* "fnv1a_32" */
    MCF_HASH_HSIEH = 8,         /* twemproxy hsieh (Debian's libmemcached is built without it) */
    MCF_HASH_MURMUR = 9,        /* "murmur": MurmurHash2 */
    MCF_HASH_JENKINS = 10,      /* "jenkins": lookup3 */
    MCF_HASH_CRC32 = 11,        /* twemproxy crc32a: the whole CRC-32 */
    MCF_HASH_MURMUR3 = 12       /* libmemcached MEMCACHED_HASH_MURMUR3 (seeded 0xdeadbeef * length) */
} mcf_hash;

typedef enum mcf_option {
    MCF_OPT_CONNECT_TIMEOUT_MS = 1, /* whole connect: resolution, all addresses; default 1000.
                                       The servers of a call connect side by side. */
    MCF_OPT_ATTEMPT_DELAY_MS,       /* Happy Eyeballs delay; default 250, min 10 */
    MCF_OPT_IO_TIMEOUT_MS,          /* one deadline per call; default 1000 */
    MCF_OPT_TCP_KEEPALIVE,          /* 0/1; default 0 */
    MCF_OPT_DISTRIBUTION,           /* an mcf_distribution; default MODULA */
    MCF_OPT_KETAMA_POINTS,          /* for MCF_DIST_KETAMA_CMF; default 150 */
    MCF_OPT_HASH_NAMESPACE,         /* 0/1: namespace takes part in hashing; default 0, as in
                                       Cache::Memcached(::Fast) and libmemcached */
    MCF_OPT_NOREPLY,                /* 0/1: default for calls; default 0 */
    MCF_OPT_MAX_VALUE_SIZE,         /* bytes; default 1 MiB (memcached's default) */
    MCF_OPT_COMPRESS_THRESHOLD,     /* compress values >= this many bytes; -1 off (default);
                                       >= 0 also enables inflating values flagged 0x2 */
    MCF_OPT_COMPRESS_RATIO,         /* keep compressed only if size <= ratio% of original; default 80 */
    MCF_OPT_MAX_FAILURES,           /* Cache::Memcached::Fast's counting instead of FAILURE_LIMIT's:
                                       this many failures within FAILURE_TIMEOUT_S mark a server
                                       down for FAILURE_TIMEOUT_S, then the next call tries it;
                                       0 off (default) */
    MCF_OPT_FAILURE_TIMEOUT_S,      /* seconds, for MAX_FAILURES; default 10 */
    MCF_OPT_FAILOVER,               /* 0/1: remap a down server's keys to live ones; default 0 */
    MCF_OPT_MAX_INFLATE_SIZE,       /* largest decompressed value accepted; default 64 MiB */
    MCF_OPT_PROTOCOL,               /* an mcf_protocol; default MCF_PROTO_TEXT */
    MCF_OPT_HASH,                   /* an mcf_hash; default MCF_HASH_DEFAULT */
    /* Healing (docs/failures.md), when MAX_FAILURES is 0: */
    MCF_OPT_FAILURE_LIMIT,          /* failures in a row that mark a server down; default 3;
                                       0 never (every call tries every server) */
    MCF_OPT_RETRY_MS,               /* first wait before a down server is probed; default 1000 */
    MCF_OPT_RETRY_MAX_MS,           /* the wait doubles (with +-25% jitter) while probes fail,
                                       up to this; default 30000 */
    MCF_OPT_FLAP_MS,                /* a server down again within this long of coming back
                                       flaps: it keeps its longer wait; default 60000 */
    MCF_OPT_LATENCY,                /* 0/1: record request latencies (mcf_server_stats); default
                                       0: it costs a clock read per read of replies, about 3% of
                                       a single get's instructions (docs/observability.md).
                                       The other counters are always kept */
    MCF_OPT_DNS_TTL_MS, /* how often a live connection's name is looked up again: -1 its DNS TTL (default; 1 s to 5 min, /etc/hosts 60 s), 0 never, > 0 every this many ms; see mcf_set_servers */
} mcf_option;

/* Which memcached protocol the key commands speak (MCF_OPT_PROTOCOL).
 * Server-level commands (version, stats, flush_all) always use text.
 * Results are the same in every mode, with these differences in meta mode:
 *   - keys may hold any bytes (space, control, NUL, non-UTF-8): a key that
 *     is not a valid text key goes base64-encoded with the 'b' flag, so
 *     namespace + key must be 1..186 bytes (MCF_ERR_BAD_KEY otherwise);
 *   - a noreply call is sent quiet and still waits for the one "MN" that
 *     ends the pipeline (one round trip; every item reports MCF_OK, as in
 *     text mode);
 *   - a multi-key write in which the server sends an error line (e.g.
 *     SERVER_ERROR object too large) fails every item of that server not
 *     answered yet: quiet replies cannot be told apart by position. */
typedef enum mcf_protocol {
    MCF_PROTO_TEXT = 0, /* get/set/... (memcached's classic text protocol) */
    MCF_PROTO_META = 1, /* mg/ms/md/ma/mn (memcached >= 1.6): quiet pipelines
                           matched by opaque, binary-safe keys */
    /* Meta where the server has it, learned once per connection:
     * "version" and "mn" are sent right after connecting; meta is used when
     * the answer is "MN" and the version is 1.6.10 or later (older meta
     * replies differ), text otherwise.  Keys must be valid text keys (the
     * choice is made per server). */
    MCF_PROTO_AUTO = 2
} mcf_protocol;

/* Sets an option.  MCF_ERR_ARG for an unknown option or a value out of
 * range.  Distribution options take effect for the next call. */
MCF_API int mcf_set_option(mcf_client *c, mcf_option opt, int64_t value);
MCF_API int64_t mcf_get_option(const mcf_client *c, mcf_option opt);

/* A key prefix added to every key (NULL or "" for none).  Counted in the
 * 250-byte key limit; hashed with the key when MCF_OPT_HASH_NAMESPACE. */
MCF_API int mcf_set_namespace(mcf_client *c, const char *ns);

/* ------------------------------------------------------------------ */
/* TLS                                                                 */
/* ------------------------------------------------------------------ */
/* A server spec with the "tls:" prefix is reached over TLS; with
 * mcf_tls_options.all_servers every TCP server is.  A fleet may mix TLS
 * and plaintext servers.  (A host really named "tls" still works with a
 * port: "tls:11211" is host "tls", port 11211.)
 *
 * The handshake runs after Happy Eyeballs has picked the address, inside
 * the same connect deadline (MCF_OPT_CONNECT_TIMEOUT_MS), without
 * blocking: the async API never waits on it.  The server's certificate is
 * verified unless `insecure` is set, against the server name: by default
 * the spec's host, sent as SNI; an IP literal is checked against the
 * certificate's IP addresses (subjectAltName) and sends no SNI.
 * Each server remembers its last session, so a reconnect (a server
 * restart, an idle close, a fork() child) resumes it with an abbreviated
 * handshake when the server allows it.
 *
 * Failures are MCF_ERR_TLS with a message naming the server, the address
 * and OpenSSL's reason, e.g.
 *   connect tls:mc1:11211: TLS handshake with 10.0.0.5:11211: certificate
 *   verify failed: unable to get local issuer certificate
 * or MCF_ERR_TIMEOUT when the handshake does not finish in time.
 *
 * When the library was built without OpenSSL (make TLS=0, or no
 * libssl-dev), mcf_set_tls() and a server list with a tls: server return
 * MCF_ERR_TLS ("built without TLS"); mcf_tls_available() says which. */

/* 1 when this build of the library has TLS. */
MCF_API int mcf_tls_available(void);

typedef enum mcf_tls_version {
    MCF_TLS_DEFAULT = 0, /* TLS 1.2 */
    MCF_TLS_1_2 = 12,
    MCF_TLS_1_3 = 13
} mcf_tls_version;

/* Every field may be left 0/NULL (memset the struct): TLS 1.2 or later,
 * verified against the system trust store, no client certificate. */
typedef struct mcf_tls_options {
    const char *ca_file;      /* PEM CA bundle to verify servers against */
    const char *ca_path;      /* a directory of hashed CA certificates (c_rehash);
                                 with neither: the system's default trust store */
    const char *cert_file;    /* client certificate (chain), PEM: mutual TLS */
    const char *key_file;     /* its private key, PEM (NULL: in cert_file) */
    const char *server_name;  /* the name to send (SNI) and verify for every server,
                                 instead of each spec's host */
    const char *ciphers;      /* TLS 1.2 cipher list, OpenSSL syntax (NULL: OpenSSL's) */
    const char *ciphersuites; /* TLS 1.3 cipher suites, OpenSSL syntax (NULL: OpenSSL's) */
    int min_version;          /* an mcf_tls_version */
    int insecure;             /* 1: do not verify the certificate or the name (testing
                                 only: anyone in the path can read and change traffic) */
    int all_servers;          /* 1: TLS for every TCP server, "tls:" or not */
} mcf_tls_options;

/* Builds the client's TLS context from opts (NULL: the defaults), once,
 * shared by all its connections: files are read and checked here, so a
 * missing CA file, a key that does not match its certificate or an
 * unknown cipher fail now (MCF_ERR_TLS, the file and OpenSSL's reason in
 * mcf_last_error()), before anything is sent.  Replaces an earlier context
 * and closes existing connections.  Without a call, a server list with a
 * tls: server builds the default context when it is set (so no connect
 * pays for reading the system's trust store).  The strings are copied. */
MCF_API int mcf_set_tls(mcf_client *c, const mcf_tls_options *opts);

/* ------------------------------------------------------------------ */
/* Values                                                              */
/* ------------------------------------------------------------------ */

/* Flag bit marking a zlib-compressed value, as Cache::Memcached(::Fast)
 * use it.  On a client with compression enabled (MCF_OPT_COMPRESS_THRESHOLD
 * >= 0) the library owns this bit: it sets it on values it compressed,
 * clears it on others, and inflates values that carry it on read.  On a
 * client without compression all 32 flag bits are the caller's and values
 * are returned as stored. */
#define MCF_FLAG_COMPRESSED 0x2u

/* A value handed out by the library.  `data` points into memory the client
 * owns: valid until the next call on the client (inside a callback: until
 * the callback returns).  `data` is not NUL-terminated. */
typedef struct mcf_value {
    const char *data;
    size_t len;
    uint32_t flags; /* the stored flags; MCF_FLAG_COMPRESSED cleared if
                       the library inflated the value */
    uint64_t cas;   /* gets/gats only; 0 otherwise */
} mcf_value;

/* Per-call flags. */
#define MCF_CALL_NOREPLY 0x1u    /* do not wait for replies (where the protocol allows) */
#define MCF_CALL_REPLY 0x2u      /* override a client-wide MCF_OPT_NOREPLY */
#define MCF_CALL_NO_COMPRESS 0x4u

/* ------------------------------------------------------------------ */
/* Single-key commands                                                 */
/* ------------------------------------------------------------------ */

/* get / gets: MCF_OK and *out filled, or MCF_MISS, or an error. */
MCF_API int mcf_get(mcf_client *c, const char *key, size_t key_len, mcf_value *out);
MCF_API int mcf_gets(mcf_client *c, const char *key, size_t key_len, mcf_value *out);
/* gat / gats: get and set a new expiry time. */
MCF_API int mcf_gat(mcf_client *c, int64_t exptime, const char *key, size_t key_len,
                    mcf_value *out);
MCF_API int mcf_gats(mcf_client *c, int64_t exptime, const char *key, size_t key_len,
                     mcf_value *out);

typedef enum mcf_store_mode {
    MCF_SET = 0,
    MCF_ADD,
    MCF_REPLACE,
    MCF_APPEND,
    MCF_PREPEND,
    MCF_CAS
} mcf_store_mode;

/* Storage: MCF_OK (stored), MCF_NOT_STORED, MCF_EXISTS / MCF_NOT_FOUND
 * (cas), or an error.  `cas` is used by MCF_CAS only.  With noreply the
 * result is MCF_OK once the request is handed to the kernel. */
MCF_API int mcf_store(mcf_client *c, mcf_store_mode mode, const char *key, size_t key_len,
                      const void *value, size_t value_len, uint32_t flags,
                      int64_t exptime, uint64_t cas, unsigned call_flags);
MCF_API int mcf_set(mcf_client *c, const char *key, size_t key_len, const void *value,
                    size_t value_len, uint32_t flags, int64_t exptime);

/* incr / decr: MCF_OK and *new_value, or MCF_NOT_FOUND, or an error
 * (MCF_ERR_CLIENT when the stored value is not a number). new_value may
 * be NULL. */
MCF_API int mcf_incr(mcf_client *c, const char *key, size_t key_len, uint64_t delta,
                     uint64_t *new_value, unsigned call_flags);
MCF_API int mcf_decr(mcf_client *c, const char *key, size_t key_len, uint64_t delta,
                     uint64_t *new_value, unsigned call_flags);
MCF_API int mcf_delete(mcf_client *c, const char *key, size_t key_len, unsigned call_flags);
MCF_API int mcf_touch(mcf_client *c, const char *key, size_t key_len, int64_t exptime,
                      unsigned call_flags);

/* ------------------------------------------------------------------ */
/* Meta-protocol commands                                              */
/* ------------------------------------------------------------------ */
/*
 * The _ex calls expose what only memcached's meta commands can do (item
 * metadata, stale-while-revalidate, invalidation, auto-create).  They need
 * the meta protocol: MCF_OPT_PROTOCOL meta, or auto on a server that has it
 * (memcached >= 1.6.10).  On a text connection they fail with
 * MCF_ERR_NOT_SUPPORTED and nothing is sent.  A flag the connected server's
 * version does not have (see MCF_META_NEW_CAS, MCF_META_REMOVE_VALUE) also
 * fails with MCF_ERR_NOT_SUPPORTED, "... not supported by server S (version
 * V) ...", before anything is sent; the version is asked once per
 * connection, only when such a flag is used.
 *
 * Stale-while-revalidate (anti-stampede), the pattern these serve:
 *
 *   mcf_meta_opts o = {.flags = MCF_META_VIVIFY | MCF_META_RECACHE,
 *                      .vivify_ttl = 30, .recache_ttl = 30};
 *   rc = mcf_get_ex(c, key, klen, &o, &v, &info);
 *   if (info.win)            -> this caller recomputes and stores the value
 *                               (every other caller sees info.won meanwhile)
 *   else if (v.len || !info.won) -> use v (info.stale: it is old but usable)
 *   else                     -> another caller is computing it: retry soon
 *
 * A miss with MCF_META_VIVIFY creates an empty placeholder item (so the call
 * returns MCF_OK with an empty value and info.win set for the one caller
 * that created it, info.won for everyone after).  MCF_META_RECACHE makes
 * one caller win early, while the TTL left is below recache_ttl, so a hot
 * key is refreshed before it expires.  mcf_delete_ex with
 * MCF_META_INVALIDATE marks an item stale instead of removing it: readers
 * keep getting the old value with info.stale, and the first of them wins.
 */

/* mcf_meta_opts.flags; each call takes the flags listed for it and fails
 * with MCF_ERR_ARG on any other. */
#define MCF_META_GET_TTL 0x0001u         /* get, incr/decr: info->ttl, seconds left
                                          * (-1 = never expires) */
#define MCF_META_GET_LAST_ACCESS 0x0002u /* get: info->last_access, seconds since
                                          * the item was last read */
#define MCF_META_GET_HIT_BEFORE 0x0004u  /* get: info->hit_before, 1 if it was read
                                          * before this call */
#define MCF_META_NO_BUMP 0x0008u         /* get: no LRU bump, no access-time update */
#define MCF_META_SET_TTL 0x0010u         /* get (get-and-touch), incr/decr (on
                                          * success), delete with INVALIDATE: set
                                          * the item's TTL to opts->ttl */
#define MCF_META_VIVIFY 0x0020u          /* get: on a miss create an empty item
                                          * with TTL opts->vivify_ttl (info->win);
                                          * incr/decr: on a miss create the item
                                          * with value opts->initial and TTL
                                          * opts->vivify_ttl */
#define MCF_META_RECACHE 0x0040u         /* get: win (info->win) when the TTL
                                          * left is below opts->recache_ttl */
#define MCF_META_INVALIDATE 0x0080u      /* store in MCF_CAS mode: a CAS older
                                          * than the item's still stores the
                                          * value, marked stale; delete: mark
                                          * the item stale (and give it a new
                                          * CAS) instead of removing it */
#define MCF_META_COMPARE_CAS 0x0100u     /* delete, incr/decr: only if the item's
                                          * CAS is opts->cas (else MCF_EXISTS);
                                          * store: use mode MCF_CAS */
#define MCF_META_NEW_CAS 0x0200u         /* get, store, delete, incr/decr: give
                                          * the item CAS opts->new_cas if the call
                                          * modifies it (memcached >= 1.6.27) */
#define MCF_META_REMOVE_VALUE 0x0400u    /* delete: empty the value but keep the
                                          * item (memcached >= 1.6.27) */

typedef struct mcf_meta_opts {
    unsigned flags;      /* MCF_META_* */
    int64_t ttl;         /* MCF_META_SET_TTL (exptime rules as everywhere) */
    int64_t vivify_ttl;  /* MCF_META_VIVIFY */
    int64_t recache_ttl; /* MCF_META_RECACHE */
    uint64_t cas;        /* MCF_META_COMPARE_CAS */
    uint64_t new_cas;    /* MCF_META_NEW_CAS */
    uint64_t initial;    /* MCF_META_VIVIFY on incr/decr: the created value */
} mcf_meta_opts;

/* What a meta call learned about the item.  Fields not asked for are 0. */
typedef struct mcf_item_info {
    int64_t ttl;          /* MCF_META_GET_TTL */
    uint64_t last_access; /* MCF_META_GET_LAST_ACCESS */
    int hit_before;       /* MCF_META_GET_HIT_BEFORE */
    int win;   /* this caller won the right to recompute the item (W) */
    int stale; /* the item is stale: invalidated, awaiting a new value (X) */
    int won;   /* another caller already won; its new value is pending (Z) */
    uint64_t cas; /* the item's CAS after the call (get: as out->cas) */
} mcf_item_info;

/* mg: MCF_OK with *out (cas filled, as mcf_gets) and *info, MCF_MISS, or an
 * error.  opts and info may be NULL. */
MCF_API int mcf_get_ex(mcf_client *c, const char *key, size_t key_len,
                       const mcf_meta_opts *opts, mcf_value *out, mcf_item_info *info);

/* ms: as mcf_store (MCF_OK, MCF_NOT_STORED, MCF_EXISTS, MCF_NOT_FOUND), with
 * MCF_META_INVALIDATE (mode MCF_CAS) and MCF_META_NEW_CAS; info->cas gets the
 * stored item's CAS.  Compression applies as in mcf_store. */
MCF_API int mcf_store_ex(mcf_client *c, mcf_store_mode mode, const char *key, size_t key_len,
                         const void *value, size_t value_len, uint32_t flags, int64_t exptime,
                         uint64_t cas, const mcf_meta_opts *opts, mcf_item_info *info);

/* md: MCF_OK (deleted, or marked stale with MCF_META_INVALIDATE),
 * MCF_NOT_FOUND, MCF_EXISTS (MCF_META_COMPARE_CAS mismatch), or an error. */
MCF_API int mcf_delete_ex(mcf_client *c, const char *key, size_t key_len,
                          const mcf_meta_opts *opts);

/* ma: MCF_OK and *new_value (may be NULL), MCF_NOT_FOUND (a miss without
 * MCF_META_VIVIFY), MCF_EXISTS (CAS mismatch), MCF_NOT_STORED (the item
 * could not be created), or an error; info->cas (and info->ttl with
 * MCF_META_GET_TTL) describe the item after the change. */
MCF_API int mcf_incr_ex(mcf_client *c, const char *key, size_t key_len, uint64_t delta,
                        const mcf_meta_opts *opts, uint64_t *new_value, mcf_item_info *info);
MCF_API int mcf_decr_ex(mcf_client *c, const char *key, size_t key_len, uint64_t delta,
                        const mcf_meta_opts *opts, uint64_t *new_value, mcf_item_info *info);

/* Whether key exists, without reading its value or changing it (no TTL
 * change, no LRU bump other than a read's): "mg KEY" with no flags.
 * MCF_OK, MCF_MISS, or an error; meta only, as the _ex calls (text has no
 * such command: touch changes the TTL, get reads the value). */
MCF_API int mcf_exists(mcf_client *c, const char *key, size_t key_len);

/* ------------------------------------------------------------------ */
/* Multi-key commands                                                  */
/* ------------------------------------------------------------------ */

typedef enum mcf_get_mode { MCF_GET = 0, MCF_GETS, MCF_GAT, MCF_GATS } mcf_get_mode;

/* Called once per requested key, in no particular order across servers.
 * `index` is the key's position in the request; `rc` is MCF_OK (value
 * filled), MCF_MISS (value NULL) or an error code for that key's server
 * (value NULL; mcf_last_error() names the failure).  The value's memory is
 * valid only during the callback: no allocation is made per key. */
typedef void (*mcf_get_cb)(void *ctx, size_t index, int rc, const mcf_value *value);

/* Fetches n keys.  Keys are grouped per server and all servers are asked
 * at once from one poll loop under one I/O deadline.  key_lens may be
 * NULL (keys are then NUL-terminated strings).  exptime is used by
 * MCF_GAT/MCF_GATS only.  Returns MCF_OK when every key got a hit or a
 * miss, otherwise the first error met; every key gets exactly one
 * callback.  A bad key gets MCF_ERR_BAD_KEY and is never sent; the other
 * keys are still fetched.  A server that fails (connect, I/O, timeout,
 * protocol) fails only its own keys. */
MCF_API int mcf_get_multi(mcf_client *c, mcf_get_mode mode, int64_t exptime,
                          const char *const *keys, const size_t *key_lens, size_t n,
                          mcf_get_cb cb, void *ctx);

/* One item of a multi-key write.  Inputs are the caller's; `rc` and
 * `number` are filled by the library. */
typedef struct mcf_item {
    const char *key;
    size_t key_len;
    const void *value; /* store */
    size_t value_len;  /* store */
    uint32_t flags;    /* store */
    int64_t exptime;   /* store, touch */
    uint64_t cas;      /* MCF_CAS */
    uint64_t delta;    /* incr, decr */
    int rc;            /* out: per-item result */
    uint64_t number;   /* out: incr/decr new value */
} mcf_item;

typedef enum mcf_op {
    MCF_OP_SET = MCF_SET,
    MCF_OP_ADD = MCF_ADD,
    MCF_OP_REPLACE = MCF_REPLACE,
    MCF_OP_APPEND = MCF_APPEND,
    MCF_OP_PREPEND = MCF_PREPEND,
    MCF_OP_CAS = MCF_CAS,
    MCF_OP_INCR = 16,
    MCF_OP_DECR,
    MCF_OP_DELETE,
    MCF_OP_TOUCH
} mcf_op;

/* Runs op on n items: all requests for a server go out in one write and
 * replies are read in order, all servers in parallel.  Each item gets its
 * own rc.  Returns MCF_OK when no item has an error (misses, NOT_STORED
 * and the like are not errors), otherwise the first error.  An item with
 * a bad key or an oversize value gets its error and is never sent; the
 * others still run. */
MCF_API int mcf_multi(mcf_client *c, mcf_op op, mcf_item *items, size_t n,
                      unsigned call_flags);

/* ------------------------------------------------------------------ */
/* Whole-fleet and per-server commands                                 */
/* ------------------------------------------------------------------ */

MCF_API size_t mcf_server_count(const mcf_client *c);

/* flush_all on every server.  With delay > 0, server i of n is told to
 * flush after round(delay - delay * i / (n - 1)) seconds (the last one at
 * once), so the fleet does not go cold at once: Cache::Memcached::Fast's
 * spreading.  One server gets the delay itself. */
MCF_API int mcf_flush_all(mcf_client *c, int64_t delay, unsigned call_flags);

/* The version string of server i (e.g. "1.6.18"), copied into buf. */
MCF_API int mcf_version(mcf_client *c, size_t server, char *buf, size_t buflen);

/* "stats [arg]" on server i; cb is called for each "STAT name value", and
 * for "stats cachedump CLASS N" each "ITEM key [S b; T s]" (name: the key,
 * value: the bracket).  arg may have several words ("cachedump 1 3"), one
 * space between words; a control character, an empty word or a word over
 * MCF_MAX_KEY_LEN bytes is MCF_ERR_ARG and nothing is sent. */
typedef void (*mcf_stat_cb)(void *ctx, const char *name, size_t name_len,
                            const char *value, size_t value_len);
MCF_API int mcf_stats(mcf_client *c, size_t server, const char *arg, mcf_stat_cb cb,
                      void *ctx);

/* "lru_crawler metadump hash" on server i (memcached >= 1.6.9; the hash
 * table walk lists every item once, where the LRU walk of "all" can miss
 * items moving between LRUs): cb gets each item's line as the server sends
 * it, without line end, as the lines arrive: "key=K exp=E la=L cas=C
 * fetch=yes|no cls=N size=S", K URL-encoded, E -1 or a Unix time
 * (protocol.txt, lru_crawler metadump).  A server with dumping off (-X),
 * without the LRU crawler, busy with another crawl (BUSY) or older
 * (BADCLASS) answers an error: MCF_ERR_SERVER or MCF_ERR_CLIENT, its text
 * and the server in mcf_last_error.  The whole dump has one
 * MCF_OPT_IO_TIMEOUT_MS deadline. */
typedef void (*mcf_dump_cb)(void *ctx, const char *line, size_t len);
MCF_API int mcf_metadump(mcf_client *c, size_t server, mcf_dump_cb cb, void *ctx);

/* Which server a key goes to (index into the server list). */
MCF_API int mcf_server_for_key(mcf_client *c, const char *key, size_t key_len,
                               size_t *server);

/* What a server is and how it was last reached.  Strings are owned by
 * the client and valid until the server list changes. */
typedef struct mcf_server_info {
    const char *spec;    /* as configured, e.g. "[::1]:11212" */
    const char *address; /* connected address, e.g. "[::1]:11212"; "" if never */
    int family;          /* AF_INET, AF_INET6, AF_UNIX, or 0 if never connected */
    unsigned weight;
    double connect_ms;   /* duration of the last successful connect */
    int connected;       /* a connection of this process is open now (not one
                          * inherited across fork()) */
    int tls;             /* the server is reached over TLS */
    /* The open TLS connection, if any: "TLSv1.3", "TLS_AES_256_GCM_SHA384",
     * and 1 when its handshake resumed an earlier session.  "" and 0 when
     * none is open. */
    const char *tls_version;
    const char *tls_cipher;
    int tls_resumed;
    /* Health (docs/failures.md): down is 1 while calls skip the server
     * (marked down, or being probed); failures counts towards the limit;
     * retry_in_ms is when the next probe may begin (0: due, or not down);
     * downs counts the times it was marked down; down_why is why its last
     * probe failed ("" if none). */
    int down;
    unsigned failures;
    int64_t retry_in_ms;
    uint64_t downs;
    const char *down_why;
    /* Names (mcf_set_servers): when the connection's name is looked up
     * again, in ms (0: due or being looked up; -1: never, or not
     * connected); re_resolved counts the connections closed because the
     * name no longer answered their address. */
    int64_t dns_expires_in_ms;
    uint64_t re_resolved;
} mcf_server_info;
MCF_API int mcf_server_info_get(const mcf_client *c, size_t server, mcf_server_info *info);

/* Health events (docs/failures.md): a server marked down, or used again;
 * its keys sent elsewhere; a connection to it opened again. */
typedef enum mcf_event {
    MCF_EVENT_SERVER_DOWN = 1, /* failure limit reached: its keys are skipped */
    MCF_EVENT_SERVER_UP,       /* it answered again (a probe, or a call to it) */
    MCF_EVENT_FAILOVER,        /* MCF_OPT_FAILOVER: the first of its keys was sent to
                                * another server since it went down (once per down
                                * period, not per key) */
    MCF_EVENT_RECONNECT        /* a connection to it was opened after an earlier one
                                * (lost, timed out, or closed) */
} mcf_event;
/* Called on each event with the server's index; the client may be
 * inspected (mcf_server_info_get, mcf_last_error) but no call made on it
 * from the callback.  NULL removes it. */
typedef void (*mcf_event_cb)(void *ctx, mcf_event event, size_t server);
MCF_API void mcf_set_event_callback(mcf_client *c, mcf_event_cb cb, void *ctx);

/* ------------------------------------------------------------------ */
/* Per-server counters and latency (docs/observability.md)             */
/* ------------------------------------------------------------------ */
/* Room for every result code in mcf_server_stats.by_code (more than
 * MCF_ERR_LAST, so new codes fit without changing the struct). */
#define MCF_STATS_CODES 48
/* The latency histogram's buckets: log-linear, 8 per power of two of
 * microseconds (each at most 1/8 of its value wide), from 0 to 2^32 us;
 * mcf_latency_bucket_us gives each one's bounds. */
#define MCF_LATENCY_BUCKETS 240

/* What this client did with one server since the client was made, the
 * server was added, or mcf_stats_reset.  A server kept by mcf_set_servers
 * keeps its counters.  Counted in this process only (a child after fork()
 * starts from its parent's figures).  Probes of down servers (heal) are
 * not requests, but their connections count as connects.
 *
 * Every key of every key command is one request, with one result code:
 * the code the caller got for it, by_code[rc].  A key that failed before
 * a server was chosen (a bad key, an oversize value) counts nowhere.  A
 * key of a down server that failed fast counts on that server
 * (MCF_ERR_SERVER_DOWN); one sent elsewhere by failover counts where it
 * went.  Server commands (version, stats, flush_all) are not requests,
 * but their round trips are latencies. */
typedef struct mcf_server_stats {
    uint64_t requests;    /* keys answered or failed: the sum of by_code */
    uint64_t hits;        /* retrieval keys found (get, gets, gat, gats, _ex) */
    uint64_t misses;      /* retrieval keys not found */
    uint64_t errors;      /* keys failed with an error code (mcf_is_error) */
    uint64_t by_code[MCF_STATS_CODES]; /* keys per result code, every command */
    uint64_t timeouts;    /* I/O deadlines passed on it, connects timed out */
    uint64_t connects;    /* connections opened */
    uint64_t reconnects;  /* connections opened after an earlier one (the first
                           * since the server was added is not one) */
    /* Request latency: from the call (or async submit) to the reply that
     * completed the server's part of it, for requests with replies (not
     * text noreply; a meta noreply request waits for its "mn"), one per
     * server per call or async request (a multi-get of 100 keys on one
     * server is one).  Connect time is included when the request waited
     * for one.  latency[b] counts those in bucket b.  Recorded only with
     * MCF_OPT_LATENCY 1. */
    uint64_t latency_count;
    uint64_t latency_sum_us;
    uint64_t latency_max_us;
    uint64_t latency[MCF_LATENCY_BUCKETS];
} mcf_server_stats;

/* Fills *st for server i.  `size` is sizeof *st as the caller was built:
 * a struct that grew in a later version is filled up to that size.
 * MCF_ERR_ARG if i is out of range. */
MCF_API int mcf_server_stats_get(const mcf_client *c, size_t server, mcf_server_stats *st,
                                 size_t size);
/* Sets every server's counters back to zero (health is not changed). */
MCF_API void mcf_stats_reset(mcf_client *c);
/* Bucket b's bounds: it holds latencies lo <= us < hi. */
MCF_API void mcf_latency_bucket_us(size_t bucket, uint64_t *lo, uint64_t *hi);
/* The latency at quantile q (0..1; 0.99 is p99) of st's histogram, in
 * microseconds: the upper bound of the bucket that holds it, but no more
 * than latency_max_us.  0 when no latency was recorded. */
MCF_API uint64_t mcf_latency_quantile_us(const mcf_server_stats *st, double q);

/* Connects to server i now (if not connected), e.g. to measure it. */
MCF_API int mcf_connect_server(mcf_client *c, size_t server);

/* Closes every connection (synchronising noreply traffic first; in a
 * child after fork(), the inherited connections are only closed).  Not
 * needed after fork(): see "fork()" at the top. */
MCF_API void mcf_disconnect_all(mcf_client *c);

#ifdef __cplusplus
}
#endif
#endif /* MCFAST_H */
