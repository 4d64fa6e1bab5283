/* dist.c - owns key distribution: which server a key belongs to, for every
 * client mcfast is compatible with (modula tables, ketama continuums,
 * rendezvous scores).  The key hashes are hash.c's. */
#include "dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "mcfast.h"
#include "md5.h"

/* The largest continuum accepted: CMF stores a server's point count in an
 * int; more points than this is a configuration mistake, not a need. */
#define MAX_POINTS ((uint64_t)1 << 26)

/* No fleet is larger; the cap bounds CMF's O(n^2) line replay (about a
 * second at the cap) and keeps libmemcached's float formula in range. */
#define MAX_SERVERS 65536u

/* Cache::Memcached's hash is 15 bits wide, so a bucket table never needs
 * more entries than this, however large the total weight. */
#define MODULA_HASH_SPAN 32768u

static uint32_t crc32_add(uint32_t crc, const void *p, size_t n)
{
    return (uint32_t)crc32_z(crc, (const Bytef *)p, n);
}

/* libmemcached reads a digest's 32-bit words little-endian (hashkit's md5
 * and ketama_server_hash() both do (d[3]<<24)|(d[2]<<16)|(d[1]<<8)|d[0]). */
static uint32_t le32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* First point >= value, wrapping to the first: both Cache::Memcached::Fast
 * (dispatch_find_bucket) and libmemcached (dispatch_host) look up this way,
 * and among equal points the first in the sorted order wins. */
static size_t lower_bound_wrap(const mcf_point *pts, size_t n, uint32_t value)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pts[mid].point < value)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == n ? 0 : lo;
}

/* Ties sort by server index: CMF keeps the earlier-added server first on
 * an equal point and libmemcached's continuum_item_cmp orders by index. */
static int point_cmp(const void *a, const void *b)
{
    const mcf_point *x = a, *y = b;
    if (x->point != y->point)
        return x->point < y->point ? -1 : 1;
    return (x->server > y->server) - (x->server < y->server);
}

/* ---------------------------------------------------------------- */
/* Modula (Cache::Memcached, Cache::Memcached::Fast without ketama)  */
/* ---------------------------------------------------------------- */

/* The weight CMF's modes use: the fractional one when given. */
static double cmf_weight(const mcf_spec *s)
{
    return s->frac_weight > 0 ? s->frac_weight : (double)s->weight;
}

/* CMF's point count for a server: (int)(ketama_points * weight + 0.5),
 * exact for integer weights; -1 past INT_MAX. */
static int64_t cmf_points(unsigned npoints, const mcf_spec *s)
{
    double c = (double)npoints * cmf_weight(s) + 0.5;
    return c > INT_MAX ? -1 : (int64_t)c;
}

/* Cache::Memcached expands servers into a list with `weight` copies each
 * and picks buckets[hash % count].  Cache::Memcached::Fast
 * (compatible_add_server/compatible_get_server in dispatch_key.c) instead
 * keeps a line of 2^32-1 split by weight: adding a server of weight w
 * shrinks every existing border point p to p -= p * (w / total), i.e.
 * truncated, then appends 0xffffffff; bucket v = hash % (unsigned)(total
 * + 0.5) maps to (unsigned)(v / total * 0xffffffff + 0.5) + 1 and the
 * first border >= that.  (Another CMF source revision rounds the shrunk
 * borders with +0.5; the installed 0.28 truncates - rounding would put
 * the first bucket of each server's range on the previous server, and the
 * real module does not.)  For integer weights this equals Cache::Memcached's choice;
 * we replay CMF's double arithmetic exactly, once per possible bucket, so
 * a lookup is one table read and fractional rounding edges agree with
 * CMF.  A fractional weight (mcf_add_server_weight) takes the same
 * arithmetic, so with it keys go where CMF puts them (Cache::Memcached
 * truncates such weights instead: the two real clients then disagree). */
