/* sll.c - the TLS SLL box (see sll.h). */
#include "sll.h"
#include "config.h"
#include "remote.h"
#include "shared_pool.h"
#include "slab.h"
#include "stats.h"
#include "tp.h"

#include <errno.h>

#define SLL_CAP_START 64u
#define REMOTE_BATCH  8

static uint32_t clamp_cap(uint32_t v) {
    if (v < hk_cfg.sll_cap_min) v = hk_cfg.sll_cap_min;
    if (v > hk_cfg.sll_cap_max) v = hk_cfg.sll_cap_max;
    return v;
}

void sll_thread_init(hk_tls_t *t) {
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        t->sll_head[c] = NULL;
        sll_set_count(t, c, 0);
        sll_set_cap(t, c, clamp_cap(SLL_CAP_START));
        t->sll_misses[c] = 0;
        if (t->st) t->st->cls[c].sll_cap = t->sll_cap[c];
    }
}

unsigned sll_refill(hk_tls_t *t, unsigned c) {
    hk_heap *h = t->heap;
    t->sll_busy[c] = 1;
    if (++t->sll_misses[c] >= 2 && t->sll_cap[c] < hk_cfg.sll_cap_max) {
        sll_set_cap(t, c, clamp_cap(t->sll_cap[c] * 2));
        t->sll_misses[c] = 0;
        t->st->cls[c].sll_cap = t->sll_cap[c];
    }
    unsigned want = t->sll_cap[c] / 2;
    if (want < 8) want = 8;
    hk_slab *s = h->partial[c];
    if (!s) {
        remote_inbox_drain(h);
        s = h->partial[c];
    }
    if (!s) s = slab_adopt_orphan(h, c);
    if (!s) {
        s = sp_acquire(c, h->id);
        if (!s) return 0;
        slab_list_add(h, s, HK_LIST_PARTIAL);
    }
    void *chain;
    unsigned n = slab_take(s, want, &chain);
    if (n == 0) {
        /* listed partial but exhausted: pending remote frees, or a bug */
        if (slab_merge_remote(h, s)) n = slab_take(s, want, &chain);
        if (n == 0) {
            slab_after_take(h, s);
            return sll_refill(t, c);
        }
    }
    slab_after_take(h, s);
    t->sll_head[c] = chain;
    sll_set_count(t, c, n);
    hks_class *k = &t->st->cls[c];
    k->refills++;
    k->refill_blocks += n;
    HK_TP(sll_refill, c, n, t->sll_cap[c]);
    return n;
}

/* Per-drain batches of remote blocks, one chain per destination slab. */
typedef struct rbatch {
    hk_slab *slab[REMOTE_BATCH];
    void    *head[REMOTE_BATCH], *tail[REMOTE_BATCH];
    unsigned n[REMOTE_BATCH];
    unsigned used;
    unsigned last;           /* entry hit last: blocks come in runs */
} rbatch;

static void rbatch_flush_one(rbatch *b, unsigned i) {
    remote_push(b->slab[i], b->head[i], b->tail[i], b->n[i]);
}

static void rbatch_add(rbatch *b, hk_slab *s, void *p) {
    unsigned l = b->last;
    if (l < b->used && b->slab[l] == s) {
        *(void **)b->tail[l] = p;
        b->tail[l] = p;
        b->n[l]++;
        return;
    }
    for (unsigned i = 0; i < b->used; i++) {
        if (b->slab[i] == s) {
            *(void **)b->tail[i] = p;
            b->tail[i] = p;
            b->n[i]++;
            b->last = i;
            return;
        }
    }
    unsigned i = b->used;
    if (i == REMOTE_BATCH) {   /* full: send the oldest, reuse its entry */
        rbatch_flush_one(b, 0);
        i = 0;
    } else {
        b->used++;
    }
    b->slab[i] = s;
    b->head[i] = b->tail[i] = p;
    b->n[i] = 1;
    b->last = i;
}

static void rbatch_flush(rbatch *b) {
    for (unsigned i = 0; i < b->used; i++) rbatch_flush_one(b, i);
    b->used = 0;
}

