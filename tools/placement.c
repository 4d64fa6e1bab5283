/* placement.c - owns the CLI's placement reports (see placement.h): which
 * server a key maps to, each server's share of the key space, what a change
 * of the server list would move, and the SVG picture of it.
 *
 * Shares are measured the way keys really go: sample keys routed by the
 * library (mcf_server_for_key).  For the ketama modes the exact share of the
 * 32-bit ring is also given, from the continuum dist.c builds. */
#include "placement.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dist.h"
#include "hash.h"
#include "spec.h"

#define DEFAULT_SAMPLE_KEYS 100000
#define MAX_SAMPLE_KEYS 100000000
#define MAX_CHANGES 64
#define RING_SPAN 4294967296.0 /* 2^32: the ketama hash space */

/* ------------------------------------------------------------------ */

int placement_server_for(mcf_client *c, char **keys, int nkeys)
{
    for (int i = 0; i < nkeys; i++) {
        size_t srv;
        int rc = mcf_server_for_key(c, keys[i], strlen(keys[i]), &srv);
        mcf_server_info info;
        if (rc == MCF_OK)
            rc = mcf_server_info_get(c, srv, &info);
        if (rc != MCF_OK) {
            const char *msg = mcf_last_error(c);
            fprintf(stderr, "mcfast: server-for %s: %s\n", keys[i],
                    msg && *msg ? msg : mcf_strerror(rc));
            return XC_ERROR;
        }
        printf("%s %s\n", keys[i], info.spec);
    }
    return XC_OK;
}

/* ------------------------------------------------------------------ */
/* A server list: specs and weights, as the client has them           */
/* ------------------------------------------------------------------ */

typedef struct fleet {
    size_t n;
    char (*spec)[MCF_SPEC_TEXT_MAX];
    unsigned *weight;
} fleet;

static void fleet_free(fleet *f)
{
    free(f->spec);
    free(f->weight);
    memset(f, 0, sizeof *f);
}

static int fleet_add(fleet *f, const char *spec, unsigned weight)
{
    char (*s)[MCF_SPEC_TEXT_MAX] = realloc(f->spec, (f->n + 1) * sizeof *s);
    if (!s)
        return -1;
    f->spec = s;
    unsigned *w = realloc(f->weight, (f->n + 1) * sizeof *w);
    if (!w)
        return -1;
    f->weight = w;
    snprintf(f->spec[f->n], sizeof f->spec[f->n], "%s", spec);
    f->weight[f->n] = weight;
    f->n++;
    return 0;
}

static int fleet_of_client(const mcf_client *c, fleet *f)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < mcf_server_count(c); i++) {
        mcf_server_info info;
        if (mcf_server_info_get(c, i, &info) != MCF_OK || fleet_add(f, info.spec, info.weight))
            return -1;
    }
    return 0;
}

/* "host:port[:weight]" (any spec the library takes): its text without the
 * weight, and the weight (1 when none is written). */
static int parse_one(const char *arg, char *text, size_t cap, unsigned *weight)
{
    mcf_spec s;
    char err[256];
    if (mcf_spec_parse(arg, strlen(arg), &s, err, sizeof err) != 0) {
        fprintf(stderr, "mcfast: ring: '%s': %s\n", arg, err);
        return -1;
    }
    snprintf(text, cap, "%s", s.text);
    *weight = s.weight_written ? s.weight : 1;
    return 0;
}

/* The placement options of `c` on a new client with the servers of f. */
static mcf_client *client_like(const mcf_client *c, const fleet *f)
{
    mcf_client *n = mcf_new();
    if (!n)
        return NULL;
    static const mcf_option copied[] = {MCF_OPT_DISTRIBUTION, MCF_OPT_HASH,
                                        MCF_OPT_KETAMA_POINTS};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
        mcf_set_option(n, copied[i], mcf_get_option(c, copied[i]));
    for (size_t i = 0; i < f->n; i++)
        if (mcf_add_server(n, f->spec[i], f->weight[i]) != MCF_OK) {
            fprintf(stderr, "mcfast: ring: %s: %s\n", f->spec[i], mcf_last_error(n));
            mcf_free(n);
            return NULL;
        }
    return n;
}

