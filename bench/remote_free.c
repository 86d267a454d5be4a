/* remote_free - xmalloc-style pure remote frees.
 *
 * `producers` threads only allocate: each fills a batch of `batch` blocks
 * (min..max bytes, one word written) and puts it on a global queue (one
 * mutex, at most `depth` full batches waiting).  `consumers` threads only
 * free: each takes a whole batch and frees every block in it.  So every
 * free is remote, arrives in bursts of blocks that were allocated together
 * by one thread, and several freeing threads may target the same owner at
 * once.  The queue costs one lock round trip per batch, not per block.
 * 2 ops per block.
 */
#include "bench.h"

static const char usage[] =
    "usage: remote_free [producers=N] [consumers=N] [items=N] [batch=N] [depth=N] [min=B] [max=B] [seed=N] [name=S]\n"
    "  Allocating threads hand batches of blocks to freeing threads via a global queue.\n"
    "  items is the total number of blocks.\n"
    "  defaults: producers=2 consumers=2 items=20M batch=256 depth=16 min=8 max=1024 seed=1\n";

struct batch {
    struct batch *next;
    uint64_t n;
    void *p[];
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_full, not_empty;
    struct batch *full_head, *full_tail, *empty;
    uint64_t nfull, depth, batches_left_to_free;
    uint64_t batch, min, max;
    pthread_barrier_t start;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER, .not_full = PTHREAD_COND_INITIALIZER,
        .not_empty = PTHREAD_COND_INITIALIZER };

struct producer_arg {
    uint64_t batches, rng;
    double begin;
};

static void *producer(void *arg)
{
    struct producer_arg *a = arg;
    uint64_t s = a->rng, min = q.min, max = q.max, n = q.batch;
    pthread_barrier_wait(&q.start);
    a->begin = bench_now();
    pthread_mutex_lock(&q.lock);
    struct batch *b = q.empty;
    q.empty = b->next;
    pthread_mutex_unlock(&q.lock);
    for (uint64_t k = 0; k < a->batches; k++) {
        for (uint64_t i = 0; i < n; i++) {
            size_t sz = rng_range(&s, min, max);
            void *p = malloc(sz);
            if (__builtin_expect(!p, 0))
                bench_die("malloc(%zu) failed", sz);
            bench_touch(p, i);
            b->p[i] = p;
        }
        b->n = n;
        b->next = NULL;
        pthread_mutex_lock(&q.lock);
        while (q.nfull >= q.depth)
            pthread_cond_wait(&q.not_full, &q.lock);
        if (q.full_tail)
            q.full_tail->next = b;
        else
            q.full_head = b;
        q.full_tail = b;
        q.nfull++;
        pthread_cond_signal(&q.not_empty);
        b = NULL;
        if (k + 1 < a->batches) {
            /* There is always an empty batch: depth + producers + consumers exist. */
            b = q.empty;
            q.empty = b->next;
        }
        pthread_mutex_unlock(&q.lock);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    double *end = arg;
    uint64_t sum = 0;
    struct batch *done = NULL;
    pthread_barrier_wait(&q.start);
    for (;;) {
        pthread_mutex_lock(&q.lock);
        if (done) {
            done->next = q.empty;
            q.empty = done;
            done = NULL;
        }
        while (!q.full_head && q.batches_left_to_free)
            pthread_cond_wait(&q.not_empty, &q.lock);
        if (!q.full_head) {
            pthread_cond_broadcast(&q.not_empty);
            pthread_mutex_unlock(&q.lock);
            break;
        }
        struct batch *b = q.full_head;
        q.full_head = b->next;
        if (!q.full_head)
            q.full_tail = NULL;
        q.nfull--;
        q.batches_left_to_free--;
        if (!q.batches_left_to_free)
            pthread_cond_broadcast(&q.not_empty);
        pthread_cond_signal(&q.not_full);
        pthread_mutex_unlock(&q.lock);
        for (uint64_t i = 0; i < b->n; i++) {
            sum += bench_peek(b->p[i]);
            free(b->p[i]);
        }
        done = b;
    }
    *end = bench_now();
    (void)sum;
    return NULL;
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, usage);
    uint64_t producers = bench_arg_u64("producers", 2);
    uint64_t consumers = bench_arg_u64("consumers", 2);
    uint64_t items = bench_arg_u64("items", 20000000);
    uint64_t batch = bench_arg_u64("batch", 256);
    uint64_t depth = bench_arg_u64("depth", 16);
    uint64_t min = bench_arg_u64("min", 8);
    uint64_t max = bench_arg_u64("max", 1024);
    uint64_t seed = bench_arg_u64("seed", 1);
    const char *name = bench_arg_str("name", "remote_free");
    bench_args_done();
    bench_check_range("size", min, max);
    if (producers < 1 || producers > 128 || consumers < 1 || consumers > 128)
        bench_usage_error("producers and consumers must be 1..128");
    if (batch < 1 || batch > (1u << 20))
        bench_usage_error("batch must be 1..%u", 1u << 20);
    if (depth < 1 || depth > 4096)
        bench_usage_error("depth must be 1..4096");
    if (max < 8)
        bench_usage_error("max must be >= 8");
    if (min < 8)
        min = 8;
    uint64_t per = items / batch / producers;
    if (per == 0)
        bench_usage_error("items must be >= batch * producers");

    q.batch = batch;
    q.min = min;
    q.max = max;
    q.depth = depth;
    q.batches_left_to_free = per * producers;
    uint64_t nb = depth + producers + consumers;
    size_t bsz = sizeof(struct batch) + batch * sizeof(void *);
    char *pool = bench_meta(nb * bsz);
    for (uint64_t i = 0; i < nb; i++) {
        struct batch *b = (struct batch *)(pool + i * bsz);
        b->next = q.empty;
        q.empty = b;
    }
    pthread_barrier_init(&q.start, NULL, (unsigned)(producers + consumers + 1));
    struct producer_arg *pa = bench_meta(producers * sizeof *pa);
    double *ends = bench_meta(consumers * sizeof *ends);
    pthread_t *th = bench_meta((producers + consumers) * sizeof *th);
    for (uint64_t i = 0; i < producers; i++) {
        pa[i].batches = per;
        pa[i].rng = rng_seed(seed, i + 1);
        bench_thread_start(&th[i], producer, &pa[i]);
    }
    for (uint64_t i = 0; i < consumers; i++)
        bench_thread_start(&th[producers + i], consumer, &ends[i]);
    pthread_barrier_wait(&q.start);
    for (uint64_t i = 0; i < producers + consumers; i++)
        pthread_join(th[i], NULL);
    /* From the first producer's start to the last consumer's end. */
    double t0 = pa[0].begin, t1 = ends[0];
    for (uint64_t i = 1; i < producers; i++)
        if (pa[i].begin < t0)
            t0 = pa[i].begin;
    for (uint64_t i = 1; i < consumers; i++)
        if (ends[i] > t1)
            t1 = ends[i];
    char extra[160];
    snprintf(extra, sizeof extra, " producers=%" PRIu64 " consumers=%" PRIu64 " batch=%" PRIu64
             " min=%" PRIu64 " max=%" PRIu64, producers, consumers, batch, min, max);
    bench_result(name, 2 * per * producers * batch, t1 - t0, extra);
    return 0;
}
