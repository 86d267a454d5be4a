/* retention - memory kept after short-lived threads exit.
 *
 * `threads` threads are started, `conc` at a time.  Each does `rounds`
 * bursts of `burst` allocations (min..max bytes) freed again, so its thread
 * cache fills, then allocates one long-lived block (also min..max bytes)
 * that it hands to the main thread, and exits.  The main thread keeps the
 * long-lived blocks.  The figure of merit is kept_kb: VmRSS after the last
 * thread has exited minus VmRSS before the first started.  An allocator
 * that strands a dead thread's cached blocks, or a whole slab/page per
 * surviving block, shows it here; live_kb is what the program really holds.
 * ops/s measures thread churn (2 ops per burst block + 1).
 */
#include "bench.h"

static const char usage[] =
    "usage: retention [threads=N] [conc=N] [rounds=N] [burst=N] [min=B] [max=B] [seed=N] [name=S]\n"
    "  Short-lived threads allocate and free bursts, keep one block alive, and exit;\n"
    "  reports kept_kb (VmRSS after all threads exited minus before) and live_kb.\n"
    "  defaults: threads=1000 conc=2 rounds=4 burst=256 min=16 max=1040 seed=1\n";

#define MAX_BURST 4096

struct job {
    uint64_t rounds, burst, min, max, rng;
    void *kept;
    size_t kept_size;
};

static void *thread_run(void *arg)
{
    struct job *j = arg;
    void *blk[MAX_BURST];
    uint64_t s = j->rng;
    for (uint64_t r = 0; r < j->rounds; r++) {
        for (uint64_t i = 0; i < j->burst; i++) {
            size_t sz = rng_range(&s, j->min, j->max);
            blk[i] = malloc(sz);
            if (!blk[i])
                bench_die("malloc(%zu) failed", sz);
            bench_touch(blk[i], i);
        }
        /* Free in a shuffled order, as a request handler's objects die. */
        for (uint64_t i = j->burst; i > 1; i--) {
            uint64_t k = rng_range(&s, 0, i - 1);
            void *t = blk[k];
            blk[k] = blk[i - 1];
            blk[i - 1] = t;
        }
        for (uint64_t i = 0; i < j->burst; i++)
            free(blk[i]);
    }
    j->kept_size = rng_range(&s, j->min, j->max);
    j->kept = malloc(j->kept_size);
    if (!j->kept)
        bench_die("malloc(%zu) failed", j->kept_size);
    bench_touch(j->kept, j->kept_size);
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, usage);
    uint64_t threads = bench_arg_u64("threads", 1000);
    uint64_t conc = bench_arg_u64("conc", 2);
    uint64_t rounds = bench_arg_u64("rounds", 4);
    uint64_t burst = bench_arg_u64("burst", 256);
    uint64_t min = bench_arg_u64("min", 16);
    uint64_t max = bench_arg_u64("max", 1040);
    uint64_t seed = bench_arg_u64("seed", 1);
    const char *name = bench_arg_str("name", "retention");
    bench_args_done();
    bench_check_range("size", min, max);
    if (threads < 1 || threads > (1u << 20))
        bench_usage_error("threads must be 1..%u", 1u << 20);
    if (conc < 1 || conc > 256)
        bench_usage_error("conc must be 1..256");
    if (burst < 1 || burst > MAX_BURST)
        bench_usage_error("burst must be 1..%d", MAX_BURST);
    if (max < 8)
        bench_usage_error("max must be >= 8");
    if (min < 8)
        min = 8;

    struct job *jobs = bench_meta(threads * sizeof *jobs);
    pthread_t *th = bench_meta(conc * sizeof *th);
    /* Let the allocator and the main thread's cache initialise first. */
    free(bench_xmalloc_check(malloc(64), 64));
    uint64_t rss0 = bench_status_kb("VmRSS");

    double t0 = bench_now();
    for (uint64_t base = 0; base < threads; base += conc) {
        uint64_t n = threads - base < conc ? threads - base : conc;
        for (uint64_t i = 0; i < n; i++) {
            struct job *j = &jobs[base + i];
            *j = (struct job){ .rounds = rounds, .burst = burst, .min = min, .max = max,
                               .rng = rng_seed(seed, base + i + 1) };
            bench_thread_start(&th[i], thread_run, j);
        }
        for (uint64_t i = 0; i < n; i++)
            pthread_join(th[i], NULL);
    }
    double t1 = bench_now();

    uint64_t rss1 = bench_status_kb("VmRSS");
    uint64_t live = 0;
    for (uint64_t i = 0; i < threads; i++)
        live += jobs[i].kept_size;
    char extra[160];
    snprintf(extra, sizeof extra, " kept_kb=%" PRId64 " live_kb=%" PRIu64 " threads=%" PRIu64
             " burst=%" PRIu64 " rounds=%" PRIu64, (int64_t)rss1 - (int64_t)rss0,
             (live + 1023) / 1024, threads, burst, rounds);
    bench_result(name, threads * (2 * rounds * burst + 1), t1 - t0, extra);
    for (uint64_t i = 0; i < threads; i++)
        free(jobs[i].kept);
    return 0;
}