/* ------------------------------------------------------------------ */
/* Measuring                                                           */
/* ------------------------------------------------------------------ */

/* Sample keys of varied shapes, the same on every run. */
static size_t sample_key(uint32_t i, char *buf, size_t cap)
{
    uint64_t x = (uint64_t)i * 0x9e3779b97f4a7c15u + 0x632be59bd9b4e019u;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 29;
    static const char *const shapes[] = {"user:%u", "session:%08llx", "obj/%u/%llx", "k%llx"};
    int n = snprintf(buf, cap, shapes[i % 4], i % 4 == 1 ? (unsigned)(x >> 32) : i,
                     (unsigned long long)(x & 0xffffffffffu));
    return (size_t)n;
}

/* The server of every sample key; -1 after a message. */
static int place(mcf_client *c, uint32_t nkeys, uint32_t *where)
{
    char key[64];
    for (uint32_t i = 0; i < nkeys; i++) {
        size_t srv, len = sample_key(i, key, sizeof key);
        int rc = mcf_server_for_key(c, key, len, &srv);
        if (rc != MCF_OK) {
            fprintf(stderr, "mcfast: ring: %s\n", mcf_last_error(c));
            return -1;
        }
        where[i] = (uint32_t)srv;
    }
    return 0;
}

/* The exact share of the 2^32 ring each server owns (point p owns the
 * hashes after the point before it, up to and including p; the first owns
 * the wrap-around too).  0 when the mode has a continuum, else -1. */
static int ring_shares(const mcf_client *c, const fleet *f, double *share)
{
    int mode = (int)mcf_get_option(c, MCF_OPT_DISTRIBUTION);
    if (mode == MCF_DIST_MODULA || mode == MCF_DIST_LIBMEMCACHED ||
        mode == MCF_DIST_PYMEMCACHE || mode == MCF_DIST_NUTCRACKER_MODULA)
        return -1;
    mcf_spec *specs = calloc(f->n, sizeof *specs);
    if (!specs)
        return -1;
    for (size_t i = 0; i < f->n; i++) {
        char err[256];
        if (mcf_spec_parse(f->spec[i], strlen(f->spec[i]), &specs[i], err, sizeof err) != 0) {
            free(specs);
            return -1;
        }
        specs[i].weight = f->weight[i];
    }
    mcf_dist d;
    int rc = mcf_dist_build(&d, mode, (int)mcf_get_option(c, MCF_OPT_HASH), specs, f->n,
                            (unsigned)mcf_get_option(c, MCF_OPT_KETAMA_POINTS));
    free(specs);
    if (rc != 0 || d.npoints == 0) {
        mcf_dist_free(&d);
        return -1;
    }
    for (size_t i = 0; i < f->n; i++)
        share[i] = 0;
    for (size_t i = 0; i < d.npoints; i++) {
        double from = i ? d.points[i - 1].point : (double)d.points[d.npoints - 1].point - RING_SPAN;
        share[d.points[i].server] += ((double)d.points[i].point - from) / RING_SPAN;
    }
    mcf_dist_free(&d);
    return 0;
}

