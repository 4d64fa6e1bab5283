/* test_bench_stats.c - the pieces `mcfast bench` measures with
 * (tools/bench_hist.c, tools/bench_keys.c): histogram buckets tile the
 * whole 64-bit range with bounded width, quantiles land in the right
 * bucket, histograms add and subtract; Zipf samples follow k^-s / H(n, s)
 * for exponents below, at and above 1, uniform samples cover the space.
 * The generator is seeded, so every run draws the same numbers. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/bench_hist.h"
#include "../tools/bench_keys.h"
#include "harness.h"

#define SEED 12345
#define ZIPF_N 1000
#define ZIPF_SAMPLES 1000000
/* A share p over m samples has a standard deviation of sqrt(p(1-p)/m):
 * 5 of them is a bound a correct sampler never crosses with this seed and
 * a wrong exponent or an off-by-one rank does at once. */
#define SIGMAS 5.0

TEST(hist_buckets_tile_the_range)
{
    uint64_t prev_hi = 0;
    for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
        uint64_t lo, hi;
        bench_hist_range(i, &lo, &hi);
        CHECKF(lo == prev_hi, "bucket %u starts at %llu, the last ended at %llu", i,
               (unsigned long long)lo, (unsigned long long)prev_hi);
        CHECKF(hi > lo, "bucket %u is empty", i);
        /* At most 1/SUB of its lower bound wide (the linear ones: 1). */
        CHECKF(i < BENCH_HIST_SUB || hi - lo <= lo / BENCH_HIST_SUB || hi == UINT64_MAX,
               "bucket %u is %llu wide at %llu", i, (unsigned long long)(hi - lo),
               (unsigned long long)lo);
        CHECKF(bench_hist_index(lo) == i, "index(%llu) = %u, want %u", (unsigned long long)lo,
               bench_hist_index(lo), i);
        CHECKF(bench_hist_index(hi - 1) == i, "index(%llu) = %u, want %u",
               (unsigned long long)(hi - 1), bench_hist_index(hi - 1), i);
        prev_hi = hi;
    }
    CHECK(prev_hi == UINT64_MAX);
    CHECK(bench_hist_index(UINT64_MAX) == BENCH_HIST_BUCKETS - 1);
}

TEST(hist_quantiles)
{
    static bench_hist h;
    memset(&h, 0, sizeof h);
    CHECK(bench_hist_quantile(&h, 0.5) == 0);
    /* 1 us .. 1000 us, one each. */
    for (uint64_t v = 1; v <= 1000; v++)
        bench_hist_record(&h, v * 1000);
    CHECK(h.total == 1000);
    CHECK(h.max_ns == 1000000);
    CHECK(h.sum_ns == 500500ull * 1000);
    struct {
        double q;
        uint64_t exact;
    } qs[] = {{0.5, 500000}, {0.9, 900000}, {0.99, 990000}, {0.999, 999000}, {1.0, 1000000}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        uint64_t got = bench_hist_quantile(&h, qs[i].q);
        /* The bucket's upper end: not below the value, at most one bucket
         * width (1/8) above it, never above the maximum. */
        CHECKF(got >= qs[i].exact && got <= qs[i].exact + qs[i].exact / BENCH_HIST_SUB &&
                   got <= h.max_ns,
               "q%.3f = %llu, exact %llu", qs[i].q, (unsigned long long)got,
               (unsigned long long)qs[i].exact);
    }
    /* q 0 is the smallest value's bucket. */
    uint64_t least = bench_hist_quantile(&h, 0.0);
    CHECKF(least >= 1000 && least <= 1000 + 1000 / BENCH_HIST_SUB, "q0 = %llu",
           (unsigned long long)least);
}

TEST(hist_add_and_sub)
{
    static bench_hist a, b, sum, back;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    for (uint64_t v = 1; v < 100000; v += 7)
        bench_hist_record(&a, v);
    for (uint64_t v = 50; v < 5000000; v += 1001)
        bench_hist_record(&b, v);
    bench_hist_add(&sum, &a, &b);
    CHECK(sum.total == a.total + b.total);
    CHECK(sum.max_ns == b.max_ns);
    bench_hist_sub(&back, &sum, &b);
    CHECK(memcmp(back.count, a.count, sizeof a.count) == 0);
    CHECK(back.total == a.total && back.sum_ns == a.sum_ns);
}

