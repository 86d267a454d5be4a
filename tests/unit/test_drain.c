/* test_drain.c - the periodic drain makes slabs empty without any flush.
 *
 * Blocks parked in a thread cache count as `used` in their slab; without a
 * drain a slab never looks empty and the LRU is unreachable.  Here one
 * thread allocates 100 slabs' worth of 64 B blocks (C3), frees them all
 * (most stay in its SLL or go back on overflow), then does nothing but
 * malloc/free churn in another class (C5, 256 B).  The periodic drain
 * (every HAKMEM_DRAIN_INTERVAL frees, default 2048) must hand the idle C3
 * blocks back: cls[3].drains / drain_blocks grow, the slabs reach used == 0
 * and are released (cls[3].slabs_released), and whole SuperSlabs reach the
 * LRU (box.lru_push) - all without hakmem_thread_flush or malloc_trim.
 */
#include "check.h"

enum { BS = 64, PER_SLAB = 1024, SLABS = 100, N = SLABS * PER_SLAB, CHURN = 3 * 2048 + 100 };

int main(void) {
    require_hakmem();
    CHECK(getenv("HAKMEM_DRAIN_INTERVAL") == NULL, "this test expects the default HAKMEM_DRAIN_INTERVAL; unset it");
    void **v = mmap(NULL, N * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(v != MAP_FAILED, "mmap");
    for (size_t i = 0; i < N; i++) {
        v[i] = malloc(BS);
        CHECK(v[i], "malloc(%d) returned NULL", BS);
        tag_fill(v[i], BS, i);
    }
    snap a, b, c;
    snap_take(&a);
    /* Interleaved over the slabs, so that the blocks a thread cache keeps
     * (the oldest freed) pin many slabs rather than a few. */
    for (size_t j = 0; j < PER_SLAB; j++)
        for (size_t s = 0; s < SLABS; s++) {
            size_t i = s * PER_SLAB + j;
            CHECK_TAG(v[i], BS, i, "block before free");
            free(v[i]);
        }
    snap_take(&b);
    /* Churn in another class only: its frees drive the drain tick. */
    for (int i = 0; i < CHURN; i++) {
        void *p = hide(malloc(opaque(256)));
        CHECK(p, "malloc(256) returned NULL");
        *(volatile char *)p = 1;
        free(p);
    }
    snap_take(&c);
    int64_t rel_free = DELTA(&a, &b, cls[3].slabs_released), rel = DELTA(&a, &c, cls[3].slabs_released);
    int64_t parked = DELTA(&b, &c, cls[3].drain_blocks);
    printf("freeing %d blocks: slabs_released +%lld, drain_blocks +%lld; after %d frees of another class: "
           "slabs_released +%lld, drain_blocks +%lld, lru_push +%lld\n", N, (long long)rel_free,
           (long long)DELTA(&a, &b, cls[3].drain_blocks), CHURN, (long long)rel, (long long)parked,
           (long long)DELTA(&a, &c, box.lru_push));
    /* No C3 block was freed during the churn: C3 blocks drained then were
     * parked in the SLL and handed back by the periodic drain. */
    CHECK(parked > 0, "after %d frees of another class, no C3 block parked in the SLL was drained "
          "(cls[3].drain_blocks did not grow): no periodic drain", CHURN);
    CHECK(DELTA(&a, &c, cls[3].drain_blocks) >= N, "only %lld of %d freed C3 blocks left the SLL "
          "(cls[3].drain_blocks)", (long long)DELTA(&a, &c, cls[3].drain_blocks), N);
    CHECK(rel >= SLABS - 2, "%d slabs were emptied and idle for %d frees, cls[3].slabs_released grew by only "
          "%lld", SLABS, CHURN, (long long)rel);
    CHECK(DELTA(&a, &c, box.lru_push) >= 1, "%d empty slabs (> 3 SuperSlabs) but no SuperSlab reached the LRU",
          SLABS);
    printf("test_drain: ok\n");
    return 0;
}