/* Whether the mode spreads keys by weight (the others ignore weights). */
static int honours_weights(const mcf_client *c)
{
    int mode = (int)mcf_get_option(c, MCF_OPT_DISTRIBUTION);
    return mode != MCF_DIST_LIBMEMCACHED && mode != MCF_DIST_KETAMA_LIBMEMCACHED_UNWEIGHTED &&
           mode != MCF_DIST_PYMEMCACHE;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

/* --json: one {"list":"before"|"after","server":SPEC,"weight":W,"keys":N,
 * "share":PCT[,"ring_share":PCT]} per server. */
static void json_table(const char *list, const fleet *f, const uint32_t *count,
                       uint32_t nkeys, const double *ring)
{
    for (size_t i = 0; i < f->n; i++) {
        struct jobj j;
        cli_jbegin(&j);
        cli_jstr(&j, "list", list);
        cli_jstr(&j, "server", f->spec[i]);
        cli_ju64(&j, "weight", f->weight[i]);
        cli_ju64(&j, "keys", count[i]);
        cli_jdouble(&j, "share", 100.0 * count[i] / nkeys);
        if (ring)
            cli_jdouble(&j, "ring_share", 100.0 * ring[i]);
        cli_jend(&j);
    }
}

static void print_table(const char *title, const fleet *f, const uint32_t *count, uint32_t nkeys,
                        const double *ring)
{
    size_t w = strlen("server");
    for (size_t i = 0; i < f->n; i++)
        if (strlen(f->spec[i]) > w)
            w = strlen(f->spec[i]);
    if (*title)
        printf("%s\n", title);
    printf("%-*s  weight      keys    share%s\n", (int)w, "server", ring ? "  ring share" : "");
    for (size_t i = 0; i < f->n; i++) {
        printf("%-*s  %6u  %8u  %6.2f%%", (int)w, f->spec[i], f->weight[i], count[i],
               100.0 * count[i] / nkeys);
        if (ring)
            printf("  %9.2f%%", 100.0 * ring[i]);
        printf("\n");
    }
}

static void svg_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* A server's colour: hues a golden angle apart, so neighbours differ. */
static void svg_colour(char *buf, size_t cap, size_t i)
{
    snprintf(buf, cap, "hsl(%u,65%%,50%%)", (unsigned)((i * 137 + 200) % 360));
}

#define SVG_W 940
#define SVG_RING_CX 190
#define SVG_RING_CY 200
#define SVG_RING_R 140
#define SVG_RING_WIDTH 46
#define SVG_ROW_H 26
#define SVG_BAR_X 400
#define SVG_BAR_MAX 200

/* The ring (ketama modes: each server's arcs of the 2^32 hash space,
 * clockwise from the top) and a bar per server of its share of the sample
 * keys. */
static int write_svg(const char *path, const mcf_client *c, const fleet *f, const uint32_t *count,
                     uint32_t nkeys)
{
    FILE *out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "mcfast: ring: --svg %s: %s\n", path, strerror(errno));
        return XC_ERROR;
    }
    int mode = (int)mcf_get_option(c, MCF_OPT_DISTRIBUTION);
    size_t rows = f->n;
    int h = 70 + (int)rows * SVG_ROW_H;
    if (h < 2 * SVG_RING_CY)
        h = 2 * SVG_RING_CY;
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"13\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"20\" y=\"26\" font-size=\"16\">mcfast ring: distribution %s, "
            "%zu servers, %u sample keys</text>\n",
            SVG_W, h, SVG_W, h, mcf_dist_name(mode), f->n, nkeys);

    /* The continuum, arcs of one server merged. */
    mcf_spec *specs = calloc(f->n, sizeof *specs);
    mcf_dist d;
    memset(&d, 0, sizeof d);
    int have_ring = specs != NULL;
    for (size_t i = 0; have_ring && i < f->n; i++) {
        char err[256];
        have_ring = mcf_spec_parse(f->spec[i], strlen(f->spec[i]), &specs[i], err, sizeof err) == 0;
        specs[i].weight = f->weight[i];
    }
    if (have_ring)
        have_ring = mcf_dist_build(&d, mode, (int)mcf_get_option(c, MCF_OPT_HASH), specs, f->n,
                                   (unsigned)mcf_get_option(c, MCF_OPT_KETAMA_POINTS)) == 0 &&
                    d.npoints > 0;
    free(specs);
    if (have_ring) {
        fprintf(out, "<g fill=\"none\" stroke-width=\"%d\">\n", SVG_RING_WIDTH);
        /* Arc k runs from point k-1 to point k and belongs to point k's server. */
        size_t k = 0;
        while (k < d.npoints) {
            size_t end = k;
            while (end + 1 < d.npoints && d.points[end + 1].server == d.points[k].server)
                end++;
            double from = k ? d.points[k - 1].point : 0.0;
            double to = d.points[end].point;
            double a0 = from / RING_SPAN * 2 * M_PI;
            double a1 = to / RING_SPAN * 2 * M_PI;
            char colour[32];
            svg_colour(colour, sizeof colour, d.points[k].server);
            if (a1 > a0)
                fprintf(out, "<path stroke=\"%s\" d=\"M %.2f %.2f A %d %d 0 %d 1 %.2f %.2f\"/>\n",
                        colour, SVG_RING_CX + SVG_RING_R * sin(a0),
                        SVG_RING_CY - SVG_RING_R * cos(a0), SVG_RING_R, SVG_RING_R,
                        a1 - a0 > M_PI, SVG_RING_CX + SVG_RING_R * sin(a1),
                        SVG_RING_CY - SVG_RING_R * cos(a1));
            k = end + 1;
        }
        /* The wrap-around, from the last point to 2^32, is the first point's. */
        double a0 = d.points[d.npoints - 1].point / RING_SPAN * 2 * M_PI;
        char colour[32];
        svg_colour(colour, sizeof colour, d.points[0].server);
        fprintf(out, "<path stroke=\"%s\" d=\"M %.2f %.2f A %d %d 0 0 1 %.2f %.2f\"/>\n", colour,
                SVG_RING_CX + SVG_RING_R * sin(a0),
                SVG_RING_CY - SVG_RING_R * cos(a0), SVG_RING_R, SVG_RING_R,
                SVG_RING_CX + 0.0, SVG_RING_CY - SVG_RING_R + 0.0);
        fprintf(out, "</g>\n<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%zu points</text>\n",
                SVG_RING_CX, SVG_RING_CY + 5, d.npoints);
    } else {
        fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no continuum: "
                     "%s</text>\n",
                SVG_RING_CX, SVG_RING_CY,
                mode == MCF_DIST_PYMEMCACHE ? "rendezvous hashing" : "modula");
    }
    mcf_dist_free(&d);

    /* Bars: each server's share of the sample keys. */
    uint32_t max = 1;
    for (size_t i = 0; i < f->n; i++)
        if (count[i] > max)
            max = count[i];
    for (size_t i = 0; i < f->n; i++) {
        int y = 60 + (int)i * SVG_ROW_H;
        char colour[32];
        svg_colour(colour, sizeof colour, i);
        fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n",
                SVG_BAR_X, y, (double)SVG_BAR_MAX * count[i] / max, SVG_ROW_H - 8, colour);
        fprintf(out, "<text x=\"%d\" y=\"%d\">%.2f%% ", SVG_BAR_X + SVG_BAR_MAX + 8,
                y + SVG_ROW_H - 12, 100.0 * count[i] / nkeys);
        svg_text(out, f->spec[i]);
        fprintf(out, " (weight %u)</text>\n", f->weight[i]);
    }
    fprintf(out, "</svg>\n");
    if (fclose(out) != 0) {
        fprintf(stderr, "mcfast: ring: --svg %s: %s\n", path, strerror(errno));
        return XC_ERROR;
    }
    return XC_OK;
}