static int build_modula(mcf_dist *d, const mcf_spec *servers, size_t n)
{
    double wsum = 0.0;
    for (size_t i = 0; i < n; i++)
        wsum += cmf_weight(&servers[i]);
    /* CMF casts the total to unsigned int and takes the hash modulo it:
     * a total under 0.5 would divide by zero there. */
    if (wsum + 0.5 >= (double)UINT32_MAX || (n > 1 && wsum < 0.5))
        return MCF_ERR_ARG;

    mcf_point *line = malloc(n * sizeof *line);
    if (!line)
        return MCF_ERR_NOMEM;
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        double w = cmf_weight(&servers[i]);
        total += w;
        double scale = w / total;
        for (size_t j = 0; j < i; j++)
            line[j].point = (uint32_t)((double)line[j].point - (double)line[j].point * scale);
        line[i].point = 0xffffffffu;
        line[i].server = (uint32_t)i;
    }

    uint32_t modulus = (uint32_t)(total + 0.5);
    /* hash < 32768, so for a larger modulus hash % modulus == hash %
     * 32768: a table of min(modulus, 32768) entries indexed by
     * hash % nbuckets covers every case. */
    size_t nb = modulus < MODULA_HASH_SPAN ? modulus : MODULA_HASH_SPAN;
    uint32_t *table = malloc(nb * sizeof *table);
    if (!table) {
        free(line);
        return MCF_ERR_NOMEM;
    }
    for (size_t v = 0; v < nb; v++) {
        uint32_t p = (uint32_t)((double)v / total * 4294967295.0 + 0.5);
        p += 1; /* CMF: step off a border point that belongs to the previous server */
        table[v] = n == 1 ? 0 : line[lower_bound_wrap(line, n, p)].server;
    }
    free(line);
    d->buckets = table;
    d->nbuckets = nb;
    return 0;
}

static uint32_t modula_hash(const char *key, size_t len)
{
    return mcf_hash_crc_15bit(key, len);
}

/* ---------------------------------------------------------------- */
/* Cache::Memcached::Fast ketama (ketama_crc32_add_server)           */
/* ---------------------------------------------------------------- */

/* CMF splits the address at its last ':' into host and port (Fast.xs
 * add_server) and seeds S = crc32(host "\0" port), the port empty when
 * the address has no ':'.  Its IPv6 form "::1:11212" splits into "::1"
 * and "11212", exactly mcfast's "[::1]:11212" (host without brackets);
 * "host" without a port hashes as host "\0".  A unix path is all host:
 * S = crc32(path "\0") (a path with a ':' would not work in CMF). */
static uint32_t cmf_seed(const mcf_spec *s)
{
    static const char nul = '\0';
    char port[8] = "";
    const char *host = s->is_unix ? s->path : s->host;
    if (!s->is_unix && s->port_written)
        snprintf(port, sizeof port, "%u", (unsigned)s->port);
    uint32_t c = crc32_add(0, host, strlen(host));
    c = crc32_add(c, &nul, 1);
    return crc32_add(c, port, strlen(port));
}

static int build_ketama_cmf(mcf_dist *d, const mcf_spec *servers, size_t n, unsigned npoints)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t c = cmf_points(npoints, &servers[i]);
        if (c < 0)
            return MCF_ERR_ARG;
        total += (uint64_t)c;
    }
    if (total == 0 || total > MAX_POINTS)
        return MCF_ERR_ARG;
    mcf_point *pts = malloc((size_t)total * sizeof *pts);
    if (!pts)
        return MCF_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t seed = cmf_seed(&servers[i]);
        uint64_t count = (uint64_t)cmf_points(npoints, &servers[i]);
        /* Points are chained: each is S continued over the previous
         * point as 4 little-endian bytes, starting from 0.  (Another CMF
         * source revision hashes the index i instead; 0.28 chains.) */
        uint32_t point = 0;
        for (uint64_t j = 0; j < count; j++) {
            unsigned char le[4] = {(unsigned char)point, (unsigned char)(point >> 8),
                                   (unsigned char)(point >> 16), (unsigned char)(point >> 24)};
            point = crc32_add(seed, le, 4);
            pts[k].point = point;
            pts[k].server = (uint32_t)i;
            k++;
        }
    }
    qsort(pts, k, sizeof *pts, point_cmp);
    d->points = pts;
    d->npoints = k;
    return 0;
}

