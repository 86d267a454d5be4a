/* slab.h - the Slab box: one 64 KiB slab of one tiny class.
 *
 * Owns: formatting (block size, capacity), bump carving (lazy: only the
 * blocks handed out are ever touched), the local free list, `used`, and
 * the owner's per-class lists in its heap: `partial` (has free or
 * uncarved blocks) and `full` (none; remote frees will notify the owner,
 * see remote.h).  Orphaning at thread exit and adoption by the next
 * thread that frees into an orphan.
 * Invariant (owner only): free-list length == carved - used, because
 * blocks on the remote stack stay counted in `used` until merged.
 * Counters: cls[].slabs_acquired/slabs_released, box.slab_orphan/adopt.
 * Tracepoints: slab_orphan, slab_adopt.
 */
#ifndef HAKMEM_SLAB_H
#define HAKMEM_SLAB_H

#include "arena.h"
#include "thread.h"

enum { HK_LIST_NONE = 0, HK_LIST_PARTIAL = 1, HK_LIST_FULL = 2 };

extern const uint16_t hk_class_size[HK_TINY_CLASSES];

/* Format (if the class differs) and give to `owner`; used by sp_acquire. */
void     slab_activate(hk_slab *s, unsigned cls, uint32_t owner);
/* Take up to `want` blocks (free list first, then carving) as a
 * NULL-terminated chain; returns the count (0 if exhausted). */
unsigned slab_take(hk_slab *s, unsigned want, void **chain);
/* Owner lists. */
void     slab_list_add(hk_heap *h, hk_slab *s, int which);
void     slab_list_remove(hk_heap *h, hk_slab *s);
/* After a take: move an exhausted slab to the full list (arming the
 * remote notification), or keep it partial if remote frees are pending. */
void     slab_after_take(hk_heap *h, hk_slab *s);
/* Owner frees one of its blocks back into the slab; may release the slab
 * to the SharedPool when `used` reaches 0 and `keep_one` allows. */
void     slab_put(hk_heap *h, hk_slab *s, void *p, int keep_one);
/* Remove from the owner's lists and give back to the SharedPool. */
void     slab_release(hk_heap *h, hk_slab *s);
/* Merge the remote stack into the free list (owner). Returns blocks. */
unsigned slab_merge_remote(hk_heap *h, hk_slab *s);
/* Periodic: merge the remote stacks of up to `budget` slabs of the
 * partial list, from its far end (adopted slabs, allocated from last, so no
 * refill would merge them), and release those that became empty.  Without
 * this, frees into a partial slab that is never refilled from stay on its
 * stack and pin it.  Returns blocks merged. */
unsigned slab_collect(hk_heap *h, unsigned cls, unsigned budget);
/* Try to adopt orphan s for the calling thread (CAS owner 0 -> me). */
int      slab_adopt(hk_heap *h, hk_slab *s);
/* Thread exit: release empty slabs, orphan the rest (those with room go
 * on their class's orphan stack for the next thread that needs a slab). */
void     slab_orphan_all(hk_heap *h);
/* An orphan of class cls with free room, adopted by h; NULL if none. */
hk_slab *slab_adopt_orphan(hk_heap *h, unsigned cls);
/* Register the orphan-stack lock (tiny_init). */
void     slab_init(void);

HK_INLINE void *slab_base(const hk_slab *s) { return arena_slab_addr(s); }
/* `used` is the owner's, but slab_adopt reads it from other threads before
 * its owner CAS (an orphan has used > 0, a slab being activated has 0):
 * the owner's stores are relaxed atomics so that read is not a data race. */
HK_INLINE void slab_set_used(hk_slab *s, unsigned v) {
    __atomic_store_n(&s->used, (uint16_t)v, __ATOMIC_RELAXED);
}
HK_INLINE unsigned hk_class_size_of(unsigned c) { return hk_class_size[c]; }

#endif
