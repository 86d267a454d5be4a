/* random_mixed - single-thread random malloc/free over a slot array.
 *
 * mode=mixed (random_mixed): each cycle picks a random slot; an occupied
 *   slot is freed, an empty one gets a new block of min..max bytes.  The
 *   live set random-walks around ws/2 blocks and the free lists are hit at
 *   every depth; the occupied/empty branch is unpredictable, as in a real
 *   program.  1 op per cycle.
 * mode=replace (random_replace, fixed_N): the slots start full; each cycle
 *   frees a random slot and allocates a new block into it.  2 ops per cycle.
 *   With min=max this is the fixed-size benchmark.
 * Every new block gets one word written into it.
 */
#include "bench.h"

static const char usage[] =
    "usage: random_mixed [mode=mixed|replace] [iters=N] [ws=N] [min=B] [max=B] [seed=N] [name=S]\n"
    "  Single-thread random malloc/free over ws slots, sizes uniform in min..max.\n"
    "  mode=mixed: a random slot is freed if occupied, else filled (1 op per cycle).\n"
    "  mode=replace: a random slot is freed and refilled (2 ops per cycle).\n"
    "  defaults: mode=mixed iters=10M ws=256 min=16 max=1040 seed=1\n"
    "  prints: RESULT name=... ops=... secs=... ops_per_sec=... peak_rss_kb=...\n";

int main(int argc, char **argv)
{
    bench_init(argc, argv, usage);
    const char *mode = bench_arg_str("mode", "mixed");
    uint64_t iters = bench_arg_u64("iters", 10000000);
    uint64_t ws = bench_arg_u64("ws", 256);
    uint64_t min = bench_arg_u64("min", 16);
    uint64_t max = bench_arg_u64("max", 1040);
    uint64_t seed = bench_arg_u64("seed", 1);
    int replace;
    if (!strcmp(mode, "mixed"))
        replace = 0;
    else if (!strcmp(mode, "replace"))
        replace = 1;
    else
        bench_usage_error("mode must be mixed or replace, not '%s'", mode);
    const char *name = bench_arg_str("name", replace ? "random_replace" : "random_mixed");
    bench_args_done();
    bench_check_range("size", min, max);
    if (ws == 0 || ws > (1u << 26))
        bench_usage_error("ws must be 1..%u", 1u << 26);
    if (min == 0)
        bench_usage_error("min must be >= 1");
    if (max < 8)
        bench_usage_error("max must be >= 8 (a word is written into each block)");
    if (min < 8)
        min = 8;

    void **slot = bench_meta(ws * sizeof(void *));
    uint64_t s = rng_seed(seed, 0);
    uint64_t ops = 0;

    if (replace) {
        for (uint64_t i = 0; i < ws; i++) {
            size_t sz = rng_range(&s, min, max);
            slot[i] = bench_xmalloc_check(malloc(sz), sz);
            bench_touch(slot[i], i);
        }
    }

    struct bench_clock t0 = bench_clock_now();
    if (replace) {
        for (uint64_t i = 0; i < iters; i++) {
            uint64_t idx = rng_range(&s, 0, ws - 1);
            size_t sz = rng_range(&s, min, max);
            free(slot[idx]);
            void *p = malloc(sz);
            if (__builtin_expect(!p, 0))
                bench_die("malloc(%zu) failed", sz);
            bench_touch(p, i);
            slot[idx] = p;
        }
        ops = 2 * iters;
    } else {
        for (uint64_t i = 0; i < iters; i++) {
            uint64_t idx = rng_range(&s, 0, ws - 1);
            void *old = slot[idx];
            if (old) {
                free(old);
                slot[idx] = NULL;
            } else {
                size_t sz = rng_range(&s, min, max);
                void *p = malloc(sz);
                if (__builtin_expect(!p, 0))
                    bench_die("malloc(%zu) failed", sz);
                bench_touch(p, i);
                slot[idx] = p;
            }
        }
        ops = iters;
    }
    struct bench_clock t1 = bench_clock_now();

    char extra[128];
    snprintf(extra, sizeof extra, " ws=%" PRIu64 " min=%" PRIu64 " max=%" PRIu64, ws, min, max);
    bench_result_cpu(name, ops, t0, t1, extra);
    for (uint64_t i = 0; i < ws; i++)
        free(slot[i]);
    bench_meta_free(slot, ws * sizeof(void *));
    return 0;
}