/* ---------------------------------------------------------------- */
/* libmemcached weighted ketama (hosts.cc update_continuum)          */
/* ---------------------------------------------------------------- */

/* Digests per server: libmemcached computes, in float,
 *   floor(weight/total * 160 / 4 * nservers + 1e-10f)
 * digests of 4 points each.  The float steps are kept one per statement
 * so each rounds to float as libmemcached's do: weights 1,4,5,7,8 give
 * 7.9999995 -> 7 digests for the first server, not 8 (the 1e-10f is lost
 * in float).  The value is >= 0, so the integer conversion is the floor. */
static uint32_t lmc_digests(unsigned weight, uint64_t total_weight, size_t n)
{
    float pct = (float)weight / (float)total_weight;
    float x = pct * 160.0f;
    x = x / 4.0f;
    x = x * (float)n;
    x = x + 0.0000000001f;
    return (uint32_t)x;
}

/* A server's name in the continuum: "host" on port 11211, else
 * "host:port"; libmemcached names a unix socket by its path with port 0,
 * "path:0".  nutcracker names its servers the same way ("to maintain
 * backward compatibility with libmemcached", nc_conf.c conf_add_server),
 * but takes the length of a unix socket's name as path + ':' + an empty
 * port, so "path:" (the ':' that precedes the weight in its config line). */
static int lmc_name(const mcf_spec *s, int nutcracker, char *buf, size_t buflen)
{
    if (s->is_unix)
        return snprintf(buf, buflen, nutcracker ? "%s:" : "%s:0", s->path);
    if (s->port == 11211)
        return snprintf(buf, buflen, "%s", s->host);
    return snprintf(buf, buflen, "%s:%u", s->host, (unsigned)s->port);
}

/* The continuum key of point i: "name-i". */
static int lmc_point_key(const mcf_spec *s, int nutcracker, uint32_t i, char *buf, size_t buflen)
{
    int n = lmc_name(s, nutcracker, buf, buflen);
    if (n < 0 || (size_t)n >= buflen)
        return -1;
    int m = snprintf(buf + n, buflen - (size_t)n, "-%u", (unsigned)i);
    return m < 0 ? -1 : n + m;
}

#define LMC_KEY_MAX (MCF_HOST_MAX + sizeof(((mcf_spec *)0)->path) + 32)

/* nutcracker sorts its servers by name (conf_validate_server:
 * array_sort with string_compare, shorter names first, then bytewise) and
 * numbers them in that order, so its modula counts and its continuum's
 * ties follow the sorted list, not the config file.  Fills order[rank] =
 * index into servers; equal names (nutcracker refuses them) keep list
 * order. */
typedef struct nc_sortkey {
    char name[LMC_KEY_MAX];
    size_t len, index;
} nc_sortkey;

static int nc_name_cmp(const void *a, const void *b)
{
    const nc_sortkey *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    int c = memcmp(x->name, y->name, x->len);
    if (c)
        return c;
    return (x->index > y->index) - (x->index < y->index);
}

static int nutcracker_order(const mcf_spec *servers, size_t n, uint32_t *order)
{
    nc_sortkey *k = malloc(n * sizeof *k);
    if (!k)
        return MCF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        int len = lmc_name(&servers[i], 1, k[i].name, sizeof k[i].name);
        if (len < 0 || (size_t)len >= sizeof k[i].name) {
            free(k);
            return MCF_ERR_ARG;
        }
        k[i].len = (size_t)len;
        k[i].index = i;
    }
    qsort(k, n, sizeof *k, nc_name_cmp);
    for (size_t r = 0; r < n; r++)
        order[r] = (uint32_t)k[r].index;
    free(k);
    return 0;
}

