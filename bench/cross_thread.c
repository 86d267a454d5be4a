/* cross_thread - producer mallocs, consumer frees (a message pipeline).
 *
 * `pairs` producer/consumer pairs.  The producer allocates min..max bytes,
 * writes a word and pushes the pointer into a single-producer/
 * single-consumer ring (`ring` entries, indexes published every 32 entries
 * so the queue's own cache-line traffic stays small); the consumer pops,
 * reads the word (the message) and frees.  Every free is remote: the
 * allocator must get the memory back to the producer (remote free stacks,
 * per-thread caches moved in batches, ...).  2 ops per item.
 */
#include "bench.h"
#include <stdatomic.h>

static const char usage[] =
    "usage: cross_thread [pairs=N] [items=N] [min=B] [max=B] [ring=N] [seed=N] [name=S]\n"
    "  Producer threads malloc(min..max) and pass the blocks through an SPSC ring to\n"
    "  consumer threads that read and free them.  items is per pair.\n"
    "  defaults: pairs=1 items=10M min=8 max=1024 ring=1024 seed=1\n";

#define PUBLISH 32

struct ring {
    _Alignas(64) _Atomic uint64_t head;  /* consumer's position */
    _Alignas(64) _Atomic uint64_t tail;  /* producer's position */
    _Alignas(64) uint64_t mask;
    uint64_t items, min, max, rng, sum;
    pthread_barrier_t *start;
    double begin, end;
    void **slot;
};

static void *producer(void *arg)
{
    struct ring *r = arg;
    uint64_t s = r->rng, min = r->min, max = r->max, mask = r->mask;
    uint64_t t = 0, head = 0;
    unsigned spins = 0;
    pthread_barrier_wait(r->start);
    r->begin = bench_now();
    for (uint64_t i = 0; i < r->items; i++) {
        size_t sz = rng_range(&s, min, max);
        void *p = malloc(sz);
        if (__builtin_expect(!p, 0))
            bench_die("malloc(%zu) failed", sz);
        bench_touch(p, i);
        while (t - head > mask) {
            head = atomic_load_explicit(&r->head, memory_order_acquire);
            if (t - head > mask)
                bench_spin_pause(&spins);
        }
        r->slot[t & mask] = p;
        t++;
        if ((t & (PUBLISH - 1)) == 0)
            atomic_store_explicit(&r->tail, t, memory_order_release);
    }
    atomic_store_explicit(&r->tail, t, memory_order_release);
    return NULL;
}

static void *consumer(void *arg)
{
    struct ring *r = arg;
    uint64_t h = 0, tail = 0, sum = 0, mask = r->mask;
    unsigned spins = 0;
    pthread_barrier_wait(r->start);
    for (uint64_t i = 0; i < r->items; i++) {
        while (h == tail) {
            tail = atomic_load_explicit(&r->tail, memory_order_acquire);
            if (h == tail)
                bench_spin_pause(&spins);
        }
        void *p = r->slot[h & mask];
        h++;
        sum += bench_peek(p);
        free(p);
        if ((h & (PUBLISH - 1)) == 0)
            atomic_store_explicit(&r->head, h, memory_order_release);
    }
    atomic_store_explicit(&r->head, h, memory_order_release);
    r->end = bench_now();
    r->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, usage);
    uint64_t pairs = bench_arg_u64("pairs", 1);
    uint64_t items = bench_arg_u64("items", 10000000);
    uint64_t min = bench_arg_u64("min", 8);
    uint64_t max = bench_arg_u64("max", 1024);
    uint64_t ring = bench_arg_u64("ring", 1024);
    uint64_t seed = bench_arg_u64("seed", 1);
    const char *name = bench_arg_str("name", "cross_thread");
    bench_args_done();
    bench_check_range("size", min, max);
    if (pairs < 1 || pairs > 128)
        bench_usage_error("pairs must be 1..128");
    if (ring < 2 * PUBLISH || ring > (1u << 24) || (ring & (ring - 1)))
        bench_usage_error("ring must be a power of two in %d..%u", 2 * PUBLISH, 1u << 24);
    if (max < 8)
        bench_usage_error("max must be >= 8");
    if (min < 8)
        min = 8;

    struct ring *rs = bench_meta(pairs * sizeof *rs);
    pthread_t *th = bench_meta(2 * pairs * sizeof *th);
    pthread_barrier_t *start = bench_meta(sizeof *start);
    pthread_barrier_init(start, NULL, (unsigned)(2 * pairs + 1));
    for (uint64_t i = 0; i < pairs; i++) {
        struct ring *r = &rs[i];
        r->mask = ring - 1;
        r->items = items;
        r->min = min;
        r->max = max;
        r->rng = rng_seed(seed, i + 1);
        r->start = start;
        r->slot = bench_meta(ring * sizeof(void *));
        bench_thread_start(&th[2 * i], producer, r);
        bench_thread_start(&th[2 * i + 1], consumer, r);
    }
    pthread_barrier_wait(start);
    for (uint64_t i = 0; i < 2 * pairs; i++)
        pthread_join(th[i], NULL);
    /* From the first producer's start to the last consumer's end. */
    double t0 = rs[0].begin, t1 = rs[0].end;
    for (uint64_t i = 1; i < pairs; i++) {
        if (rs[i].begin < t0)
            t0 = rs[i].begin;
        if (rs[i].end > t1)
            t1 = rs[i].end;
    }
    char extra[128];
    snprintf(extra, sizeof extra, " pairs=%" PRIu64 " min=%" PRIu64 " max=%" PRIu64
             " ring=%" PRIu64, pairs, min, max, ring);
    bench_result(name, 2 * pairs * items, t1 - t0, extra);
    return 0;
}
