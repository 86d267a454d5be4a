/* larson - Larson & Krishnan's server simulation.
 *
 * `threads` lanes run at once.  Each lane owns an array of `chunks` blocks
 * (min..max bytes) filled by the main thread before the clock starts.  A
 * lane's thread does `rounds` replacements (free a random block, allocate a
 * new one into the slot), then starts its successor thread, hands it the
 * array with all survivors and exits; after `gens` generations the lane is
 * done.  So most frees hit blocks allocated by a thread that has exited
 * (orphaned slabs / thread caches must be reclaimed or adopted), and thread
 * start/exit is part of the steady state, as in a thread-per-connection
 * server.  2 ops per replacement.
 */
#include "bench.h"
#include <semaphore.h>

static const char usage[] =
    "usage: larson [threads=N] [chunks=N] [rounds=N] [gens=N] [min=B] [max=B] [seed=N] [name=S]\n"
    "  threads lanes; each lane: chunks live blocks, `rounds` random replacements per\n"
    "  thread, then the thread hands the blocks to a new thread and exits (gens times).\n"
    "  defaults: threads=2 chunks=5000 rounds=100000 gens=20 min=8 max=1000 seed=1\n";

struct lane {
    void **slot;
    uint64_t chunks, rounds, gens, gen;
    uint64_t min, max;
    uint64_t rng;
    sem_t *done;
};

static void *lane_run(void *arg)
{
    struct lane *l = arg;
    uint64_t s = l->rng;
    void **slot = l->slot;
    for (uint64_t i = 0; i < l->rounds; i++) {
        uint64_t idx = rng_range(&s, 0, l->chunks - 1);
        size_t sz = rng_range(&s, l->min, l->max);
        free(slot[idx]);
        void *p = malloc(sz);
        if (__builtin_expect(!p, 0))
            bench_die("malloc(%zu) failed", sz);
        bench_touch(p, i);
        slot[idx] = p;
    }
    l->rng = s;
    if (++l->gen < l->gens) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&t, &at, lane_run, l);
        if (rc)
            bench_die("pthread_create: %s", strerror(rc));
        pthread_attr_destroy(&at);
    } else {
        sem_post(l->done);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, usage);
    uint64_t threads = bench_arg_u64("threads", 2);
    uint64_t chunks = bench_arg_u64("chunks", 5000);
    uint64_t rounds = bench_arg_u64("rounds", 100000);
    uint64_t gens = bench_arg_u64("gens", 20);
    uint64_t min = bench_arg_u64("min", 8);
    uint64_t max = bench_arg_u64("max", 1000);
    uint64_t seed = bench_arg_u64("seed", 1);
    const char *name = bench_arg_str("name", "larson");
    bench_args_done();
    bench_check_range("size", min, max);
    if (threads < 1 || threads > 256)
        bench_usage_error("threads must be 1..256");
    if (chunks < 1 || chunks > (1u << 24))
        bench_usage_error("chunks must be 1..%u", 1u << 24);
    if (gens < 1)
        bench_usage_error("gens must be >= 1");
    if (max < 8)
        bench_usage_error("max must be >= 8");
    if (min < 8)
        min = 8;

    struct lane *lanes = bench_meta(threads * sizeof *lanes);
    sem_t *done = bench_meta(sizeof *done);
    if (sem_init(done, 0, 0))
        bench_die("sem_init: %s", strerror(errno));
    for (uint64_t t = 0; t < threads; t++) {
        struct lane *l = &lanes[t];
        l->slot = bench_meta(chunks * sizeof(void *));
        l->chunks = chunks;
        l->rounds = rounds;
        l->gens = gens;
        l->min = min;
        l->max = max;
        l->rng = rng_seed(seed, t + 1);
        l->done = done;
        for (uint64_t i = 0; i < chunks; i++) {
            size_t sz = rng_range(&l->rng, min, max);
            l->slot[i] = bench_xmalloc_check(malloc(sz), sz);
            bench_touch(l->slot[i], i);
        }
    }

    double t0 = bench_now();
    for (uint64_t t = 0; t < threads; t++) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, lane_run, &lanes[t]);
        if (rc)
            bench_die("pthread_create: %s", strerror(rc));
        pthread_attr_destroy(&at);
    }
    for (uint64_t t = 0; t < threads; t++)
        while (sem_wait(done) && errno == EINTR)
            ;
    double t1 = bench_now();

    char extra[160];
    snprintf(extra, sizeof extra, " threads=%" PRIu64 " chunks=%" PRIu64 " gens=%" PRIu64
             " min=%" PRIu64 " max=%" PRIu64, threads, chunks, gens, min, max);
    bench_result(name, 2 * threads * rounds * gens, t1 - t0, extra);
    for (uint64_t t = 0; t < threads; t++)
        for (uint64_t i = 0; i < chunks; i++)
            free(lanes[t].slot[i]);
    return 0;
}
