/* test_health.c - src/health.c, the server health state machine, on a
 * made-up clock: the failure limit, the waits (first, doubling with jitter,
 * capped), a probe's success and failure, the flap hold-down, and
 * Cache::Memcached::Fast's counting. */
#include <stdio.h>

#include "harness.h"
#include "health.h"

#define MS 1000LL
#define S 1000000LL

static const mcf_health_policy heal = {
    .failure_limit = 3, .retry_us = 1 * S, .retry_max_us = 30 * S, .flap_us = 60 * S};

/* Fails h n times at now. */
static mcf_health_event fail_n(mcf_health *h, const mcf_health_policy *p, int n, int64_t now)
{
    mcf_health_event e = MCF_HEALTH_NONE;
    for (int i = 0; i < n; i++)
        e = mcf_health_failed(h, p, now);
    return e;
}

/* The wait is within +-25% of base, and never over the maximum. */
static void check_wait(const mcf_health *h, int64_t base, const char *what)
{
    CHECKF(h->wait_us >= base - base / 4 && h->wait_us <= base + base / 4 &&
               h->wait_us <= heal.retry_max_us,
           "%s: wait %lld us, base %lld us", what, (long long)h->wait_us, (long long)base);
}

TEST(health_up_until_the_limit)
{
    mcf_health h;
    mcf_health_init(&h, 1);
    CHECK(fail_n(&h, &heal, 2, 0) == MCF_HEALTH_NONE);
    CHECK(mcf_health_check(&h, &heal, 0) == MCF_HEALTH_USE);
    CHECK(mcf_health_failed(&h, &heal, 0) == MCF_HEALTH_WENT_DOWN);
    CHECK(h.state == MCF_HEALTH_DOWN);
    CHECK(h.downs == 1);
    check_wait(&h, 1 * S, "first wait");
    CHECK(mcf_health_check(&h, &heal, h.retry_at_us - 1) == MCF_HEALTH_SKIP);
    CHECK(mcf_health_check(&h, &heal, h.retry_at_us) == MCF_HEALTH_PROBE);
}

/* Failures in a row: an answer between them starts the count again. */
TEST(health_answer_resets_the_count)
{
    mcf_health h;
    mcf_health_init(&h, 2);
    for (int round = 0; round < 10; round++) {
        CHECK(fail_n(&h, &heal, 2, round * S) == MCF_HEALTH_NONE);
        CHECK(mcf_health_answered(&h, round * S) == MCF_HEALTH_NONE);
    }
    CHECK(h.state == MCF_HEALTH_UP);
    CHECK(h.failures == 0);
}

TEST(health_limit_zero_never_down)
{
    mcf_health_policy never = heal;
    never.failure_limit = 0;
    mcf_health h;
    mcf_health_init(&h, 3);
    CHECK(fail_n(&h, &never, 1000, 0) == MCF_HEALTH_NONE);
    CHECK(mcf_health_check(&h, &never, 0) == MCF_HEALTH_USE);
}

/* Probes that keep failing: 1, 2, 4, 8, 16, then 30 s for good. */
TEST(health_waits_double_to_the_maximum)
{
    mcf_health h;
    mcf_health_init(&h, 4);
    int64_t now = 0;
    fail_n(&h, &heal, 3, now);
    int64_t base = 1 * S;
    for (int probe = 0; probe < 12; probe++) {
        char what[32];
        snprintf(what, sizeof what, "after %d probes", probe);
        check_wait(&h, base, what);
        now = h.retry_at_us;
        CHECK(mcf_health_check(&h, &heal, now) == MCF_HEALTH_PROBE);
        mcf_health_probing(&h);
        CHECK(mcf_health_check(&h, &heal, now) == MCF_HEALTH_SKIP);
        CHECK(mcf_health_failed(&h, &heal, now) == MCF_HEALTH_NONE); /* down already */
        CHECK(h.state == MCF_HEALTH_DOWN);
        base = base * 2 > heal.retry_max_us ? heal.retry_max_us : base * 2;
    }
    CHECK(h.wait_us <= 30 * S && h.wait_us >= 30 * S - 30 * S / 4);
    CHECK(h.downs == 1);
}

/* The jitter spreads clients: 64 servers down at the same moment do not
 * all retry at the same moment, and each stays in its bounds. */
TEST(health_jitter_spreads)
{
    int64_t lo = INT64_MAX, hi = 0;
    for (uint64_t seed = 0; seed < 64; seed++) {
        mcf_health h;
        mcf_health_init(&h, seed);
        fail_n(&h, &heal, 3, 0);
        check_wait(&h, 1 * S, "jitter");
        lo = h.wait_us < lo ? h.wait_us : lo;
        hi = h.wait_us > hi ? h.wait_us : hi;
    }
    CHECKF(hi - lo > 250 * MS, "64 first waits span only %lld us", (long long)(hi - lo));
}

TEST(health_probe_answered_brings_it_back)
{
    mcf_health h;
    mcf_health_init(&h, 5);
    fail_n(&h, &heal, 3, 0);
    mcf_health_probing(&h);
    CHECK(mcf_health_answered(&h, 2 * S) == MCF_HEALTH_CAME_UP);
    CHECK(h.state == MCF_HEALTH_UP);
    CHECK(mcf_health_check(&h, &heal, 2 * S) == MCF_HEALTH_USE);
}

/* Down again soon after coming back: the wait goes on growing; after a
 * stable spell longer than flap_us: the first wait again. */
TEST(health_flap_holds_down_longer)
{
    mcf_health h;
    mcf_health_init(&h, 6);
    int64_t now = 0;
    int64_t base = 1 * S;
    for (int flap = 0; flap < 4; flap++) {
        fail_n(&h, &heal, 3, now);
        char what[32];
        snprintf(what, sizeof what, "flap %d", flap);
        check_wait(&h, base, what);
        now = h.retry_at_us;
        mcf_health_probing(&h);
        mcf_health_answered(&h, now);
        now += 5 * S; /* up for 5 s: less than flap_us */
        base *= 2;
    }
    CHECK(h.downs == 4);
    now += heal.flap_us; /* stable for longer than flap_us */
    fail_n(&h, &heal, 3, now);
    check_wait(&h, 1 * S, "after a stable spell");
}

/* Cache::Memcached::Fast: max_failures within failure_timeout mark it down
 * for failure_timeout, then the next call uses it (no probe). */
TEST(health_cmf_counting)
{
    const mcf_health_policy cmf = {.failure_limit = 2, .cmf_window_us = 10 * S};
    mcf_health h;
    mcf_health_init(&h, 7);
    CHECK(mcf_health_failed(&h, &cmf, 0) == MCF_HEALTH_NONE);
    /* Outside the window: counting starts over. */
    CHECK(mcf_health_failed(&h, &cmf, 11 * S) == MCF_HEALTH_NONE);
    CHECK(mcf_health_failed(&h, &cmf, 12 * S) == MCF_HEALTH_WENT_DOWN);
    CHECK(h.retry_at_us == 22 * S);
    CHECK(mcf_health_check(&h, &cmf, 21 * S) == MCF_HEALTH_SKIP);
    CHECK(mcf_health_check(&h, &cmf, 22 * S) == MCF_HEALTH_USE);
    CHECK(h.state == MCF_HEALTH_UP);
}

TEST(health_base_wait_no_overflow)
{
    CHECK(mcf_health_base_wait(&heal, 0) == 1 * S);
    CHECK(mcf_health_base_wait(&heal, 3) == 8 * S);
    CHECK(mcf_health_base_wait(&heal, 1000) == 30 * S);
}

int main(int argc, char **argv)
{
    return t_main(argc, argv);
}
