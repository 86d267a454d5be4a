/* test_threads.c - cross-thread producer/consumer.
 *
 * 4 producers allocate tagged blocks of every tier and pass them through a
 * shared queue to 4 consumers, which check the tag, sometimes realloc the
 * block (a realloc of another thread's block), sometimes keep it for a
 * while, and free it.  Every block is checked once, every block is freed
 * by a thread other than the one that allocated it.  Then hakmem's
 * counters must show that the frees went the remote way.
 */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>

enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 40000, QCAP = 1024, KEEP = 64 };

typedef struct msg { void *p; size_t size; uint64_t tag; int producer; } msg;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t  not_empty, not_full;
    msg             m[QCAP];
    unsigned        head, tail;   /* head - tail = items */
    int             producers_done;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {{0}}, 0, 0, 0 };

static _Atomic uint64_t consumed, reallocs;
static _Atomic uint64_t produced_by[PRODUCERS];

static void q_put(msg m) {
    pthread_mutex_lock(&q.mu);
    while (q.head - q.tail == QCAP) pthread_cond_wait(&q.not_full, &q.mu);
    q.m[q.head++ % QCAP] = m;
    pthread_cond_signal(&q.not_empty);
    pthread_mutex_unlock(&q.mu);
}

static int q_get(msg *m) {
    pthread_mutex_lock(&q.mu);
    while (q.head == q.tail && q.producers_done < PRODUCERS) pthread_cond_wait(&q.not_empty, &q.mu);
    int ok = q.head != q.tail;
    if (ok) { *m = q.m[q.tail++ % QCAP]; pthread_cond_signal(&q.not_full); }
    pthread_mutex_unlock(&q.mu);
    return ok;
}

/* Mostly tiny, some Mid, a few L2.5, rare Large. */
static size_t pick_size(uint64_t *rng) {
    uint64_t r = rng_next(rng);
    unsigned k = (unsigned)(r % 1000);
    r >>= 10;
    if (k < 800) return 1 + r % 1024;
    if (k < 960) return 1025 + r % (31 * 1024);
    if (k < 998) return 32 * 1024 + 1 + r % (992 * 1024);
    return 1024 * 1024 + 1 + r % (3 * 1024 * 1024);
}

static void *producer(void *arg) {
    int id = (int)(intptr_t)arg;
    uint64_t rng = 0x1234567 + (uint64_t)id * 7777;
    for (int i = 0; i < PER_PRODUCER; i++) {
        size_t s = pick_size(&rng);
        void *p = malloc(s);
        CHECK(p, "producer %d: malloc(%zu) returned NULL", id, s);
        CHECK(((uintptr_t)p & 15) == 0 || s <= 8, "producer %d: malloc(%zu) = %p misaligned", id, s, p);
        uint64_t tag = ((uint64_t)id << 32) | (uint64_t)i;
        tag_fill(p, s, tag);
        q_put((msg){ p, s, tag, id });
        produced_by[id]++;
    }
    pthread_mutex_lock(&q.mu);
    q.producers_done++;
    pthread_cond_broadcast(&q.not_empty);
    pthread_mutex_unlock(&q.mu);
    return NULL;
}

static void *consumer(void *arg) {
    int id = (int)(intptr_t)arg;
    uint64_t rng = 0xabcdef + (uint64_t)id;
    msg kept[KEEP];
    int nk = 0;
    msg m;
    while (q_get(&m)) {
        CHECK(malloc_usable_size(m.p) >= m.size, "consumer %d: usable size of %p (%zu bytes from producer %d) is %zu",
              id, m.p, m.size, m.producer, malloc_usable_size(m.p));
        CHECK_TAG(m.p, m.size, m.tag, "consumer: block from another thread");
        uint64_t r = rng_next(&rng) % 8;
        if (r == 0) {
            /* Resize another thread's block. */
            size_t ns = m.size / 2 + 1 + (size_t)(rng_next(&rng) % (m.size + 64));
            void *n = realloc(m.p, ns);
            CHECK(n, "consumer %d: realloc(%zu -> %zu) returned NULL", id, m.size, ns);
            CHECK_TAG(n, m.size < ns ? m.size : ns, m.tag, "consumer: realloc of another thread's block");
            m.p = n; m.size = ns;
            tag_fill(m.p, m.size, m.tag);
            reallocs++;
        }
        if (r <= 2) {
            /* Keep it a while; free an older one instead. */
            if (nk == KEEP) {
                int j = (int)(rng_next(&rng) % KEEP);
                CHECK_TAG(kept[j].p, kept[j].size, kept[j].tag, "consumer: kept block");
                free(kept[j].p);
                kept[j] = m;
            } else {
                kept[nk++] = m;
            }
        } else {
            free(m.p);
        }
        consumed++;
    }
    for (int j = 0; j < nk; j++) {
        CHECK_TAG(kept[j].p, kept[j].size, kept[j].tag, "consumer: kept block at exit");
        free(kept[j].p);
    }
    return NULL;
}

int main(void) {
    require_hakmem();
#ifndef CHECK_AGAINST_GLIBC
    snap s0, s1;
    snap_take(&s0);
#endif
    pthread_t p[PRODUCERS], c[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        CHECK(pthread_create(&c[i], NULL, consumer, (void *)(intptr_t)i) == 0, "pthread_create");
    for (int i = 0; i < PRODUCERS; i++)
        CHECK(pthread_create(&p[i], NULL, producer, (void *)(intptr_t)i) == 0, "pthread_create");
    for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], NULL);
    for (int i = 0; i < CONSUMERS; i++) pthread_join(c[i], NULL);
    CHECK(consumed == (uint64_t)PRODUCERS * PER_PRODUCER, "consumed %llu blocks of %llu",
          (unsigned long long)consumed, (unsigned long long)PRODUCERS * PER_PRODUCER);
    CHECK(reallocs > 0, "no realloc happened");
#ifndef CHECK_AGAINST_GLIBC
    snap_take(&s1);
    uint64_t sent = 0, tiny_frees = 0;
    for (int k = 0; k < HKS_TINY_CLASSES; k++) {
        sent += (uint64_t)DELTA(&s0, &s1, cls[k].remote_sent);
        tiny_frees += (uint64_t)DELTA(&s0, &s1, cls[k].frees);
    }
    /* Each of the ~128,000 tiny blocks was freed by a thread other than its
     * allocator; while the producer lives that is a remote free. */
    CHECK(tiny_frees >= (uint64_t)PRODUCERS * PER_PRODUCER * 3 / 4,
          "tiny frees counted: %llu", (unsigned long long)tiny_frees);
    CHECK(sent >= (uint64_t)PRODUCERS * PER_PRODUCER / 10,
          "only %llu tiny frees were counted as remote (of %llu tiny frees, all cross-thread)",
          (unsigned long long)sent, (unsigned long long)tiny_frees);
    CHECK(DELTA(&s0, &s1, tier[HKS_TIER_MID].remote_sent) > 0, "no Mid block was freed remotely (counter tier[MID].remote_sent)");
#endif
    printf("test_threads: ok (%llu blocks, %llu cross-thread reallocs)\n",
           (unsigned long long)consumed, (unsigned long long)reallocs);
    return 0;
}
