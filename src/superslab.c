/* superslab.c - the SuperSlab box (see superslab.h). */
#include "superslab.h"
#include "slab.h"
#include "shared_pool.h"
#include "stats.h"
#include "thread.h"
#include "tp.h"

void ss_reset_slots(void *ss) {
    for (unsigned i = 0; i < HK_SLABS_PER_SEG; i++) {
        hk_slab *s = ss_slab(ss, i);
        /* on_list / empty_next stay: a stale stage-1 entry may still point
         * here, and the lock-free list needs its link intact. */
        s->free = NULL;
        slab_set_used(s, 0);
        s->carved = s->capacity = 0;
        s->block_size = 0;
        s->cls = 0;
        s->list = 0;
        s->prev = s->next = NULL;
        s->inbox_next = NULL;
        atomic_store_explicit(&s->owner, 0, memory_order_relaxed);
        atomic_store_explicit(&s->remote, 0, memory_order_relaxed);
        atomic_store_explicit(&s->state, HK_SLOT_UNUSED, memory_order_release);
    }
}

void *ss_map(void) {
    void *ss = arena_seg_alloc(1, HK_SEG_TINY);
    if (!ss) return NULL;
    ss_reset_slots(ss);
    hks_thread *st = hk_tls.st;
    if (st) st->box.ss_map++;
    HKS_GAUGE_ADD(ss_live, 1);
    HKS_GAUGE_ADD(slots_unused, HK_SLABS_PER_SEG);
    HK_TP(ss_map, ss, 0);
    return ss;
}

void ss_unmap(void *ss) {
    hks_thread *st = hk_tls.st;
    if (st) st->box.ss_unmap++;
    HK_TP(ss_unmap, ss);
    arena_seg_free(ss, 1);
}

void ss_unref(hk_segmeta *m) {
    uint32_t r = atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) - 1;
    if (r == 0) sp_retire(m);
}
