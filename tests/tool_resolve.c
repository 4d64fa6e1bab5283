/* tool_resolve - resolves specs with one mcf_resolver, for
 * tests/t_resolve_netns.sh, which runs it inside network namespaces.
 *
 *   tool_resolve [--timeout MS] [--wait-for FILE] SPEC...
 *
 * For each SPEC in turn: mcf_lookup_start, then mcf_lookup_wait for at most
 * MS (default 500).  Prints one line per spec
 *
 *   SPEC code=N at_once=0|1 ms=X.X addrs=A,B source=S
 *   SPEC code=N at_once=0|1 ms=X.X err=MESSAGE
 *
 * (at_once: done when mcf_lookup_start returned; ms: start to done).  With
 * --wait-for, before every spec but the first it prints "WAITING" and
 * waits until FILE exists (so a script can change the namespace's files
 * between lookups on the same resolver).  Exits 0 when every spec
 * resolved, 2 otherwise, 64 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "mcfast.h"
#include "resolve.h"
#include "spec.h"

#define DEFAULT_TIMEOUT_MS 500
#define WAIT_FOR_MAX_MS 20000
#define WAIT_STEP_MS 20

static int usage(void)
{
    fprintf(stderr, "usage: tool_resolve [--timeout MS] [--wait-for FILE] SPEC...\n");
    return 64;
}

static int wait_for(const char *path)
{
    int waited;
    struct timespec step = {0, WAIT_STEP_MS * 1000000L};

    printf("WAITING\n");
    fflush(stdout);
    for (waited = 0; waited < WAIT_FOR_MAX_MS; waited += WAIT_STEP_MS) {
        if (access(path, F_OK) == 0)
            return 0;
        nanosleep(&step, NULL);
    }
    return -1;
}

static void print_result(const char *text, const mcf_lookup *q, int at_once, double ms)
{
    size_t i;

    printf("%s code=%d at_once=%d ms=%.1f", text, q->rc, at_once, ms);
    if (q->rc != MCF_OK) {
        printf(" err=%s\n", q->err);
        return;
    }
    printf(" addrs=");
    for (i = 0; i < q->list.n; i++) {
        char buf[MCF_ADDRSTR_MAX];
        mcf_addr_format(&q->list.addr[i], buf, sizeof buf);
        printf("%s%s", i ? "," : "", buf);
    }
    printf(" source=%s\n", q->list.source ? q->list.source : "?");
}

int main(int argc, char **argv)
{
    int timeout_ms = DEFAULT_TIMEOUT_MS, i = 1, failed = 0, first = 1;
    const char *wait_file = NULL;
    mcf_resolver *r;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--timeout") == 0)
            timeout_ms = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--wait-for") == 0)
            wait_file = argv[i + 1];
        else
            return usage();
    }
    if (i >= argc || timeout_ms < 0)
        return usage();
    r = mcf_resolver_new();
    if (!r) {
        fprintf(stderr, "out of memory\n");
        return 2;
    }
    for (; i < argc; i++, first = 0) {
        mcf_spec spec;
        mcf_lookup q;
        char err[256];
        int64_t t0;
        int at_once;

        if (mcf_spec_parse(argv[i], strlen(argv[i]), &spec, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            mcf_resolver_free(r);
            return 64;
        }
        if (wait_file && !first && wait_for(wait_file) != 0) {
            fprintf(stderr, "%s never appeared\n", wait_file);
            mcf_resolver_free(r);
            return 2;
        }
        t0 = mcf_now_us();
        mcf_lookup_start(r, &spec, &q);
        at_once = q.done;
        mcf_lookup_wait(r, &q, timeout_ms);
        print_result(argv[i], &q, at_once, (double)(mcf_now_us() - t0) / 1000.0);
        fflush(stdout);
        failed |= q.rc != MCF_OK;
    }
    mcf_resolver_free(r);
    return failed ? 2 : 0;
}
