/* mid.c - the Mid tier: blocks of 1 KiB < size <= 32 KiB (see mid.h).
 *
 * Mid is one `pool_kind` of the segment pool box (pool.c holds the engine
 * and its design comment, pool_owner.c the cross-thread protocols); this
 * file owns the Mid parameters and the
 * tier's entry points.
 *
 * Classes: four per doubling, 20 of them: 1280, 1536, 1792, 2048, 2560,
 *   ..., 28672, 32768 B (multiples of 256, so 16-byte alignment holds).
 *   size -> class is one load from a 128-byte table indexed by
 *   (size - 1) >> 8 (pool_class_tab, shared with L2.5, checked against the
 *   arithmetic pool_class_of at init); worst waste 20% (1025 -> 1280 B).
 * Pages: runs of 64 KiB units in HK_SEG_MID segments, sized per class so a
 *   page holds >= 8 blocks with < 1/32 waste: 1 unit up to 4 KiB and for
 *   7 KiB, 2 units for 5/6/8/14/16 KiB, 3 for 10/12/24 KiB, 4 for 28/32 KiB,
 *   5 for 20 KiB.
 * Per-thread cache: a LIFO per class of about 128 KiB (4..32 blocks), so a
 *   malloc after a free of the same class reuses the cache-hot block
 *   without touching any page record; halved every 4096 frees.
 * Memory: an empty page is kept only if it heads its class list; freed
 *   units and empty segments go back by decay (pool.c).
 *
 * Invariants: pool.c; cross-thread frees, thread exit, fork: pool_owner.c.
 * Counters: hks_tier[HKS_TIER_MID].  Tracepoint: mid_refill(cls, size,
 * blocks) when a page is carved.  Lock: "mid_pool" (orphan list, records).
 */
#include "mid.h"
#include "pool.h"
#include "pool_owner.h"

#include <errno.h>

#define MID_BASE_SHIFT 10   /* classes start above 1 KiB */

static pool_kind mid_pool = {
    .name = "mid",
    .id = POOL_MID,
    .seg_kind = HK_SEG_MID,
    .tier = HKS_TIER_MID,
    .nclasses = 20,
    .base_shift = MID_BASE_SHIFT,
    .want_blocks = 8,
    .waste_shift = 5,
    .cache_bytes = 256u << 10,
    .cache_min = 8,
    .cache_max = 64,
    .keep_max = 512u << 10,
    .gc_interval = 4096,
    .dirty_max = (size_t)32 << 20,
    .decay_ns = 100000000,
    .seg_cache_max = 16,
    .park_max = 4,
    .lock = HAK_LOCK_INIT("mid_pool"),
};

void mid_init(void) {
    pool_kind_init(&mid_pool);
}

void *mid_alloc(size_t size) {
    return pool_alloc_fast(&mid_pool, POOL_MID, HKS_TIER_MID, pool_class_tab[(size - 1) >> (MID_BASE_SHIFT - 2)]);
}

void *mid_alloc_aligned(size_t size, size_t align) {
    if (HK_UNLIKELY(atomic_load_explicit(&mid_pool.ready, memory_order_acquire) != 2))
        pool_kind_init(&mid_pool);
    unsigned c = size > HK_TINY_MAX ? pool_class_of(size, MID_BASE_SHIFT) : 0;
    while (c < mid_pool.nclasses - 1u && mid_pool.balign[c] < align) c++;
    return pool_alloc_fast(&mid_pool, POOL_MID, HKS_TIER_MID, c);
}

int mid_free(void *p) {
    return pool_free_fast(&mid_pool, POOL_MID, HKS_TIER_MID, p);
}

size_t mid_usable_size(const void *p) {
    return pool_usable_size(p);
}

void mid_thread_exit(hk_heap *h) {
    pool_thread_exit(&mid_pool, h);
}

size_t mid_trim(void) {
    return pool_trim(&mid_pool);
}