/* The weighted continuum: libmemcached with KETAMA_WEIGHTED (hosts.cc
 * update_continuum) and nutcracker's ketama (nc_ketama.c ketama_update),
 * which compute it alike: per server lmc_digests() MD5 digests of the
 * point keys name-0, name-1, ..., each giving 4 points (its 4 words
 * little-endian).  Points carry the server's rank while they are sorted
 * (nutcracker's numbering: see nutcracker_order), so that a tie goes to
 * the server the client numbers first; then its index in servers. */
static int build_ketama_lmc(mcf_dist *d, const mcf_spec *servers, size_t n, int nutcracker)
{
    uint64_t total_weight = 0;
    for (size_t i = 0; i < n; i++)
        total_weight += servers[i].weight;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += 4 * (uint64_t)lmc_digests(servers[i].weight, total_weight, n);
    if (total == 0 || total > MAX_POINTS)
        return MCF_ERR_ARG;
    uint32_t *order = malloc(n * sizeof *order);
    mcf_point *pts = malloc((size_t)total * sizeof *pts);
    int rc = !order || !pts ? MCF_ERR_NOMEM : 0;
    if (!rc && nutcracker)
        rc = nutcracker_order(servers, n, order);
    else if (!rc)
        for (size_t r = 0; r < n; r++)
            order[r] = (uint32_t)r;
    size_t k = 0;
    char key[LMC_KEY_MAX];
    for (size_t r = 0; r < n && !rc; r++) {
        const mcf_spec *s = &servers[order[r]];
        uint32_t digests = lmc_digests(s->weight, total_weight, n);
        for (uint32_t j = 0; j < digests && !rc; j++) {
            int len = lmc_point_key(s, nutcracker, j, key, sizeof key);
            if (len < 0 || (size_t)len >= sizeof key) {
                rc = MCF_ERR_ARG;
                break;
            }
            unsigned char md[MCF_MD5_LEN];
            mcf_md5(key, (size_t)len, md);
            for (int a = 0; a < 4; a++) {
                pts[k].point = le32(md + 4 * a);
                pts[k].server = (uint32_t)r;
                k++;
            }
        }
    }
    if (rc) {
        free(order);
        free(pts);
        return rc;
    }
    /* nutcracker sorts by point only, but glibc's qsort is a stable merge
     * sort for arrays this small, so its ties keep server order too. */
    qsort(pts, k, sizeof *pts, point_cmp);
    for (size_t i = 0; i < k; i++)
        pts[i].server = order[pts[i].server];
    free(order);
    d->points = pts;
    d->npoints = k;
    return 0;
}

/* libmemcached's continuum without weighting (hosts.cc update_continuum
 * when not memcached_is_weighted_ketama): MEMCACHED_POINTS_PER_SERVER
 * points per server whatever its weight, each the key hash of a point key
 * (the same function as the keys: hashkit_digest). */
#define LMC_POINTS_PER_SERVER 100

static int build_ketama_lmc_unweighted(mcf_dist *d, const mcf_spec *servers, size_t n,
                                       mcf_hash_fn hash)
{
    size_t total = n * LMC_POINTS_PER_SERVER;
    mcf_point *pts = malloc(total * sizeof *pts);
    if (!pts)
        return MCF_ERR_NOMEM;
    size_t k = 0;
    char key[LMC_KEY_MAX];
    for (size_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < LMC_POINTS_PER_SERVER; j++) {
            int len = lmc_point_key(&servers[i], 0, j, key, sizeof key);
            if (len < 0 || (size_t)len >= sizeof key) {
                free(pts);
                return MCF_ERR_ARG;
            }
            pts[k].point = hash(key, (size_t)len);
            pts[k].server = (uint32_t)i;
            k++;
        }
    qsort(pts, k, sizeof *pts, point_cmp);
    d->points = pts;
    d->npoints = k;
    return 0;
}

