/* spec.h - server specifications: parsing only (pure, no sockets, no DNS). */
#ifndef MCF_SPEC_H
#define MCF_SPEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#define MCF_DEFAULT_PORT 11211
/* The largest weight, in a spec or mcf_add_server_weight: larger ones only
 * blow up the distribution tables (modula expands the server list by
 * weight); no real fleet needs more. */
#define MCF_SPEC_WEIGHT_MAX 1000000u
#define MCF_HOST_MAX 256 /* a DNS name is at most 253 bytes; + zone */
/* Room for the longest spec: a 253-byte host name + ":65535" (a unix path is shorter). */
#define MCF_SPEC_TEXT_MAX ((size_t)MCF_HOST_MAX + 16)

typedef struct mcf_spec {
    char text[MCF_SPEC_TEXT_MAX]; /* the spec as written, weight removed: for messages */
    int is_unix;
    char host[MCF_HOST_MAX]; /* TCP: name or literal, brackets removed, zone kept ("fe80::1%eth0") */
    uint16_t port;           /* TCP: port, MCF_DEFAULT_PORT if none written */
    int port_written;        /* TCP: the spec carried an explicit port */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix: NUL-terminated */
    unsigned weight;         /* >= 1; 1 if none written */
    int weight_written;      /* the spec carried a ":weight" field */
    double frac_weight;      /* > 0: a fractional weight (mcf_add_server_weight) used
                              * instead of weight by the Cache::Memcached::Fast modes;
                              * weight then holds it rounded, for display */
    int tls;                 /* written "tls:...": reached over TLS */
} mcf_spec;

/* Parses one spec of `len` bytes.  Returns 0 or MCF_ERR_BAD_SPEC with a
 * message in err ("bad server spec '[::1': missing ']'"). */
int mcf_spec_parse(const char *s, size_t len, mcf_spec *out, char *err, size_t errlen);

/* Parses a list separated by commas and/or whitespace into a new array
 * (free() it).  An empty list is an error.  Returns 0, MCF_ERR_BAD_SPEC or
 * MCF_ERR_NOMEM. */
int mcf_spec_parse_list(const char *list, mcf_spec **out, size_t *n, char *err,
                        size_t errlen);

#endif
