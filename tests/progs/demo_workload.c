/* demo_workload - the program `make demo` runs under hakmem.
 *
 * Four worker threads run a small server-like mix: short-lived tiny
 * objects (hot 16/32 B churn), mid-size buffers, a few large buffers, and
 * messages handed to the next worker (cross-thread frees); workers exit and
 * are replaced (thread churn).  Options:
 *   demo_workload [SECONDS] [--stats] [--pause-end SECONDS] [--rounds N]
 *                 [--generations N]
 * Generations of workers run until SECONDS (default 5) have passed, at
 * least one; --generations N runs exactly N instead.  --rounds N is each
 * worker's rounds (default 20000; a round is about 134 calls), so a short
 * run for a trace is e.g. --generations 2 --rounds 500.
 * --stats prints malloc_stats() at the end; --pause-end keeps the process
 * alive at the end so a viewer (hakmem-top, hakmem-lockstat -p) can look.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define QCAP 4096

typedef struct queue {
    pthread_mutex_t mu;
    void *items[QCAP];
    int head, tail;
} queue;

static queue queues[WORKERS];
static atomic_int stop;
static atomic_ulong total_ops;
static int rounds = 20000;
static __thread void *volatile sink;   /* per thread: keeps the compiler from eliding malloc/free */

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return *s;
}

static void put(queue *q, void *p) {
    pthread_mutex_lock(&q->mu);
    if ((q->tail + 1) % QCAP != q->head) {
        q->items[q->tail] = p;
        q->tail = (q->tail + 1) % QCAP;
        p = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    free(p);   /* queue full: free it here */
}

static void *take(queue *q) {
    void *p = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->head != q->tail) {
        p = q->items[q->head];
        q->head = (q->head + 1) % QCAP;
    }
    pthread_mutex_unlock(&q->mu);
    return p;
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)(id + 1) * 0x100000001b3ull;
    void *keep[256] = {0};
    unsigned long ops = 0;
    for (int round = 0; round < rounds && !atomic_load(&stop); round++) {
        for (int i = 0; i < 64; i++) {            /* hot tiny churn */
            void *p = malloc(16 + (size_t)(i & 1) * 16);
            memset(p, i, 16);
            sink = p;
            free(sink);
            ops += 2;
        }
        unsigned k = (unsigned)(rng(&s) % 256);   /* a working set of mixed sizes */
        free(keep[k]);
        size_t n = (rng(&s) % 8 == 0) ? 1024 + rng(&s) % (31 * 1024) : 8 + rng(&s) % 1000;
        keep[k] = malloc(n);
        memset(keep[k], 1, n < 64 ? n : 64);
        ops += 2;
        size_t m = 24 + rng(&s) % 200;            /* a message to the next worker */
        char *msg = malloc(m);
        snprintf(msg, m, "msg from %d", id);
        put(&queues[(id + 1) % WORKERS], msg);
        free(take(&queues[id]));
        ops += 2;
        if (round % 2000 == 0) {                  /* an occasional large buffer */
            char *big = calloc(1, 3u << 20);
            big[12345] = 1;
            sink = big;
            free(sink);
            ops += 2;
        }
    }
    for (int i = 0; i < 256; i++) free(keep[i]);
    atomic_fetch_add(&total_ops, ops);
    return NULL;
}

int main(int argc, char **argv) {
    double secs = 5, pause_end = 0;
    int stats = 0, want_gens = 0;
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (!strcmp(argv[i], "--stats")) stats = 1;
        else if (!strcmp(argv[i], "--pause-end") && i + 1 < argc) pause_end = atof(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = (int)strtol(argv[++i], &end, 10);
            if (*end || rounds < 1) goto usage;
        } else if (!strcmp(argv[i], "--generations") && i + 1 < argc) {
            want_gens = (int)strtol(argv[++i], &end, 10);
            if (*end || want_gens < 1) goto usage;
        } else if (argv[i][0] != '-') secs = atof(argv[i]);
        else goto usage;
    }
    for (int i = 0; i < WORKERS; i++) pthread_mutex_init(&queues[i].mu, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int generations = 0;
    do {   /* workers exit and are replaced: thread churn */
        pthread_t t[WORKERS];
        for (int i = 0; i < WORKERS; i++) pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
        for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
        generations++;
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while (want_gens ? generations < want_gens
                       : (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 < secs);
    for (int i = 0; i < WORKERS; i++) {
        void *p;
        while ((p = take(&queues[i]))) free(p);
    }
    printf("demo_workload: %d generations of %d threads, %lu malloc/free calls (pid %d)\n",
           generations, WORKERS, (unsigned long)atomic_load(&total_ops), (int)getpid());
    fflush(stdout);
    if (stats) malloc_stats();
    if (pause_end > 0) usleep((useconds_t)(pause_end * 1e6));
    return 0;
usage:
    fprintf(stderr, "usage: demo_workload [SECONDS] [--stats] [--pause-end SECONDS] [--rounds N] "
                    "[--generations N]\n");
    return 2;
}
