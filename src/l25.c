/* l25.c - the L2.5 pool: blocks of 32 KiB < size <= 1 MiB, and aligned
 * requests (16 < align <= 64 KiB, size <= 1 MiB) that Tiny cannot serve
 * (see l25.h).
 *
 * L2.5 is one `pool_kind` of the segment pool box (pool.c holds the engine
 * and its design comment, pool_owner.c the cross-thread protocols); this
 * file owns the L2.5 parameters, the
 * aligned-allocation policy and the tier's entry points.
 *
 * Classes: four per doubling, 20 of them: 40, 48, 56, 64, 80, ..., 768,
 *   896, 1024 KiB (multiples of 8 KiB).  size -> class: one load,
 *   pool_class_tab[(size - 1) >> 13].
 * Pages: one block per page, a run of 64 KiB units in an HK_SEG_L25
 *   segment (40..64 KiB: 1 unit, 80..128 KiB: 2, ..., 1 MiB: 16).  So a
 *   freed block empties its page at once and its units are reused by any
 *   class, as a best-fit heap would: measured against 4-block pages, the
 *   same-thread churn speed is equal, realloc growth through the tier peaks
 *   14% lower, and a producer/consumer pipeline of 32..256 KiB blocks runs
 *   2.3x faster at a quarter of the RSS.  The tail of a unit a block does
 *   not fill (up to 24 KiB for a 40 KiB block) is address space, never
 *   touched, so it costs no RSS.
 * Per-thread cache: about 256 KiB per class (at most 4 blocks, none above
 *   256 KiB); halved every 1024 frees.
 * Memory: see pool.c (give-back by decay; bounds scale with the thread's
 *   recent peak).
 *
 * Aligned requests: pages start on 64 KiB boundaries and block i sits at
 *   start + i * bsize, so every block of a class has the alignment
 *   balign = the lowest set bit of bsize (64 KiB when a page holds one
 *   block, as every L2.5 page does).  l25_alloc_aligned takes the smallest
 *   class (Mid first, then L2.5) that holds the request and has balign >=
 *   the alignment: valloc(100) gets a 4 KiB Mid block, valloc(5000) 8 KiB,
 *   memalign(64 KiB, 33 KiB) a 40 KiB L2.5 block; the usable size is the
 *   class size.
 *
 * Counters: hks_tier[HKS_TIER_L25].  Tracepoint: l25_refill(cls, size,
 * blocks).  Lock: "l25_pool".
 */
#include "l25.h"
#include "mid.h"
#include "pool.h"
#include "pool_owner.h"

#include <errno.h>

#define L25_BASE_SHIFT 15   /* classes start above 32 KiB */

static pool_kind l25_pool = {
    .name = "l25",
    .id = POOL_L25,
    .seg_kind = HK_SEG_L25,
    .tier = HKS_TIER_L25,
    .nclasses = 20,
    .base_shift = L25_BASE_SHIFT,
    .want_blocks = 1,
    .waste_shift = 1,
    .cache_bytes = 256u << 10,
    .cache_min = 0,
    .cache_max = 4,
    .keep_max = 512u << 10,
    .gc_interval = 1024,
    .dirty_max = (size_t)64 << 20,
    .decay_ns = 100000000,
    .seg_cache_max = 32,
    .park_max = 4,
    .lock = HAK_LOCK_INIT("l25_pool"),
};

void l25_init(void) {
    pool_kind_init(&l25_pool);
}

void *l25_alloc(size_t size) {
    return pool_alloc_fast(&l25_pool, POOL_L25, HKS_TIER_L25, pool_class_tab[(size - 1) >> (L25_BASE_SHIFT - 2)]);
}

void *l25_alloc_aligned(size_t size, size_t align) {
    if (HK_UNLIKELY(size > HK_L25_MAX || align > ((size_t)64 << 10) || (align & (align - 1)))) {
        errno = ENOMEM;
        return NULL;
    }
    /* 32 KiB is a multiple of every align <= 32 KiB: Mid always fits */
    if (size <= HK_MID_MAX && align <= HK_MID_MAX) return mid_alloc_aligned(size, align);
    if (HK_UNLIKELY(atomic_load_explicit(&l25_pool.ready, memory_order_acquire) != 2))
        pool_kind_init(&l25_pool);
    unsigned c = size > HK_MID_MAX ? pool_class_of(size, L25_BASE_SHIFT) : 0;
    for (; c < l25_pool.nclasses; c++)
        if (l25_pool.balign[c] >= align)
            return pool_alloc_fast(&l25_pool, POOL_L25, HKS_TIER_L25, c);
    errno = ENOMEM;   /* not reached: every L2.5 block is 64 KiB aligned */
    return NULL;
}

int l25_free(void *p) {
    return pool_free_fast(&l25_pool, POOL_L25, HKS_TIER_L25, p);
}

size_t l25_usable_size(const void *p) {
    return pool_usable_size(p);
}

void l25_thread_exit(hk_heap *h) {
    pool_thread_exit(&l25_pool, h);
}

size_t l25_trim(void) {
    return pool_trim(&l25_pool);
}
