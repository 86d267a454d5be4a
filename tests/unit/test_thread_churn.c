/* test_thread_churn.c - larson-style thread churn.
 *
 * 4 lanes, each an array of tagged blocks.  A lane's thread replaces random
 * blocks (check tag, free, malloc a new size, tag) for a while, then
 * creates its successor, hands it the array and exits with all those
 * blocks live.  The successor frees its predecessor's blocks: frees into
 * slabs whose owner has exited (orphaned, then adopted).  Lanes also swap
 * blocks through a shared exchange so that live threads free each other's
 * blocks.  Every block is checked before it is freed.
 */
#include "check.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

enum { LANES = 4, SLOTS = 1000, GENERATIONS = 40, OPS = 6000, XCHG = 64 };

typedef struct blk { void *p; size_t size; uint64_t tag; } blk;
typedef struct lane { int id, gen; uint64_t rng, next_tag; blk b[SLOTS]; } lane;

static lane lanes[LANES];
static sem_t lanes_done;
static pthread_mutex_t xmu = PTHREAD_MUTEX_INITIALIZER;
static blk xchg[XCHG];
static _Atomic uint64_t threads_run;

static size_t pick_size(uint64_t *rng) {
    uint64_t r = rng_next(rng);
    unsigned k = (unsigned)(r % 100);
    r >>= 8;
    if (k < 85) return 8 + r % 505;              /* larson's 8..512 */
    if (k < 98) return 513 + r % (8 * 1024);
    return 40 * 1024 + r % (100 * 1024);
}

static void refill(lane *l, blk *b) {
    b->size = pick_size(&l->rng);
    b->p = malloc(b->size);
    CHECK(b->p, "lane %d gen %d: malloc(%zu) returned NULL", l->id, l->gen, b->size);
    b->tag = ((uint64_t)l->id << 48) | l->next_tag++;
    tag_fill(b->p, b->size, b->tag);
}

static void *run(void *arg) {
    lane *l = arg;
    threads_run++;
    /* The predecessor's blocks first: all allocated by an exited thread. */
    for (int i = 0; i < SLOTS; i += 3) {
        blk *b = &l->b[i];
        CHECK_TAG(b->p, b->size, b->tag, "block inherited from the exited predecessor");
        free(b->p);
        refill(l, b);
    }
    for (int op = 0; op < OPS; op++) {
        blk *b = &l->b[rng_next(&l->rng) % SLOTS];
        CHECK_TAG(b->p, b->size, b->tag, "lane block");
        if (op % 97 == 0) {
            /* Swap with the exchange: the block goes to another live lane. */
            pthread_mutex_lock(&xmu);
            blk *x = &xchg[rng_next(&l->rng) % XCHG];
            blk t = *x; *x = *b; *b = t;
            pthread_mutex_unlock(&xmu);
            CHECK_TAG(b->p, b->size, b->tag, "block taken from the exchange");
            continue;
        }
        free(b->p);
        refill(l, b);
    }
    if (++l->gen < GENERATIONS) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        CHECK(pthread_create(&t, &a, run, l) == 0, "lane %d: pthread_create of the successor failed", l->id);
        pthread_attr_destroy(&a);
    } else {
        sem_post(&lanes_done);
    }
    return NULL;
}

int main(void) {
    require_hakmem();
#ifndef CHECK_AGAINST_GLIBC
    snap s0, s1;
    snap_take(&s0);
#endif
    sem_init(&lanes_done, 0, 0);
    uint64_t rng = 99;
    lane boot = { .id = 99, .rng = 5, .next_tag = 1 };
    for (int i = 0; i < XCHG; i++) refill(&boot, &xchg[i]);
    for (int i = 0; i < LANES; i++) {
        lane *l = &lanes[i];
        l->id = i; l->rng = rng_next(&rng) | 1; l->next_tag = 1;
        for (int j = 0; j < SLOTS; j++) refill(l, &l->b[j]);
    }
    for (int i = 0; i < LANES; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, run, &lanes[i]) == 0, "pthread_create");
        pthread_detach(t);
    }
    for (int i = 0; i < LANES; i++) sem_wait(&lanes_done);
    CHECK(threads_run == (uint64_t)LANES * GENERATIONS, "%llu threads ran, expected %d",
          (unsigned long long)threads_run, LANES * GENERATIONS);
    for (int i = 0; i < LANES; i++)
        for (int j = 0; j < SLOTS; j++) {
            blk *b = &lanes[i].b[j];
            CHECK_TAG(b->p, b->size, b->tag, "lane block at the end");
            free(b->p);
        }
    for (int i = 0; i < XCHG; i++) {
        CHECK_TAG(xchg[i].p, xchg[i].size, xchg[i].tag, "exchange block at the end");
        free(xchg[i].p);
    }
#ifndef CHECK_AGAINST_GLIBC
    snap_take(&s1);
    CHECK(DELTA(&s0, &s1, box.slab_orphan) > 0,
          "%d threads exited holding live blocks, but box.slab_orphan did not grow", LANES * GENERATIONS);
    CHECK(DELTA(&s0, &s1, box.slab_adopt) > 0,
          "blocks of exited threads were freed, but box.slab_adopt did not grow");
    CHECK(s1.g.threads_total >= s0.g.threads_total + (uint64_t)LANES * GENERATIONS,
          "threads_total went from %llu to %llu after %d threads",
          (unsigned long long)s0.g.threads_total, (unsigned long long)s1.g.threads_total, LANES * GENERATIONS);
#endif
    printf("test_thread_churn: ok (%llu threads)\n", (unsigned long long)threads_run);
    return 0;
}
