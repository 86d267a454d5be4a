/* superslab.h - the SuperSlab box: a 2 MiB arena segment holding 32 tiny
 * slabs of 64 KiB, with no header (slab metadata is in the arena's slab
 * table, SuperSlab metadata in its segment table entry).
 *
 * Owns: mapping and unmapping SuperSlabs (ss_map / ss_unmap), and the
 * reference count `hk_segmeta.refs` = ACTIVE slots + acquirers in flight,
 * with the HK_SS_RETIRED bit set once the SuperSlab is empty and retired
 * (then no new reference can be taken until it is revived from the LRU).
 * Invariant: refs == 0 and not retired <=> no ACTIVE slot and nobody is
 * claiming one; only then may it be retired.
 * Counters: box.ss_map, box.ss_unmap, global ss_live / slot gauges.
 * Tracepoints: ss_map, ss_unmap.
 */
#ifndef HAKMEM_SUPERSLAB_H
#define HAKMEM_SUPERSLAB_H

#include "arena.h"

/* A fresh SuperSlab from the arena, all slots UNUSED; NULL + ENOMEM. */
void *ss_map(void);
/* Give an (empty, retired) SuperSlab back to the arena. */
void  ss_unmap(void *ss);
/* Reset the slots of an empty SuperSlab to UNUSED (retire / revive). */
void  ss_reset_slots(void *ss);

HK_INLINE hk_slab *ss_slab(void *ss, unsigned i) {
    return arena_slab(ss) + i;
}
HK_INLINE void *ss_of_slab(const hk_slab *s) {
    return (void *)((uintptr_t)arena_slab_addr(s) & ~(HK_SEG_SIZE - 1));
}

/* Take a reference unless the SuperSlab is retired or not tiny. */
HK_INLINE int ss_ref(hk_segmeta *m) {
    uint32_t r = atomic_load_explicit(&m->refs, memory_order_acquire);
    for (;;) {
        if (r & HK_SS_RETIRED) return 0;
        if (atomic_load_explicit(&m->kind, memory_order_acquire) != HK_SEG_TINY) return 0;
        if (atomic_compare_exchange_weak_explicit(&m->refs, &r, r + 1, memory_order_acq_rel,
                                                  memory_order_acquire))
            return 1;
    }
}
/* Drop a reference; the last one may retire the SuperSlab to the LRU. */
void ss_unref(hk_segmeta *m);

#endif
