/* tool_getset.c - one get or set through libmcfast, for test scripts.
 *
 *   tool_getset serve
 *       starts one memcached on 127.0.0.1 (tests/mcserver.h), prints its
 *       address ("127.0.0.1:PORT") then READY, and stops it when stdin
 *       closes (or prints NO-MEMCACHED / FAILED).
 *   tool_getset [-c THRESHOLD] [-f FLAGS] SERVERS set KEY < value
 *   tool_getset [-c THRESHOLD] SERVERS get KEY > value
 *       -c: MCF_OPT_COMPRESS_THRESHOLD (default -1: off).  get writes the
 *       value to stdout and "flags=N" to stderr.
 *
 * Exit: 0 stored / hit, 1 miss or not stored, 2 error (message on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcfast.h"
#include "mcserver.h"

static int serve(void)
{
    if (!mcserver_binary()) {
        printf("NO-MEMCACHED\n");
        return 0;
    }
    mcserver s;
    if (mcserver_start_tcp(&s, "127.0.0.1", NULL) < 0) {
        printf("FAILED\n");
        return 1;
    }
    printf("%s\nREADY\n", s.spec);
    fflush(stdout);
    char buf[256];
    while (fread(buf, 1, sizeof buf, stdin) > 0)
        ;
    mcserver_stop(&s);
    return 0;
}

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *p = malloc(cap);
    size_t r;
    while (p && (r = fread(p + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            char *q = realloc(p, cap *= 2);
            if (!q) {
                free(p);
                return NULL;
            }
            p = q;
        }
    }
    *len = n;
    return p;
}

static void usage(void)
{
    fprintf(stderr, "usage: tool_getset serve\n"
                    "       tool_getset [-c THRESHOLD] [-f FLAGS] SERVERS set|get KEY\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long long threshold = -1;
    unsigned long flags = 0;
    int opt;
    if (argc == 2 && strcmp(argv[1], "serve") == 0)
        return serve();
    while ((opt = getopt(argc, argv, "c:f:")) != -1) {
        if (opt == 'c')
            threshold = atoll(optarg);
        else if (opt == 'f')
            flags = strtoul(optarg, NULL, 0);
        else
            usage();
    }
    if (argc - optind != 3)
        usage();
    const char *servers = argv[optind], *cmd = argv[optind + 1], *key = argv[optind + 2];

    mcf_client *c = mcf_new();
    if (!c) {
        fprintf(stderr, "out of memory\n");
        return 2;
    }
    int rc = mcf_set_servers(c, servers);
    if (rc == MCF_OK)
        rc = mcf_set_option(c, MCF_OPT_COMPRESS_THRESHOLD, threshold);
    if (rc != MCF_OK) {
        fprintf(stderr, "%s: %s\n", mcf_strerror(rc), mcf_last_error(c));
        mcf_free(c);
        return 2;
    }
    int status;
    if (strcmp(cmd, "set") == 0) {
        size_t len;
        char *val = read_all(stdin, &len);
        if (!val) {
            fprintf(stderr, "out of memory\n");
            mcf_free(c);
            return 2;
        }
        rc = mcf_set(c, key, strlen(key), val, len, (uint32_t)flags, 0);
        free(val);
        status = rc == MCF_OK ? 0 : mcf_is_error(rc) ? 2 : 1;
    } else if (strcmp(cmd, "get") == 0) {
        mcf_value v;
        rc = mcf_get(c, key, strlen(key), &v);
        if (rc == MCF_OK) {
            fwrite(v.data, 1, v.len, stdout);
            fflush(stdout);
            fprintf(stderr, "flags=%u\n", (unsigned)v.flags);
        }
        status = rc == MCF_OK ? 0 : mcf_is_error(rc) ? 2 : 1;
    } else {
        mcf_free(c);
        usage();
        return 2;
    }
    if (status == 2)
        fprintf(stderr, "%s: %s\n", mcf_strerror(rc), mcf_last_error(c));
    mcf_free(c);
    return status;
}