/* ------------------------------------------------------------------ */

struct ring_args {
    int json; /* --json: the tables as objects (json_table), then the moves */
    uint32_t nkeys;
    const char *svg;
    int nchanges;
    struct {
        int add; /* 1 add, 0 remove */
        const char *spec;
    } change[MAX_CHANGES];
};

static int ring_usage(const char *why)
{
    fprintf(stderr,
            "mcfast: ring: %s\nmcfast: usage: mcfast [OPTIONS] ring [--keys N] [--svg FILE] "
            "[--add SPEC]... [--remove SPEC]...\nTry 'mcfast --help'.\n",
            why);
    return XC_USAGE;
}

static int parse_ring_args(char **args, int nargs, struct ring_args *ra)
{
    memset(ra, 0, sizeof *ra);
    ra->nkeys = DEFAULT_SAMPLE_KEYS;
    for (int i = 0; i < nargs; i++) {
        const char *a = args[i];
        if (i + 1 >= nargs)
            return ring_usage(strncmp(a, "--", 2) ? "unexpected argument" : "option needs a value");
        const char *v = args[++i];
        if (!strcmp(a, "--keys")) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(v, &end, 10);
            if (errno || *end || !*v || n < 1 || n > MAX_SAMPLE_KEYS)
                return ring_usage("--keys: a number from 1 to 100000000");
            ra->nkeys = (uint32_t)n;
        } else if (!strcmp(a, "--svg")) {
            ra->svg = v;
        } else if (!strcmp(a, "--add") || !strcmp(a, "--remove")) {
            if (ra->nchanges == MAX_CHANGES)
                return ring_usage("too many --add/--remove");
            ra->change[ra->nchanges].add = a[2] == 'a';
            ra->change[ra->nchanges++].spec = v;
        } else {
            return ring_usage("unknown option");
        }
    }
    return 0;
}