/* ---------------------------------------------------------------- */
/* twemproxy modula (nc_modula.c): a list with `weight` entries per      */
/* server in order, entry hash % length                               */
/* ---------------------------------------------------------------- */

static int build_nutcracker_modula(mcf_dist *d, const mcf_spec *servers, size_t n)
{
    d->cum = malloc(n * sizeof *d->cum);
    d->order = malloc(n * sizeof *d->order);
    if (!d->cum || !d->order)
        return MCF_ERR_NOMEM;
    int rc = nutcracker_order(servers, n, d->order);
    if (rc)
        return rc;
    uint64_t t = 0;
    for (size_t r = 0; r < n; r++)
        d->cum[r] = t += servers[d->order[r]].weight;
    if (t > UINT32_MAX) /* nutcracker counts the entries in a uint32_t */
        return MCF_ERR_ARG;
    return 0;
}

static uint32_t pick_nutcracker_modula(const mcf_dist *d, uint32_t hash)
{
    uint64_t v = hash % d->cum[d->nservers - 1];
    /* the first server (by rank) whose entries reach past v */
    size_t lo = 0, hi = d->nservers - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->cum[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return d->order[lo];
}

/* ---------------------------------------------------------------- */
/* pymemcache HashClient (client/rendezvous.py RendezvousHash)        */
/* ---------------------------------------------------------------- */

/* pymemcache names a server "host:port" (normalize_server_spec: host
 * without IPv6 brackets, port 11211 when none was written) or by its unix
 * path, and scores a key murmur3_32("%s-%s" % (name, key), seed 0); the
 * highest score wins, a tie goes to the greater name (Python's max() of
 * the two strings).  The murmur3 is Python's over a str: one "byte" per
 * character, ord(c) & 0xff, so a key that is valid UTF-8 (as
 * allow_unicode_keys sends a str) is hashed by its characters. */
static int pymemcache_name(const mcf_spec *s, char *buf, size_t buflen)
{
    if (s->is_unix)
        return snprintf(buf, buflen, "%s", s->path);
    return snprintf(buf, buflen, "%s:%u", s->host, (unsigned)s->port);
}

static int build_pymemcache(mcf_dist *d, const mcf_spec *servers, size_t n)
{
    char name[LMC_KEY_MAX];
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int len = pymemcache_name(&servers[i], name, sizeof name);
        if (len < 0 || (size_t)len >= sizeof name)
            return MCF_ERR_ARG;
        total += (size_t)len + 1;
    }
    d->node_state = malloc(n * sizeof *d->node_state);
    d->name_off = malloc(n * sizeof *d->name_off);
    d->names = malloc(total);
    if (!d->node_state || !d->name_off || !d->names)
        return MCF_ERR_NOMEM;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        int len = pymemcache_name(&servers[i], d->names + off, total - off);
        d->name_off[i] = off;
        mcf_murmur3_init(&d->node_state[i], 0);
        mcf_murmur3_bytes(&d->node_state[i], d->names + off, (size_t)len);
        mcf_murmur3_byte(&d->node_state[i], '-');
        off += (size_t)len + 1;
    }
    return 0;
}

/* The length of the UTF-8 sequence at p[0..n) Python's strict decoder
 * accepts, with its code point in *cp; 0 if it would refuse it. */
static size_t utf8_one(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char b = p[0];
    size_t len;
    uint32_t c, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
        len = 2, c = b & 0x1f, min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3, c = b & 0x0f, min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4, c = b & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0; /* overlong, beyond Unicode, or a surrogate */
    *cp = c;
    return len;
}