/* Give the chain p (n blocks, NULL-terminated or cut by count) back. */
static void give_back(hk_tls_t *t, void *p, unsigned n, int keep_one) {
    hk_heap *h = t->heap;
    uint32_t me = h->id;
    rbatch b;
    b.used = 0;
    b.last = 0;
    while (n-- && p) {
        void *next = *(void **)p;
        hk_slab *s = arena_slab(p);
        uint32_t owner = atomic_load_explicit(&s->owner, memory_order_relaxed);
        if (owner == me || (owner == 0 && slab_adopt(h, s))) slab_put(h, s, p, keep_one);
        else rbatch_add(&b, s, p);
        p = next;
    }
    rbatch_flush(&b);
}

static void count_drain(hk_tls_t *t, unsigned c, unsigned n, unsigned reason) {
    hks_class *k = &t->st->cls[c];
    k->drains++;
    k->drain_blocks += n;
    HK_TP(sll_drain, c, n, reason);
}

void sll_overflow(hk_tls_t *t, unsigned c) {
    /* Overflow does not grow the list: a thread that frees more than it
     * allocates would otherwise cache up to HAKMEM_SLL_CAP_MAX blocks from
     * as many slabs and keep them all from emptying (measured: 600 slabs
     * pinned by one adopter after 100,000 visitor threads).  Only misses
     * grow it. */
    t->sll_busy[c] = 1;
    /* Give back the OLDEST half (the deep end) and keep the newest, which
     * are hot in cache.  Draining the newest instead left the deep blocks
     * parked forever in a thread that frees more than it allocates, each
     * pinning its slab: slabs of exited threads piled up (soak). */
    unsigned n = sll_count_of(t, c) / 2;
    if (n == 0) return;
    unsigned keep = sll_count_of(t, c) - n;
    void *q = t->sll_head[c];
    for (unsigned i = 1; i < keep; i++) q = *(void **)q;
    void *old = *(void **)q;
    *(void **)q = NULL;
    sll_set_count(t, c, keep);
    give_back(t, old, n, 1);
    count_drain(t, c, n, HK_DRAIN_OVERFLOW);
}

void sll_periodic(hk_tls_t *t) {
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        /* Which blocks are cold, judged without any bookkeeping on the
         * malloc fast path: a class that served no allocation in the whole
         * interval gives back its whole list; one that lived off its list
         * (no refill, no overflow drain) gives back the deeper half;
         * a busy one keeps everything. */
        hks_class *k = &t->st->cls[c];
        uint64_t hits = k->sll_hits + k->uh_hits;
#ifdef HAKMEM_NO_COUNTERS
        int idle = 0;   /* no per-malloc counts to judge by */
        (void)hits;
#else
        int idle = hits == t->heap->period_hits[c];
#endif
        t->heap->period_hits[c] = hits;
        unsigned cold = t->sll_busy[c] ? 0 : idle ? sll_count_of(t, c) : (sll_count_of(t, c) + 1) / 2;
        if (cold) {
            /* the coldest blocks are the deepest: keep the top count-cold */
            unsigned keep = sll_count_of(t, c) - cold;
            void *rest;
            if (keep == 0) {
                rest = t->sll_head[c];
                t->sll_head[c] = NULL;
            } else {
                void *q = t->sll_head[c];
                for (unsigned i = 1; i < keep; i++) q = *(void **)q;
                rest = *(void **)q;
                *(void **)q = NULL;
            }
            sll_set_count(t, c, keep);
            give_back(t, rest, cold, 1);
            count_drain(t, c, cold, HK_DRAIN_PERIODIC);
            if (cold * 2 >= t->sll_cap[c] && !t->sll_busy[c]) {
                sll_set_cap(t, c, clamp_cap(t->sll_cap[c] / 2));
                t->st->cls[c].sll_cap = t->sll_cap[c];
            }
        }
        t->sll_misses[c] = 0;
        t->sll_busy[c] = 0;
        if (t->heap->partial[c]) slab_collect(t->heap, c, 64);
    }
    remote_inbox_drain(t->heap);
}

void sll_flush(hk_tls_t *t, int keep_one) {
    for (unsigned c = 0; c < HK_TINY_CLASSES; c++) {
        unsigned n = sll_count_of(t, c);
        if (!n) continue;
        void *p = t->sll_head[c];
        t->sll_head[c] = NULL;
        sll_set_count(t, c, 0);
        give_back(t, p, n, keep_one);
        count_drain(t, c, n, HK_DRAIN_FLUSH);
    }
}
