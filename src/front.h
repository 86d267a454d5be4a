/* front.h - FrontGate: size -> tier/class, pointer -> owner, and the
 * inline tiny fast paths that every malloc/free of <= 1 KiB takes.
 *
 * malloc fast path: class from a table, SLL pop (or UltraHot magazine pop
 * for the classes that have one), one counter increment.  free fast path:
 * one range compare (arena), one slab-table load (block size, class), SLL
 * (or magazine) push, one counter increment that is also the drain tick.
 * The SLL's fill is kept as `sll_room` (capacity - length): free tests one
 * word.  Counters are reached through `ctr[c]` (one TLS load, no index
 * arithmetic).  No lock, no atomic RMW, no syscall, no read of memory that
 * hakmem does not own.  Anything else goes to the slow paths (tiny.c,
 * api.c).
 */
#ifndef HAKMEM_FRONT_H
#define HAKMEM_FRONT_H

#include "arena.h"
#include "thread.h"
#include "tiny.h"
#include "tp.h"

/* size_class[(size + 7) >> 3] for size <= 1024 */
extern const uint8_t hk_size_class[HK_TINY_MAX / 8 + 1];

HK_INLINE unsigned front_tiny_class(size_t size) {
    return hk_size_class[(size + 7) >> 3];
}

/* Cold continuations of the fast path: each is reached by a tail call, so
 * the fast path itself makes no call and needs no stack frame. */
void *tiny_tp_ultrahot_hit(unsigned c, void *p);

void *tiny_alloc_uh_miss(unsigned c);

/* UltraHot classes (opt-in, HAKMEM_ULTRAHOT_MASK): u = t->uh[c] != 0. */
HK_INLINE void *ultrahot_alloc(hk_tls_t *t, unsigned c, unsigned u) {
    if (u > 1) {                        /* magazine hit */
        void *p = t->uh_slot[c][u - 2];
        t->uh[c] = (uint8_t)(u - 1);
        HK_CTR(t->ctr[c]->uh_hits++);
#ifdef HAKMEM_TRACE
        if (HK_UNLIKELY(HK_TP_ENABLED(ultrahot_hit))) return tiny_tp_ultrahot_hit(c, p);
#endif
        return p;
    }
    return tiny_alloc_uh_miss(c);       /* magazine empty */
}

HK_INLINE void *tiny_alloc_fast(unsigned c) {
    hk_tls_t *t = &hk_tls;
    unsigned u = t->uh[c];
    if (HK_UNLIKELY(u != 0)) return ultrahot_alloc(t, c, u);
    void *p = t->sll_head[c];
    if (HK_UNLIKELY(p == NULL)) return tiny_alloc_slow(c);
    t->sll_head[c] = *(void **)p;
    t->sll_room[c]++;
    HK_CTR(t->ctr[c]->sll_hits++);
    return p;
}

/* The tiny slab of p, or NULL if p is not a tiny block start (an interior
 * pointer also gets NULL; api.c's classify tells the two apart). */
HK_INLINE hk_slab *front_tiny_slab(const void *p) {
    if (!arena_owns(p)) return NULL;
    hk_slab *s = arena_slab(p);
    unsigned bs = s->block_size;
    if (!bs || ((uintptr_t)p & (bs - 1))) return NULL;
    return s;
}

void front_double_free(void *p, unsigned c);

/* 1 = freed, 0 = not a tiny block (caller classifies). */
HK_INLINE int tiny_free_fast(void *p) {
    hk_slab *s = front_tiny_slab(p);
    if (!s) return 0;
    unsigned c = s->cls;
    hk_tls_t *t = &hk_tls;
    unsigned u = t->uh[c];
    if (HK_UNLIKELY(u != 0) && u <= HK_UH_SLOTS) {  /* a magazine with room */
        if (HK_UNLIKELY(u > 1 && t->uh_slot[c][u - 2] == p)) { front_double_free(p, c); return 1; }
        t->uh_slot[c][u - 1] = p;
        t->uh[c] = (uint8_t)(u + 1);
        HK_CTR(t->ctr[c]->frees++);
        return 1;
    }
    void *head = t->sll_head[c];
    if (HK_UNLIKELY(p == head)) { front_double_free(p, c); return 1; }
    int32_t room = t->sll_room[c];
    if (HK_LIKELY(room > 0)) {
        *(void **)p = head;
        t->sll_head[c] = p;
        t->sll_room[c] = room - 1;
#ifdef HAKMEM_NO_COUNTERS
        if (HK_UNLIKELY((++t->free_tick & t->drain_mask) == 0)) tiny_free_periodic();
#else
        if (HK_UNLIKELY((++t->ctr[c]->frees & t->drain_mask) == 0)) tiny_free_periodic();
#endif
        return 1;
    }
    tiny_free_slow(p, c);
    return 1;
}

#endif
