/* sll.h - the TLS SLL box: per-thread, per-class singly linked free lists
 * with adaptive capacity.
 *
 * Owns: hk_tls.sll_head/sll_room/sll_cap.  malloc pops, free pushes
 * (inline, in front.h).  The list's length is kept as room = cap - length,
 * so that free's capacity test reads one word; the helpers below convert.
 * Refill (on a miss) takes a batch from the thread's slabs (slab.h),
 * asking the SharedPool for a slab when it has none.  Drains:
 *   overflow  - a free finds the list at capacity: the oldest half goes
 *   periodic  - every HAKMEM_DRAIN_INTERVAL frees of a class: a class that
 *               served no allocation during the interval gives back its
 *               whole list, one that lived off its list without refill or
 *               overflow gives back the deeper half, a busy one nothing;
 *               so slabs see `used` reach 0 and return to the SharedPool
 *               (no low-water mark: malloc's fast path keeps no history)
 *   flush     - thread exit, hakmem_thread_flush, malloc_trim: all go
 * A drained block goes to its slab if this thread owns it, is adopted with
 * its slab if orphaned, else is batched per slab and remote-pushed.
 * Capacity: doubles (to HAKMEM_SLL_CAP_MAX) when a class misses (refills)
 * twice in an interval, halves (to HAKMEM_SLL_CAP_MIN) when half of it sat unused.
 * Counters: cls[].sll_hits/sll_misses/refills/refill_blocks/drains/
 * drain_blocks/sll_cap.  Tracepoints: sll_refill, sll_drain.
 */
#ifndef HAKMEM_SLL_H
#define HAKMEM_SLL_H

#include "thread.h"

enum { HK_DRAIN_OVERFLOW = 0, HK_DRAIN_PERIODIC = 1, HK_DRAIN_FLUSH = 2 };

HK_INLINE uint32_t sll_count_of(const hk_tls_t *t, unsigned c) {
    return (uint32_t)((int32_t)t->sll_cap[c] - t->sll_room[c]);
}
HK_INLINE void sll_set_count(hk_tls_t *t, unsigned c, uint32_t n) {
    t->sll_room[c] = (int32_t)t->sll_cap[c] - (int32_t)n;
}
HK_INLINE void sll_set_cap(hk_tls_t *t, unsigned c, uint32_t cap) {
    t->sll_room[c] += (int32_t)cap - (int32_t)t->sll_cap[c];
    t->sll_cap[c] = cap;
}

void     sll_thread_init(hk_tls_t *t);
/* The list of class c is empty: refill it.  Returns blocks added. */
unsigned sll_refill(hk_tls_t *t, unsigned c);
/* Free found the list full: give back the oldest half. */
void     sll_overflow(hk_tls_t *t, unsigned c);
/* Every drain interval: give back what sat unused, adapt capacities. */
void     sll_periodic(hk_tls_t *t);
/* Give back everything of every class (keep_one: keep an empty slab). */
void     sll_flush(hk_tls_t *t, int keep_one);

#endif
