/* shared_pool.c - the SharedPool box (see shared_pool.h). */
#include "shared_pool.h"
#include "lock.h"
#include "lru.h"
#include "slab.h"
#include "stats.h"
#include "superslab.h"
#include "thread.h"
#include "tp.h"

#include <errno.h>

static hak_lock sp_lock = HAK_LOCK_INIT("shared_pool");
/* Per-class stack of EMPTY slabs: low 32 bits slab index + 1, high 32 a
 * tag that changes on every update (ABA). */
static _Atomic uint64_t empty_head[HK_TINY_CLASSES];
static _Atomic(void *) current;   /* SuperSlab for stage 2 */

void sp_init(void) { hak_lock_register(&sp_lock); }

static void empty_push(unsigned cls, hk_slab *s) {
    uint32_t idx = arena_slab_index(s) + 1;
    uint64_t old = atomic_load_explicit(&empty_head[cls], memory_order_relaxed);
    uint64_t nw;
    do {
        atomic_store_explicit(&s->empty_next, (uint32_t)old, memory_order_relaxed);
        nw = ((old >> 32) + 1) << 32 | idx;
    } while (!atomic_compare_exchange_weak_explicit(&empty_head[cls], &old, nw,
                                                    memory_order_release, memory_order_relaxed));
}

static hk_slab *empty_pop(unsigned cls) {
    uint64_t old = atomic_load_explicit(&empty_head[cls], memory_order_acquire);
    for (;;) {
        uint32_t idx = (uint32_t)old;
        if (!idx) return NULL;
        hk_slab *s = &hk_arena.slabs[idx - 1];
        uint32_t next = atomic_load_explicit(&s->empty_next, memory_order_relaxed);
        uint64_t nw = ((old >> 32) + 1) << 32 | next;
        if (atomic_compare_exchange_weak_explicit(&empty_head[cls], &old, nw,
                                                  memory_order_acquire, memory_order_acquire))
            return s;
    }
}

/* Try to turn slab s (popped from a stack) from EMPTY into ACTIVE. */
static int claim_empty(hk_slab *s) {
    /* Clear on_list before looking at the state: a releaser that sets EMPTY
     * after our look will then see on_list == 0 and push it again. */
    atomic_store_explicit(&s->on_list, 0, memory_order_seq_cst);
    hk_segmeta *m = arena_segmeta(arena_slab_addr(s));
    if (!ss_ref(m)) return 0;
    uint8_t e = HK_SLOT_EMPTY;
    if (atomic_compare_exchange_strong(&s->state, &e, HK_SLOT_ACTIVE)) return 1;
    ss_unref(m);
    return 0;
}

static hk_slab *claim_unused(void *ss) {
    hk_segmeta *m = arena_segmeta(ss);
    if (!ss_ref(m)) return NULL;
    for (unsigned i = 0; i < HK_SLABS_PER_SEG; i++) {
        hk_slab *s = ss_slab(ss, i);
        uint8_t u = HK_SLOT_UNUSED;
        if (atomic_load_explicit(&s->state, memory_order_relaxed) == HK_SLOT_UNUSED &&
            atomic_compare_exchange_strong(&s->state, &u, HK_SLOT_ACTIVE))
            return s;
    }
    ss_unref(m);
    return NULL;
}

/* A fresh SuperSlab that lost the race to become current: park it in the
 * LRU as if it had been retired empty. */
static void park_fresh(void *ss) {
    hk_segmeta *m = arena_segmeta(ss);
    atomic_store_explicit(&m->refs, HK_SS_RETIRED, memory_order_release);
    HKS_GAUGE_SUB(slots_unused, HK_SLABS_PER_SEG);
    HKS_GAUGE_SUB(ss_live, 1);
    lru_push(ss);
}

/* Stage 3: a new current SuperSlab (LRU first, else the arena).  Mapping a
 * new one is a syscall (mprotect, page-table work): it is done outside the
 * lock, and the loser of a race parks its SuperSlab in the LRU. */
