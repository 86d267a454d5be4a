/* front.h - FrontGate: size -> tier/class, pointer -> owner, and the
 * inline tiny fast paths that every malloc/free of <= 1 KiB takes.
 *
 * malloc fast path: class from a table, UltraHot magazine pop or SLL pop,
 * one counter increment.  free fast path: one range compare (arena), one
 * slab-table load (block size, class), magazine or SLL push, one counter
 * increment.  No lock, no atomic RMW, no syscall, no read of memory that
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

HK_INLINE void *tiny_alloc_fast(unsigned c) {
    hk_tls_t *t = &hk_tls;
    if (t->uh_n[c]) {
        t->st->cls[c].uh_hits++;
        HK_TP(ultrahot_hit, c);
        return t->uh_slot[c][--t->uh_n[c]];
    }
    void *p = t->sll_head[c];
    if (HK_LIKELY(p != NULL)) {
        hks_class *k = &t->st->cls[c];
        if (t->uh_cap[c]) {
            k->uh_misses++;
            HK_TP(ultrahot_miss, c);
        }
        t->sll_head[c] = *(void **)p;
        if (--t->sll_count[c] < t->sll_low[c]) t->sll_low[c] = t->sll_count[c];
        k->sll_hits++;
        return p;
    }
    return tiny_alloc_slow(c);
}

/* The tiny slab of p, or NULL if p is not a tiny block start.  Sets
 * *interior when p points inside a tiny block but not at its start. */
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
    if (t->uh_n[c] < t->uh_cap[c]) {
        t->uh_slot[c][t->uh_n[c]++] = p;
        t->st->cls[c].frees++;
        return 1;
    }
    void *head = t->sll_head[c];
    if (HK_UNLIKELY(p == head)) { front_double_free(p, c); return 1; }
    if (HK_LIKELY(t->sll_count[c] < t->sll_cap[c] && --t->free_tick > 0)) {
        *(void **)p = head;
        t->sll_head[c] = p;
        t->sll_count[c]++;
        t->st->cls[c].frees++;
        return 1;
    }
    tiny_free_slow(p, c);
    return 1;
}

#endif
