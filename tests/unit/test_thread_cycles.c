/* test_thread_cycles.c - 10,000 thread create/exit cycles with stable RSS.
 *
 * Each thread allocates blocks of several tiers, frees most of them, and
 * exits with a few still live, which the main thread checks and frees
 * after the join.  Per-thread state (TLS caches, heaps, counter blocks,
 * orphaned slabs) must be recycled: VmRSS after 10,000 threads may exceed
 * VmRSS after 1,000 only by a small bound.
 */
#include "check.h"

#include <pthread.h>

enum { THREADS = 10000, WARM = 1000, PAR = 2, NB = 24, HANDED = 4 };
#define RSS_GROWTH_LIMIT_KB (8 * 1024L)

typedef struct job { int n; void *hand[HANDED]; size_t hand_size[HANDED]; } job;

static const size_t sizes[] = { 8, 16, 32, 64, 100, 256, 700, 1024, 2000, 8000, 30000, 70000 };
#define NS (sizeof sizes / sizeof sizes[0])

static void *body(void *arg) {
    job *j = arg;
    void *b[NB];
    for (int i = 0; i < NB; i++) {
        size_t s = sizes[(i + j->n) % NS];
        b[i] = malloc(s);
        CHECK(b[i], "thread %d: malloc(%zu) returned NULL", j->n, s);
        tag_fill(b[i], s, (uint64_t)j->n * 100 + (uint64_t)i);
    }
    for (int i = 0; i < NB; i++) {
        size_t s = sizes[(i + j->n) % NS];
        CHECK_TAG(b[i], s, (uint64_t)j->n * 100 + (uint64_t)i, "thread's own block");
        if (i < HANDED) { j->hand[i] = b[i]; j->hand_size[i] = s; }
        else free(b[i]);
    }
    return NULL;
}

static void cycle(int first, int count) {
    pthread_t t[PAR];
    job jobs[PAR];
    for (int k = 0; k < count; k++) {
        jobs[k].n = first + k;
        CHECK(pthread_create(&t[k], NULL, body, &jobs[k]) == 0, "pthread_create #%d failed", first + k);
    }
    for (int k = 0; k < count; k++) {
        CHECK(pthread_join(t[k], NULL) == 0, "pthread_join");
        for (int i = 0; i < HANDED; i++) {
            CHECK_TAG(jobs[k].hand[i], jobs[k].hand_size[i], (uint64_t)jobs[k].n * 100 + (uint64_t)i,
                      "block left live by an exited thread");
            free(jobs[k].hand[i]);
        }
    }
}

int main(void) {
    require_hakmem();
#ifndef CHECK_AGAINST_GLIBC
    snap s0, s1;
    snap_take(&s0);
#endif
    long rss_warm = 0;
    for (int n = 0; n < THREADS; n += PAR) {
        cycle(n, PAR);
        if (n + PAR == WARM) rss_warm = rss_kb();
    }
    long rss_end = rss_kb();
    printf("VmRSS after %d threads: %ld KiB, after %d: %ld KiB\n", WARM, rss_warm, THREADS, rss_end);
    CHECK(rss_end - rss_warm <= RSS_GROWTH_LIMIT_KB,
          "VmRSS grew by %ld KiB between %d and %d thread cycles (limit %ld KiB)",
          rss_end - rss_warm, WARM, THREADS, RSS_GROWTH_LIMIT_KB);
#ifndef CHECK_AGAINST_GLIBC
    snap_take(&s1);
    CHECK(s1.g.threads_total >= s0.g.threads_total + THREADS, "threads_total: %llu -> %llu",
          (unsigned long long)s0.g.threads_total, (unsigned long long)s1.g.threads_total);
    CHECK(s1.g.threads_live <= 2, "threads_live = %llu after every thread was joined",
          (unsigned long long)s1.g.threads_live);
#endif
    printf("test_thread_cycles: ok\n");
    return 0;
}