static hk_slab *stage3(void) {
    hak_lock_acquire(&sp_lock);
    void *cur = atomic_load_explicit(&current, memory_order_acquire);
    if (cur) {  /* another thread may have installed one meanwhile */
        hk_slab *s = claim_unused(cur);
        if (s) { hak_lock_release(&sp_lock); return s; }
    }
    void *ss = lru_pop();
    if (ss) {
        hk_segmeta *m = arena_segmeta(ss);
        ss_reset_slots(ss);
        atomic_store_explicit(&m->refs, 0, memory_order_relaxed);
        atomic_store_explicit(&m->kind, (uint8_t)HK_SEG_TINY, memory_order_release);
        HKS_GAUGE_ADD(ss_live, 1);
        HKS_GAUGE_ADD(slots_unused, HK_SLABS_PER_SEG);
    } else {
        hak_lock_release(&sp_lock);
        void *fresh = ss_map();
        if (!fresh) return NULL;
        hak_lock_acquire(&sp_lock);
        void *now = atomic_load_explicit(&current, memory_order_acquire);
        if (now != cur && now) {
            hk_slab *s = claim_unused(now);
            if (s) {
                hak_lock_release(&sp_lock);
                park_fresh(fresh);
                return s;
            }
        }
        cur = now;
        ss = fresh;
    }
    hk_slab *s = claim_unused(ss);  /* slot 0; holds a ref from here on */
    atomic_store_explicit(&current, ss, memory_order_release);
    hak_lock_release(&sp_lock);
    /* The old current may be empty now that it is no longer protected. */
    if (cur && cur != ss) {
        hk_segmeta *om = arena_segmeta(cur);
        if (atomic_load_explicit(&om->refs, memory_order_acquire) == 0) sp_retire(om);
    }
    return s;
}

hk_slab *sp_acquire(unsigned cls, uint32_t owner) {
    hk_slab *s;
    unsigned stage = 1;
    uint8_t prev_state = HK_SLOT_EMPTY;
    while ((s = empty_pop(cls)))
        if (claim_empty(s)) goto got;
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        if (c == cls) continue;
        while ((s = empty_pop(c)))
            if (claim_empty(s)) goto got;
    }
    prev_state = HK_SLOT_UNUSED;
    stage = 2;
    void *cur = atomic_load_explicit(&current, memory_order_acquire);
    if (cur && (s = claim_unused(cur))) goto got;
    stage = 3;
    s = stage3();
    if (!s) { errno = ENOMEM; return NULL; }
got:
    slab_activate(s, cls, owner);
    hks_thread *st = hk_tls.st;
    if (st) {
        if (stage == 1) st->box.sp_stage1++;
        else if (stage == 2) st->box.sp_stage2++;
        else st->box.sp_stage3++;
    }
    HKS_GAUGE_ADD(slots_active, 1);
    if (prev_state == HK_SLOT_EMPTY) HKS_GAUGE_SUB(slots_empty, 1);
    else HKS_GAUGE_SUB(slots_unused, 1);
    HK_TP(sp_acquire, cls, stage, arena_slab_addr(s));
    return s;
}

void sp_release(hk_slab *s) {
    unsigned cls = s->cls;
    atomic_store_explicit(&s->owner, 0, memory_order_relaxed);
    s->list = 0;
    s->prev = s->next = NULL;
    atomic_store_explicit(&s->state, HK_SLOT_EMPTY, memory_order_seq_cst);
    HKS_GAUGE_SUB(slots_active, 1);
    HKS_GAUGE_ADD(slots_empty, 1);
    hks_thread *st = hk_tls.st;
    if (st) st->box.sp_release++;
    HK_TP(sp_release, cls, arena_slab_addr(s));
    if (atomic_exchange_explicit(&s->on_list, 1, memory_order_seq_cst) == 0)
        empty_push(cls, s);
    ss_unref(arena_segmeta(arena_slab_addr(s)));
}

void sp_retire(hk_segmeta *m) {
    void *ss = arena_seg_addr((uint32_t)(m - hk_arena.segs));
    hak_lock_acquire(&sp_lock);
    uint32_t zero = 0;
    int retired = atomic_load_explicit(&current, memory_order_acquire) != ss &&
                  atomic_compare_exchange_strong(&m->refs, &zero, HK_SS_RETIRED);
    hak_lock_release(&sp_lock);
    if (!retired) return;
    /* No reference can be taken any more: every slot is EMPTY or UNUSED. */
    unsigned empty = 0;
    for (unsigned i = 0; i < HK_SLABS_PER_SEG; i++)
        if (atomic_load_explicit(&ss_slab(ss, i)->state, memory_order_relaxed) == HK_SLOT_EMPTY) empty++;
    ss_reset_slots(ss);
    HKS_GAUGE_SUB(slots_empty, empty);
    HKS_GAUGE_SUB(slots_unused, HK_SLABS_PER_SEG - empty);
    HKS_GAUGE_SUB(ss_live, 1);
    lru_push(ss);
}

void sp_trim(void) {
    hak_lock_acquire(&sp_lock);
    void *cur = atomic_load_explicit(&current, memory_order_acquire);
    int empty = cur && atomic_load_explicit(&arena_segmeta(cur)->refs, memory_order_acquire) == 0;
    if (empty) atomic_store_explicit(&current, NULL, memory_order_release);
    hak_lock_release(&sp_lock);
    if (empty) sp_retire(arena_segmeta(cur));
}