/* Applies the changes to f: 0, or XC_USAGE after a message. */
static int apply_changes(const struct ring_args *ra, fleet *f)
{
    for (int k = 0; k < ra->nchanges; k++) {
        char text[MCF_SPEC_TEXT_MAX];
        unsigned w;
        if (parse_one(ra->change[k].spec, text, sizeof text, &w) != 0)
            return XC_USAGE;
        size_t at = f->n;
        for (size_t i = 0; i < f->n; i++)
            if (!strcmp(f->spec[i], text))
                at = i;
        if (ra->change[k].add) {
            if (at != f->n) {
                fprintf(stderr, "mcfast: ring: --add %s: already in the list\n", text);
                return XC_USAGE;
            }
            if (fleet_add(f, text, w) != 0)
                return XC_ERROR;
        } else {
            if (at == f->n) {
                fprintf(stderr, "mcfast: ring: --remove %s: not in the list\n", text);
                return XC_USAGE;
            }
            if (f->n == 1) {
                fprintf(stderr, "mcfast: ring: --remove %s: the list would be empty\n", text);
                return XC_USAGE;
            }
            memmove(&f->spec[at], &f->spec[at + 1], (f->n - at - 1) * sizeof f->spec[0]);
            memmove(&f->weight[at], &f->weight[at + 1], (f->n - at - 1) * sizeof f->weight[0]);
            f->n--;
        }
    }
    return 0;
}

/* The share of keys that must move when every server holds exactly its
 * weight's share (or an equal one, for modes that ignore weights):
 * 1 - sum over the servers in both lists of min(share before, share
 * after).  Consistent hashing moves about this much; modula about
 * N/(N+1) for one server added. */
static double least_moved(const fleet *a, const fleet *b, int weighted)
{
    double wa = 0, wb = 0, kept = 0;
    for (size_t i = 0; i < a->n; i++)
        wa += weighted ? a->weight[i] : 1;
    for (size_t j = 0; j < b->n; j++)
        wb += weighted ? b->weight[j] : 1;
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++)
            if (!strcmp(a->spec[i], b->spec[j])) {
                double sa = (weighted ? a->weight[i] : 1) / wa;
                double sb = (weighted ? b->weight[j] : 1) / wb;
                kept += sa < sb ? sa : sb;
            }
    return 1 - kept;
}

