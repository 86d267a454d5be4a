/* remote.c - the Remote box (see remote.h). */
#include "remote.h"
#include "slab.h"
#include "stats.h"
#include "tp.h"

static void inbox_push(hk_heap *h, hk_slab *s) {
    hk_slab *old = atomic_load_explicit(&h->inbox, memory_order_relaxed);
    do {
        s->inbox_next = old;
    } while (!atomic_compare_exchange_weak_explicit(&h->inbox, &old, s, memory_order_release,
                                                    memory_order_relaxed));
}

void remote_push(hk_slab *s, void *head, void *tail, unsigned n) {
    uintptr_t old = atomic_load_explicit(&s->remote, memory_order_relaxed);
    do {
        *(void **)tail = (void *)(old & ~HK_REMOTE_NOTIFY);
    } while (!atomic_compare_exchange_weak_explicit(&s->remote, &old, (uintptr_t)head,
                                                    memory_order_release, memory_order_relaxed));
    hks_thread *st = hk_tls.st;
    if (st) st->cls[s->cls].remote_sent += n;
    uint32_t owner = atomic_load_explicit(&s->owner, memory_order_acquire);
    HK_TP(remote_push, slab_base(s), s->cls, n, owner);
    if (!(old & HK_REMOTE_NOTIFY)) return;
    /* We consumed the owner's request to be told. */
    if (owner == 0) {
        hk_tls_t *t = &hk_tls;
        if (t->state == HK_T_LIVE && t->heap) slab_adopt(t->heap, s);
        return;
    }
    hk_heap *h = thread_heap_of(owner);
    if (!h) return;  /* owner gone: it orphaned the slab, or will */
    if (atomic_exchange_explicit(&s->in_inbox, 1, memory_order_acq_rel) == 0) {
        inbox_push(h, s);
        if (st) st->box.inbox_recv++;
    }
}

unsigned remote_inbox_drain(hk_heap *h) {
    if (!atomic_load_explicit(&h->inbox, memory_order_relaxed)) return 0;
    hk_slab *s = atomic_exchange_explicit(&h->inbox, NULL, memory_order_acquire);
    unsigned n = 0;
    while (s) {
        hk_slab *next = s->inbox_next;
        /* Only the owner clears in_inbox: a stale entry (the slab changed
         * hands) is skipped and left alone. */
        if (atomic_load_explicit(&s->owner, memory_order_acquire) == h->id &&
            atomic_load_explicit(&s->state, memory_order_acquire) == HK_SLOT_ACTIVE) {
            atomic_store_explicit(&s->in_inbox, 0, memory_order_release);
            slab_merge_remote(h, s);
            if (s->used == 0) slab_release(h, s);
        }
        n++;
        s = next;
    }
    return n;
}