static int utf8_valid(const unsigned char *p, size_t n)
{
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_one(p + i, n - i, &cp);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

static uint32_t pymemcache_score(const mcf_dist *d, size_t i, const unsigned char *key,
                                 size_t len, int chars)
{
    mcf_murmur3 m = d->node_state[i];
    if (!chars) {
        mcf_murmur3_bytes(&m, key, len);
    } else {
        uint32_t cp;
        for (size_t k = 0; k < len;) {
            k += utf8_one(key + k, len - k, &cp);
            mcf_murmur3_byte(&m, (unsigned char)(cp & 0xff));
        }
    }
    return mcf_murmur3_final(&m);
}

static uint32_t pick_pymemcache(const mcf_dist *d, const char *key, size_t len)
{
    const unsigned char *k = (const unsigned char *)key;
    int chars = 0;
    for (size_t i = 0; i < len && !chars; i++)
        chars = k[i] >= 0x80;
    /* Bytes that are not UTF-8 cannot come from a Python str: hash them
     * as they are (as their latin-1 decoding would be). */
    if (chars && !utf8_valid(k, len))
        chars = 0;
    size_t best = 0;
    uint32_t best_score = pymemcache_score(d, 0, k, len, chars);
    for (size_t i = 1; i < d->nservers; i++) {
        uint32_t sc = pymemcache_score(d, i, k, len, chars);
        if (sc > best_score ||
            (sc == best_score && strcmp(d->names + d->name_off[i], d->names + d->name_off[best]) > 0)) {
            best = i;
            best_score = sc;
        }
    }
    return (uint32_t)best;
}

/* ---------------------------------------------------------------- */

/* Each mode's own key hash, and whether MCF_OPT_HASH may replace it. */
static int default_hash(int mode, int *configurable)
{
    *configurable = 1;
    switch (mode) {
    case MCF_DIST_KETAMA_LIBMEMCACHED:
        return MCF_HASH_MD5; /* KETAMA_WEIGHTED sets MEMCACHED_HASH_MD5 */
    case MCF_DIST_LIBMEMCACHED:
    case MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED:
        return MCF_HASH_ONE_AT_A_TIME; /* MEMCACHED_HASH_DEFAULT */
    case MCF_DIST_NUTCRACKER_KETAMA:
    case MCF_DIST_NUTCRACKER_MODULA:
        return MCF_HASH_FNV1A_64; /* nutcracker's default "hash" */
    case MCF_DIST_MODULA:
        *configurable = 0;
        return MCF_HASH_CRC;
    case MCF_DIST_KETAMA_CMF:
        *configurable = 0;
        return MCF_HASH_CRC32;
    default:
        *configurable = 0;
        return MCF_HASH_DEFAULT; /* pymemcache: its own scoring */
    }
}

int mcf_dist_takes_fractional_weights(int mode)
{
    return mode == MCF_DIST_MODULA || mode == MCF_DIST_KETAMA_CMF;
}

const char *mcf_dist_why(int mode, int hash)
{
    if (mode < MCF_DIST_MODULA || mode > MCF_DIST_NUTCRACKER_MODULA)
        return "unknown distribution";
    if (hash == MCF_HASH_DEFAULT)
        return NULL;
    if (!mcf_hash_function(hash))
        return "unknown hash";
    int configurable;
    default_hash(mode, &configurable);
    if (!configurable)
        return mode == MCF_DIST_PYMEMCACHE
                   ? "pymemcache's distribution has its own hash (murmur3 over server and key)"
                   : "Cache::Memcached(::Fast)'s distributions have a fixed hash (CRC-32)";
    return NULL;
}

int mcf_dist_build(mcf_dist *d, int mode, int hash, const mcf_spec *servers, size_t n,
                   unsigned ketama_points)
{
    if (!d)
        return MCF_ERR_ARG;
    memset(d, 0, sizeof *d);
    if (!servers || n == 0 || n > MAX_SERVERS)
        return MCF_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (servers[i].weight < 1)
            return MCF_ERR_ARG;
    /* CMF: ketama_points => 0 disables ketama, leaving its modula mode. */
    if (mode == MCF_DIST_KETAMA_CMF && ketama_points == 0)
        mode = MCF_DIST_MODULA;
    if (mcf_dist_why(mode, hash))
        return MCF_ERR_ARG;
    if (!mcf_dist_takes_fractional_weights(mode))
        for (size_t i = 0; i < n; i++)
            if (servers[i].frac_weight > 0)
                return MCF_ERR_ARG;
    int configurable;
    int own = default_hash(mode, &configurable);
    d->hash = mcf_hash_function(hash != MCF_HASH_DEFAULT ? hash : own);

    int rc;
    switch (mode) {
    case MCF_DIST_MODULA:
        rc = build_modula(d, servers, n);
        break;
    case MCF_DIST_KETAMA_CMF:
        rc = build_ketama_cmf(d, servers, n, ketama_points);
        break;
    case MCF_DIST_KETAMA_LIBMEMCACHED:
        rc = build_ketama_lmc(d, servers, n, 0);
        break;
    case MCF_DIST_NUTCRACKER_KETAMA:
        rc = build_ketama_lmc(d, servers, n, 1);
        break;
    case MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED:
        rc = build_ketama_lmc_unweighted(d, servers, n, d->hash);
        break;
    case MCF_DIST_NUTCRACKER_MODULA:
        rc = build_nutcracker_modula(d, servers, n);
        break;
    case MCF_DIST_PYMEMCACHE:
        rc = build_pymemcache(d, servers, n);
        break;
    default: /* MCF_DIST_LIBMEMCACHED: nothing to build */
        rc = 0;
        break;
    }
    if (rc != 0) {
        mcf_dist_free(d);
        return rc;
    }
    d->mode = mode;
    d->nservers = n;
    return 0;
}

void mcf_dist_free(mcf_dist *d)
{
    if (!d)
        return;
    free(d->buckets);
    free(d->cum);
    free(d->order);
    free(d->points);
    free(d->node_state);
    free(d->names);
    free(d->name_off);
    memset(d, 0, sizeof *d);
}

uint32_t mcf_dist_hash(const mcf_dist *d, const char *key, size_t len)
{
    if (d->mode == MCF_DIST_PYMEMCACHE)
        return mcf_hash_murmur3_32(key, len, 0);
    return d->hash(key, len);
}

uint32_t mcf_dist_pick(const mcf_dist *d, const char *key, size_t len)
{
    /* One server takes every key (every client short-cuts this). */
    if (d->nservers <= 1)
        return 0;
    switch (d->mode) {
    case MCF_DIST_MODULA:
        return d->buckets[modula_hash(key, len) % d->nbuckets];
    case MCF_DIST_LIBMEMCACHED:
        return d->hash(key, len) % (uint32_t)d->nservers; /* hash.cc dispatch_host */
    case MCF_DIST_NUTCRACKER_MODULA:
        return pick_nutcracker_modula(d, d->hash(key, len));
    case MCF_DIST_PYMEMCACHE:
        return pick_pymemcache(d, key, len);
    default:
        return d->points[lower_bound_wrap(d->points, d->npoints, d->hash(key, len))].server;
    }
}

static const struct {
    const char *name;
    int mode;
} dist_names[] = {
    {"modula", MCF_DIST_MODULA},
    {"ketama", MCF_DIST_KETAMA_CMF},
    {"ketama-libmemcached", MCF_DIST_KETAMA_LIBMEMCACHED},
    {"libmemcached", MCF_DIST_LIBMEMCACHED},
    {"ketama-libmemcached-unweighted", MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED},
    {"pymemcache", MCF_DIST_PYMEMCACHE},
    {"nutcracker", MCF_DIST_NUTCRACKER_KETAMA},
    {"nutcracker-modula", MCF_DIST_NUTCRACKER_MODULA},
    {"nutcracker-ketama", MCF_DIST_NUTCRACKER_KETAMA},
};

int mcf_dist_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof dist_names / sizeof dist_names[0]; i++)
        if (strcmp(name, dist_names[i].name) == 0)
            return dist_names[i].mode;
    return -1;
}

const char *mcf_dist_name(int mode)
{
    for (size_t i = 0; i < sizeof dist_names / sizeof dist_names[0]; i++)
        if (dist_names[i].mode == mode)
            return dist_names[i].name;
    return NULL;
}
