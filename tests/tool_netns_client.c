/* tool_netns_client - one round trip through the public API, for
 * tests/t_netns.sh, which runs it inside network namespaces.
 *
 *   tool_netns_client [--connect-timeout MS] [--attempt-delay MS] SPEC
 *
 * Connects to SPEC (one server), stores a random key/value with mcf_set,
 * reads it back with mcf_get and compares.  On success prints one line
 *
 *   OK spec=SPEC address=ADDR family=IPv4|IPv6|unix connect_ms=X.XXX
 *
 * and exits 0.  On any failure prints "FAILED: ..." with mcf_last_error()
 * on stderr and exits 2 (1 for a miss or a wrong value, 64 for bad usage).
 * Only the public header is used: this is what an application sees. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mcfast.h"

static int usage(void)
{
    fprintf(stderr, "usage: tool_netns_client [--connect-timeout MS] [--attempt-delay MS] SPEC\n");
    return 64;
}

static const char *family_name(int family)
{
    switch (family) {
    case AF_INET: return "IPv4";
    case AF_INET6: return "IPv6";
    case AF_UNIX: return "unix";
    default: return "none";
    }
}

static int parse_ms(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

/* Reports a library failure: what failed, the code's name and the
 * client's message (which names the server, the address and the cause),
 * then frees the client. */
static int failed(mcf_client *c, const char *what, int rc)
{
    fprintf(stderr, "FAILED: %s: %s (rc %d): %s\n", what, mcf_strerror(rc), rc,
            c ? mcf_last_error(c) : "");
    mcf_free(c);
    return mcf_is_error(rc) ? 2 : 1;
}

int main(int argc, char **argv)
{
    int64_t connect_timeout = -1, attempt_delay = -1;
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--connect-timeout") == 0 && i + 1 < argc) {
            if (parse_ms(argv[++i], &connect_timeout) != 0)
                return usage();
        } else if (strcmp(argv[i], "--attempt-delay") == 0 && i + 1 < argc) {
            if (parse_ms(argv[++i], &attempt_delay) != 0)
                return usage();
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return usage();
        } else if (spec == NULL) {
            spec = argv[i];
        } else {
            return usage();
        }
    }
    if (spec == NULL)
        return usage();

    mcf_client *c = mcf_new();
    if (c == NULL) {
        fprintf(stderr, "FAILED: mcf_new: out of memory\n");
        return 2;
    }
    int rc;
    if (connect_timeout >= 0 &&
        (rc = mcf_set_option(c, MCF_OPT_CONNECT_TIMEOUT_MS, connect_timeout)) != MCF_OK)
        return failed(c, "mcf_set_option(CONNECT_TIMEOUT_MS)", rc);
    if (attempt_delay >= 0 &&
        (rc = mcf_set_option(c, MCF_OPT_ATTEMPT_DELAY_MS, attempt_delay)) != MCF_OK)
        return failed(c, "mcf_set_option(ATTEMPT_DELAY_MS)", rc);
    if ((rc = mcf_set_servers(c, spec)) != MCF_OK)
        return failed(c, "mcf_set_servers", rc);

    /* A key and value no earlier run can have left behind. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    srand((unsigned)(ts.tv_nsec ^ (long)getpid()));
    char key[64], val[64];
    snprintf(key, sizeof key, "netns-%ld-%ld-%d", (long)getpid(), (long)ts.tv_nsec, rand());
    snprintf(val, sizeof val, "value-%d-%d", rand(), rand());

    /* The first command connects: that is the path under test. */
    if ((rc = mcf_set(c, key, strlen(key), val, strlen(val), 0, 60)) != MCF_OK)
        return failed(c, "mcf_set", rc);
    mcf_value v;
    if ((rc = mcf_get(c, key, strlen(key), &v)) != MCF_OK)
        return failed(c, "mcf_get", rc);
    if (v.len != strlen(val) || memcmp(v.data, val, v.len) != 0) {
        fprintf(stderr, "FAILED: mcf_get returned '%.*s', stored '%s'\n", (int)v.len, v.data,
                val);
        mcf_free(c);
        return 1;
    }

    mcf_server_info info;
    if ((rc = mcf_server_info_get(c, 0, &info)) != MCF_OK)
        return failed(c, "mcf_server_info_get", rc);
    printf("OK spec=%s address=%s family=%s connect_ms=%.3f\n", info.spec, info.address,
           family_name(info.family), info.connect_ms);
    mcf_free(c);
    return 0;
}