static void check_zipf(double s)
{
    static uint64_t count[ZIPF_N];
    bench_zipf z;
    bench_rng r;
    memset(count, 0, sizeof count);
    CHECK(bench_zipf_init(&z, ZIPF_N, s) == 0);
    bench_rng_seed(&r, SEED);
    for (int i = 0; i < ZIPF_SAMPLES; i++) {
        uint64_t k = bench_zipf_next(&z, &r);
        if (k >= ZIPF_N) {
            CHECKF(0, "s=%g: sample %llu out of [0, %d)", s, (unsigned long long)k, ZIPF_N);
            return;
        }
        count[k]++;
    }
    double norm = 0;
    for (int k = 1; k <= ZIPF_N; k++)
        norm += pow(k, -s);
    const int ranks[] = {1, 2, 3, 10, 100, ZIPF_N};
    for (size_t i = 0; i < sizeof ranks / sizeof ranks[0]; i++) {
        double p = pow(ranks[i], -s) / norm;
        double got = (double)count[ranks[i] - 1] / ZIPF_SAMPLES;
        double sd = sqrt(p * (1 - p) / ZIPF_SAMPLES);
        CHECKF(fabs(got - p) <= SIGMAS * sd, "s=%g rank %d: share %.6f, want %.6f +- %.6f", s,
               ranks[i], got, p, SIGMAS * sd);
    }
}

TEST(zipf_below_one)
{
    check_zipf(0.5);
}

TEST(zipf_default_exponent)
{
    check_zipf(0.99);
}

TEST(zipf_exactly_one)
{
    check_zipf(1.0);
}

TEST(zipf_above_one)
{
    check_zipf(1.5);
}

TEST(zipf_edges)
{
    bench_zipf z;
    bench_rng r;
    bench_rng_seed(&r, SEED);
    CHECK(bench_zipf_init(&z, 1, 0.99) == 0);
    for (int i = 0; i < 1000; i++)
        CHECK(bench_zipf_next(&z, &r) == 0);
    /* A key space far beyond any table: no set-up cost, samples in range. */
    CHECK(bench_zipf_init(&z, UINT64_C(1) << 40, 0.99) == 0);
    for (int i = 0; i < 100000; i++)
        CHECK(bench_zipf_next(&z, &r) < (UINT64_C(1) << 40));
    CHECK(bench_zipf_init(&z, 0, 0.99) == -1);
    CHECK(bench_zipf_init(&z, 10, 0.0) == -1);
    CHECK(bench_zipf_init(&z, 10, -1.0) == -1);
    CHECK(bench_zipf_init(&z, 10, NAN) == -1);
    CHECK(bench_zipf_init(&z, 10, INFINITY) == -1);
}

TEST(uniform_covers_the_space)
{
    enum { N = 10, DRAWS = 100000 };
    uint64_t count[N] = {0};
    bench_rng r;
    bench_rng_seed(&r, SEED);
    for (int i = 0; i < DRAWS; i++) {
        uint64_t k = bench_uniform_next(&r, N);
        CHECK(k < N);
        if (k < N)
            count[k]++;
    }
    double p = 1.0 / N, sd = sqrt(p * (1 - p) / DRAWS);
    for (int k = 0; k < N; k++)
        CHECKF(fabs((double)count[k] / DRAWS - p) <= SIGMAS * sd, "index %d: %llu of %d", k,
               (unsigned long long)count[k], DRAWS);
}

TEST(rng_seeded_and_unit_range)
{
    bench_rng a, b;
    bench_rng_seed(&a, SEED);
    bench_rng_seed(&b, SEED);
    int same = 1;
    for (int i = 0; i < 1000; i++)
        same &= bench_rng_next(&a) == bench_rng_next(&b);
    CHECK(same);
    bench_rng_seed(&b, SEED + 1);
    CHECK(bench_rng_next(&a) != bench_rng_next(&b));
    for (int i = 0; i < 100000; i++) {
        double u = bench_rng_unit(&a);
        if (!(u >= 0.0 && u < 1.0)) {
            CHECKF(0, "unit draw %g outside [0, 1)", u);
            break;
        }
    }
}

int main(int argc, char **argv)
{
    return t_main(argc, argv);
}