static int ring_report(mcf_client *c, const struct ring_args *ra, uint32_t *where,
                       uint32_t *where2)
{
    fleet before, after;
    int code = XC_ERROR;
    mcf_client *cb = NULL, *ca = NULL;
    uint32_t *count = NULL;
    double *ring = NULL;
    memset(&after, 0, sizeof after);
    if (fleet_of_client(c, &before) != 0 || !(cb = client_like(c, &before)))
        goto out;
    if (place(cb, ra->nkeys, where) != 0)
        goto out;
    size_t cap = before.n + (size_t)ra->nchanges;
    count = calloc(cap, sizeof *count);
    ring = calloc(cap, sizeof *ring);
    if (!count || !ring)
        goto out;
    for (uint32_t i = 0; i < ra->nkeys; i++)
        count[where[i]]++;
    int mode = (int)mcf_get_option(c, MCF_OPT_DISTRIBUTION);
    int hash = (int)mcf_get_option(c, MCF_OPT_HASH);
    char title[160];
    snprintf(title, sizeof title, "distribution %s%s%s, %zu servers, %u sample keys",
             mcf_dist_name(mode), hash ? ", hash " : "", hash ? mcf_hash_name(hash) : "",
             before.n, ra->nkeys);
    int has_ring = ring_shares(c, &before, ring) == 0;
    if (ra->json) {
        struct jobj j;
        cli_jbegin(&j);
        cli_jstr(&j, "distribution", mcf_dist_name(mode));
        if (hash)
            cli_jstr(&j, "hash", mcf_hash_name(hash));
        cli_ju64(&j, "servers", before.n);
        cli_ju64(&j, "sample_keys", ra->nkeys);
        cli_jend(&j);
        json_table("before", &before, count, ra->nkeys, has_ring ? ring : NULL);
    } else {
        print_table(title, &before, count, ra->nkeys, has_ring ? ring : NULL);
    }
    if (ra->svg && (code = write_svg(ra->svg, c, &before, count, ra->nkeys)) != XC_OK)
        goto out;
    code = XC_ERROR;
    if (ra->nchanges) {
        if (fleet_of_client(c, &after) != 0)
            goto out;
        if ((code = apply_changes(ra, &after)) != 0)
            goto out;
        code = XC_ERROR;
        if (!(ca = client_like(c, &after)) || place(ca, ra->nkeys, where2) != 0)
            goto out;
        memset(count, 0, cap * sizeof *count);
        uint32_t moved = 0;
        for (uint32_t i = 0; i < ra->nkeys; i++) {
            count[where2[i]]++;
            moved += strcmp(before.spec[where[i]], after.spec[where2[i]]) != 0;
        }
        has_ring = ring_shares(c, &after, ring) == 0;
        double ideal = least_moved(&before, &after, honours_weights(c));
        if (ra->json) {
            struct jobj j;
            json_table("after", &after, count, ra->nkeys, has_ring ? ring : NULL);
            cli_jbegin(&j);
            cli_ju64(&j, "moved", moved);
            cli_ju64(&j, "sample_keys", ra->nkeys);
            cli_jdouble(&j, "moved_share", 100.0 * moved / ra->nkeys);
            cli_jdouble(&j, "ideal_share", 100.0 * ideal);
            cli_jend(&j);
            code = XC_OK;
            goto out;
        }
        printf("\nafter");
        for (int k = 0; k < ra->nchanges; k++)
            printf(" %s %s", ra->change[k].add ? "--add" : "--remove", ra->change[k].spec);
        printf(":\n");
        print_table("", &after, count, ra->nkeys, has_ring ? ring : NULL);
        printf("\nmoved: %u of %u keys (%.2f%%); ideal: %.2f%%", moved, ra->nkeys,
               100.0 * moved / ra->nkeys, 100.0 * ideal);
        if (ra->nchanges == 1 && ra->change[0].add && after.weight[after.n - 1] == 1)
            printf(" (1/(N+1) = 1/%zu)", after.n);
        printf("\n");
    }
    code = XC_OK;
out:
    if (code == XC_ERROR && !cb)
        fprintf(stderr, "mcfast: ring: out of memory or bad server list\n");
    mcf_free(cb);
    mcf_free(ca);
    fleet_free(&before);
    fleet_free(&after);
    free(count);
    free(ring);
    return code;
}

int placement_ring(mcf_client *c, char **args, int nargs, int json)
{
    struct ring_args ra;
    int code = parse_ring_args(args, nargs, &ra);
    if (code)
        return code;
    ra.json = json;
    uint32_t *where = malloc((size_t)ra.nkeys * sizeof *where);
    uint32_t *where2 = malloc((size_t)ra.nkeys * sizeof *where2);
    if (!where || !where2) {
        fprintf(stderr, "mcfast: ring: out of memory\n");
        code = XC_ERROR;
    } else {
        code = ring_report(c, &ra, where, where2);
    }
    free(where);
    free(where2);
    return code;
}
