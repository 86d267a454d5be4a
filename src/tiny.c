/* tiny.c - the Tiny tier (see tiny.h). */
#include "tiny.h"
#include "config.h"
#include "lru.h"
#include "remote.h"
#include "shared_pool.h"
#include "slab.h"
#include "sll.h"
#include "stats.h"
#include "tp.h"
#include "ultrahot.h"

#include <errno.h>

void tiny_init(void) {
    sp_init();
    lru_init();
    slab_init();
}

void tiny_thread_init(hk_tls_t *t) {
    sll_thread_init(t);
    ultrahot_thread_init(t);
}

HK_INLINE void *sll_pop(hk_tls_t *t, unsigned c) {
    void *p = t->sll_head[c];
    t->sll_head[c] = *(void **)p;
    t->sll_room[c]++;
    return p;
}

void *tiny_tp_ultrahot_hit(unsigned c, void *p) {
    HK_TP(ultrahot_hit, c);
    return p;
}

/* A class with an UltraHot magazine found it empty. */
void *tiny_alloc_uh_miss(unsigned c) {
    hk_tls_t *t = &hk_tls;
    if (t->state != HK_T_LIVE) return tiny_alloc_slow(c);
    hks_class *k = &t->st->cls[c];
    k->uh_misses++;
    HK_TP(ultrahot_miss, c);
    if (t->sll_head[c]) {
        k->sll_hits++;
        return sll_pop(t, c);
    }
    return tiny_alloc_slow(c);
}

void *tiny_alloc_slow(unsigned c) {
    hk_tls_t *t = &hk_tls;
    if (t->state != HK_T_LIVE) {
        thread_ensure();
        if (t->state != HK_T_LIVE) { errno = ENOMEM; return NULL; }
        if (t->sll_head[c]) return sll_pop(t, c);
    }
    hks_class *k = &t->st->cls[c];
    k->sll_misses++;
    if (!sll_refill(t, c)) { errno = ENOMEM; return NULL; }
    return sll_pop(t, c);
}

void tiny_free_slow(void *p, unsigned c) {
    hk_tls_t *t = &hk_tls;
    if (t->state != HK_T_LIVE) {
        thread_ensure();
        if (t->state != HK_T_LIVE) {
            /* our own exit path: hand the block straight to its slab */
            remote_push(arena_slab(p), p, p, 1);
            return;
        }
    }
    uint64_t f = ++t->st->cls[c].frees;
    *(void **)p = t->sll_head[c];
    t->sll_head[c] = p;
    if (--t->sll_room[c] < 0) sll_overflow(t, c);
    if ((f & t->drain_mask) == 0) sll_periodic(t);
}

void tiny_free_periodic(void) {
    hk_tls_t *t = &hk_tls;
    if (t->state == HK_T_LIVE) sll_periodic(t);
}

static void release_kept(hk_heap *h) {
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        hk_slab *s = h->partial[c];
        while (s) {
            hk_slab *next = s->next;
            slab_merge_remote(h, s);
            if (s->used == 0 && !atomic_load_explicit(&s->in_inbox, memory_order_acquire))
                slab_release(h, s);
            s = next;
        }
    }
}

void tiny_thread_exit(hk_tls_t *t, hk_heap *h) {
    ultrahot_flush(t);
    sll_flush(t, 0);
    remote_inbox_drain(h);
    slab_orphan_all(h);
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        sll_set_cap(t, c, 0);
        t->uh[c] = 0;
    }
}

void tiny_thread_abandon(hk_heap *h) {
    remote_inbox_drain(h);
    slab_orphan_all(h);
}

void tiny_flush(void) {
    hk_tls_t *t = &hk_tls;
    if (t->state != HK_T_LIVE) return;
    ultrahot_flush(t);
    sll_flush(t, 0);
    remote_inbox_drain(t->heap);
    release_kept(t->heap);
}

size_t tiny_trim(void) {
    tiny_flush();
    sp_trim();
    return lru_trim();
}
