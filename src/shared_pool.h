/* shared_pool.h - the SharedPool box (SP-SLOT): where threads get tiny
 * slabs and where empty slabs go back.
 *
 * Owns: per-slot states UNUSED / ACTIVE / EMPTY (hk_slab.state), the
 * per-class lock-free stacks of EMPTY slabs, the "current" SuperSlab from
 * which UNUSED slots are claimed, and retirement of empty SuperSlabs.
 *
 * sp_acquire(cls), three stages:
 *   1  EMPTY reuse: pop the class's EMPTY stack (lock-free, tagged head),
 *      CAS EMPTY->ACTIVE; the slab keeps its carved free list if the class
 *      is the same.  Then the other classes' stacks (reformatted).
 *   2  UNUSED claim: CAS UNUSED->ACTIVE on a slot of the current SuperSlab.
 *   3  new SuperSlab, under the "shared_pool" lock: from the LRU, else a
 *      fresh one from the arena (the OS).
 * sp_release(slab): ACTIVE->EMPTY when its `used` reached 0; when the last
 * ACTIVE slot of a SuperSlab goes, the SuperSlab is retired to the LRU
 * (unless it is the current one: hysteresis against map/unmap churn).
 *
 * Stale stack entries are expected (a slab whose SuperSlab was retired,
 * evicted or reused) and are discarded on pop: a slab is claimed only by
 * a reference on its SuperSlab (superslab.h) plus a CAS on its state.
 * Counters: box.sp_stage1/2/3, box.sp_release, slot gauges.
 * Tracepoints: sp_acquire (stage), sp_release.
 */
#ifndef HAKMEM_SHARED_POOL_H
#define HAKMEM_SHARED_POOL_H

#include "types.h"

void     sp_init(void);
/* A slab formatted for class `cls`, ACTIVE, owned by thread `owner`;
 * NULL + ENOMEM when no memory can be had. */
hk_slab *sp_acquire(unsigned cls, uint32_t owner);
/* Give back a slab whose used == 0 (caller removed it from its lists). */
void     sp_release(hk_slab *s);
/* A SuperSlab's last reference went (from ss_unref). */
void     sp_retire(hk_segmeta *m);
/* malloc_trim: retire the current SuperSlab if it is empty. */
void     sp_trim(void);

#endif
