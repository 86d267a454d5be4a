/* mid_mt - thread-private random replacement, several threads at once.
 *
 * Each of `threads` threads owns `ws` slots, fills them before the clock
 * starts, then does `iters` cycles of: free a random slot, allocate
 * min..max bytes into it, write a word.  Nothing crosses threads; with the
 * default 8..32 KiB sizes this is the Mid tier's per-thread pools under
 * parallel load (and any shared lock or shared cache line shows).  2 ops
 * per cycle; ops/s is the sum over threads (wall clock from the common
 * start to the last thread's end).
 */
#include "bench.h"

static const char usage[] =
    "usage: mid_mt [threads=N] [iters=N] [ws=N] [min=B] [max=B] [seed=N] [name=S]\n"
    "  Each thread: ws private slots, iters cycles of free(random slot) + malloc(min..max).\n"
    "  defaults: threads=2 iters=5M (per thread) ws=2048 min=8K max=32K seed=1\n";

struct worker {
    uint64_t iters, ws, min, max, rng;
    pthread_barrier_t *start;
    double begin, end;
    char pad[64];
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    uint64_t s = w->rng, ws = w->ws, min = w->min, max = w->max;
    void **slot = bench_meta(ws * sizeof(void *));
    for (uint64_t i = 0; i < ws; i++) {
        size_t sz = rng_range(&s, min, max);
        slot[i] = bench_xmalloc_check(malloc(sz), sz);
        bench_touch(slot[i], i);
    }
    pthread_barrier_wait(w->start);
    w->begin = bench_now();
    for (uint64_t i = 0; i < w->iters; i++) {
        uint64_t idx = rng_range(&s, 0, ws - 1);
        size_t sz = rng_range(&s, min, max);
        free(slot[idx]);
        void *p = malloc(sz);
        if (__builtin_expect(!p, 0))
            bench_die("malloc(%zu) failed", sz);
        bench_touch(p, i);
        slot[idx] = p;
    }
    w->end = bench_now();
    /* Wait for everyone before freeing, so the teardown of one thread does
     * not run against the timed phase of another. */
    pthread_barrier_wait(w->start);
    for (uint64_t i = 0; i < ws; i++)
        free(slot[i]);
    bench_meta_free(slot, ws * sizeof(void *));
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, usage);
    uint64_t threads = bench_arg_u64("threads", 2);
    uint64_t iters = bench_arg_u64("iters", 5000000);
    uint64_t ws = bench_arg_u64("ws", 2048);
    uint64_t min = bench_arg_u64("min", 8 << 10);
    uint64_t max = bench_arg_u64("max", 32 << 10);
    uint64_t seed = bench_arg_u64("seed", 1);
    const char *name = bench_arg_str("name", "mid_mt");
    bench_args_done();
    bench_check_range("size", min, max);
    if (threads < 1 || threads > 256)
        bench_usage_error("threads must be 1..256");
    if (ws < 1 || ws > (1u << 24))
        bench_usage_error("ws must be 1..%u", 1u << 24);
    if (max < 8)
        bench_usage_error("max must be >= 8");
    if (min < 8)
        min = 8;

    struct worker *w = bench_meta(threads * sizeof *w);
    pthread_t *th = bench_meta(threads * sizeof *th);
    pthread_barrier_t *start = bench_meta(sizeof *start);
    pthread_barrier_init(start, NULL, (unsigned)threads + 1);
    for (uint64_t t = 0; t < threads; t++) {
        w[t] = (struct worker){ .iters = iters, .ws = ws, .min = min, .max = max,
                                .rng = rng_seed(seed, t + 1), .start = start };
        bench_thread_start(&th[t], worker_run, &w[t]);
    }
    pthread_barrier_wait(start);
    /* Second barrier: all timed phases are over.  The clock runs from the
     * first thread's start to the last thread's end (taken by the threads
     * themselves: this thread may be descheduled at either barrier). */
    pthread_barrier_wait(start);
    double t0 = w[0].begin, t1 = w[0].end;
    for (uint64_t t = 1; t < threads; t++) {
        if (w[t].begin < t0)
            t0 = w[t].begin;
        if (w[t].end > t1)
            t1 = w[t].end;
    }
    char extra[128];
    snprintf(extra, sizeof extra, " threads=%" PRIu64 " ws=%" PRIu64 " min=%" PRIu64
             " max=%" PRIu64, threads, ws, min, max);
    bench_result(name, 2 * threads * iters, t1 - t0, extra);
    for (uint64_t t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    return 0;
}
